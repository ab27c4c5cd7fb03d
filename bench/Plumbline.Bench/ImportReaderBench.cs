using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Plumbline.Core.Import;

namespace Plumbline.Bench;

/// <summary>
/// Import reader throughput: writes a JSONL file of small OpenAI-chat records to a temp folder, then reads it
/// with <see cref="ImportReader"/> on one thread, reporting records per second and peak working set.
/// Usage: <c>[records (default 1000000)] [--keep]</c>.
/// </summary>
public static class ImportReaderBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        int count = args.Length > 0 && int.TryParse(args[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : 1_000_000;
        bool keep = args.Contains("--keep");
        var path = Path.Combine(Path.GetTempPath(), $"plumbline-import-bench-{count}.jsonl");
        try
        {
            long bytes = Generate(path, count);
            Console.WriteLine($"file: {path}, {count:N0} records, {bytes / 1_048_576.0:0.0} MB ({bytes / (double)count:0} bytes/record)");

            // A short warm-up so the timed run measures steady-state code, not the JIT.
            await ReadAsync(path, 20_000);
            GC.Collect();
            using var process = Process.GetCurrentProcess();
            process.Refresh();
            long startWorkingSet = process.WorkingSet64;

            var cpuBefore = process.TotalProcessorTime;
            long allocatedBefore = GC.GetTotalAllocatedBytes();
            int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
            var watch = Stopwatch.StartNew();
            var (records, errors, maxWorkingSet) = await ReadAsync(path, int.MaxValue);
            watch.Stop();
            process.Refresh();
            double cpu = (process.TotalProcessorTime - cpuBefore).TotalSeconds;
            long allocated = GC.GetTotalAllocatedBytes() - allocatedBefore;

            double seconds = watch.Elapsed.TotalSeconds;
            Console.WriteLine($"read: {records:N0} records, {errors:N0} errors in {seconds:0.00} s = {records / seconds:N0} records/s, {bytes / 1_048_576.0 / seconds:0.0} MB/s");
            // CPU time includes the GC's background work; on a busy shared machine it is the steadier figure.
            Console.WriteLine($"cpu: {cpu:0.00} s = {records / cpu:N0} records per CPU-second");
            Console.WriteLine($"working set: {startWorkingSet / 1_048_576.0:0} MB before, max {maxWorkingSet / 1_048_576.0:0} MB while reading, peak {process.PeakWorkingSet64 / 1_048_576.0:0} MB for the process");
            Console.WriteLine($"allocated: {allocated / (double)records:0} bytes/record; gen0/1/2 collections {GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}");
            return records == count && errors == 0 ? 0 : 1;
        }
        finally
        {
            if (!keep)
            {
                File.Delete(path);
            }
        }
    }

    private static async Task<(long Records, long Errors, long MaxWorkingSet)> ReadAsync(string path, int limit)
    {
        // bufferSize 1: the reader does its own buffering, a second buffer would only copy.
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        long records = 0;
        long errors = 0;
        long maxWorkingSet = 0;
        await foreach (var entry in ImportReader.ReadAsync(file, ImportFormat.Auto, new ImportOptions { FileName = path }))
        {
            if (entry.Record is not null)
            {
                records++;
            }
            else
            {
                errors++;
            }

            if ((records + errors) % 100_000 == 0)
            {
                maxWorkingSet = Math.Max(maxWorkingSet, Environment.WorkingSet);
            }

            if (records + errors >= limit)
            {
                break;
            }
        }

        return (records, errors, Math.Max(maxWorkingSet, Environment.WorkingSet));
    }

    /// <summary>About 300-byte records: a system, user and assistant message plus a little metadata, no id.</summary>
    private static long Generate(string path, int count)
    {
        string[] topics = ["rivers", "prime numbers", "bread", "tides", "compilers", "volcanoes", "chess", "bees"];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        using var writer = new Utf8JsonWriter(file);
        var random = new Random(42);
        for (int i = 0; i < count; i++)
        {
            var topic = topics[random.Next(topics.Length)];
            writer.WriteStartObject();
            writer.WriteStartArray("messages");
            WriteMessage(writer, "system", "You are a concise, friendly tutor.");
            WriteMessage(writer, "user", $"Question {i}: can you explain {topic} to me in two sentences?");
            WriteMessage(writer, "assistant", $"Sure. A short note on {topic}, #{random.Next(1_000_000)}: simpler than it looks.");
            writer.WriteEndArray();
            writer.WriteStartObject("metadata");
            writer.WriteString("topic", topic);
            writer.WriteNumber("n", i);
            writer.WriteEndObject();
            writer.WriteEndObject();
            writer.Flush();
            file.WriteByte((byte)'\n');
            writer.Reset();
        }

        return file.Length;
    }

    private static void WriteMessage(Utf8JsonWriter writer, string role, string content)
    {
        writer.WriteStartObject();
        writer.WriteString("role", role);
        writer.WriteString("content", content);
        writer.WriteEndObject();
    }
}
