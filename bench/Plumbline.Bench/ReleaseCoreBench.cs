using System.Diagnostics;
using System.Text.Json.Nodes;
using Plumbline.Core.Releases;
using Plumbline.Core.Schema;

namespace Plumbline.Bench;

/// <summary>The release pipeline without a database: parse, consensus, write, on generated pairwise items; CPU per stage.</summary>
public static class ReleaseCoreBench
{
    public static Task<int> RunAsync(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 200_000;
        var schema = Templates.Get("pairwise")!;
        // Fields as the server reads them from SQLite: UTF-8 bytes.
        var rows = Enumerable.Range(0, count).Select(i => ReleaseBench.GenerateForCore(i))
            .Select(r => (Fields: System.Text.Encoding.UTF8.GetBytes(r.Fields), r.Answers)).ToList();
        var methods = new Dictionary<string, string>();
        var splits = new SplitAssigner(1, 0.05, 0.05);
        var pseudonyms = new Pseudonymizer([1, 2, 3]);
        for (var round = 0; round < 2; round++)
        {
            var parse = new Stopwatch();
            var consensus = new Stopwatch();
            var write = new Stopwatch();
            long parseBytes = 0, consensusBytes = 0, writeBytes = 0;
            using var builder = new ReleaseBuilder(schema, ["trl-preference"], methods, true, _ => Stream.Null);
            var total = Stopwatch.StartNew();
            // Process CPU time (GC threads included): on the shared machine the stage stopwatches measure the load as much as the code.
            var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            for (var i = 0; i < rows.Count; i++)
            {
                var mark = GC.GetAllocatedBytesForCurrentThread();
                parse.Start();
                var answers = new List<ReleaseAnswer>(3);
                for (var a = 0; a < 3; a++)
                {
                    answers.Add(new ReleaseAnswer(i * 3 + a, pseudonyms.Of(1001 + a), 1, rows[i].Answers[a]));
                }
                var item = new ReleaseItem
                {
                    ItemId = i, ExternalId = "item-" + i, FieldsUtf8 = rows[i].Fields, MetadataUtf8 = "{}"u8.ToArray(), Answers = answers, Split = splits.Of("item-" + i),
                };
                _ = item.FieldsElement;
                parse.Stop();
                parseBytes += GC.GetAllocatedBytesForCurrentThread() - mark;
                mark = GC.GetAllocatedBytesForCurrentThread();
                consensus.Start();
                item.Consensus = ReleaseBuilder.Consensus(schema, methods, item.FieldsElement, answers);
                consensus.Stop();
                consensusBytes += GC.GetAllocatedBytesForCurrentThread() - mark;
                mark = GC.GetAllocatedBytesForCurrentThread();
                write.Start();
                builder.Add(item);
                item.Dispose();
                write.Stop();
                writeBytes += GC.GetAllocatedBytesForCurrentThread() - mark;
            }
            var complete = Stopwatch.StartNew();
            builder.Complete(new ReleaseManifest());
            var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            Console.WriteLine($"{count:N0} items: total {total.Elapsed.TotalMilliseconds / count * 1000:0.0} µs/item; parse {parse.Elapsed.TotalMilliseconds / count * 1000:0.0}, "
                + $"consensus {consensus.Elapsed.TotalMilliseconds / count * 1000:0.0}, write {write.Elapsed.TotalMilliseconds / count * 1000:0.0}, complete {complete.Elapsed.TotalMilliseconds:0} ms; "
                + $"process CPU {cpu.TotalMilliseconds / count * 1000:0.0} µs/item; allocated {allocated / count:N0} B/item (parse {parseBytes / count:N0}, consensus {consensusBytes / count:N0}, write {writeBytes / count:N0})");
        }
        return Task.FromResult(0);
    }
}
