using System.Diagnostics;
using System.Globalization;
using System.Text;
using Plumbline.Core.Preparation;

namespace Plumbline.Bench;

/// <summary>
/// Throughput and memory of the preparation step: N synthetic records of about 1 KB (a prompt and a response) with
/// every rule on, English declared. The mix: 10% with private information, 5% exact duplicates, 5% near-duplicates,
/// 3% mojibake, 10% with Windows line endings and trailing spaces. Records are generated in batches outside the timed
/// section; only preparation (Analyze on all cores, Decide in order) and <see cref="PreparationReport.Add"/> are timed.
/// </summary>
public static class PreparationBench
{
    private const int BatchSize = 10_000;

    // Common English words so that the language check sees English; a few accented ones exercise NFC and mojibake.
    private static readonly string[] Words = (
        "the of and to in is was for on that with as by at from it this be are have not or an they which you had his her " +
        "their we there been one all were when can more would about so what up out if into time has some could them other " +
        "than then now only its over also new after first two way well even because any these give day most us people year " +
        "work government world life school system program question number night point home water room mother area money story " +
        "fact month lot right study book eye job word business issue side kind head house service friend father power hour game " +
        "line end member law car city community name president team minute idea kid body information back parent face others " +
        "level office door health person art war history party result change morning reason research girl guy moment air " +
        "teacher force education model answer explain write summary review data training label quality policy value " +
        "café naïve résumé façade déjà jalapeño über").Split(' ');

    /// <summary>Runs the benchmark; the first number is the record count (default 1,000,000); "--sequential" uses one thread.</summary>
    public static Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        // The first numeric argument is the count, so both "prep 1000" and "1000" work.
        var n = 1_000_000;
        foreach (var arg in args)
        {
            if (int.TryParse(arg, NumberStyles.Integer, CultureInfo.InvariantCulture, out var parsed))
            {
                n = parsed;
                break;
            }
        }

        var sequential = args.Contains("--sequential");
        var options = new PreparationOptions { DeclaredLanguage = "en" };
        var preparer = new Preparer(options);
        var report = new PreparationReport();
        var batch = new (string Id, (string Path, string Text)[] Texts)[BatchSize];
        var analyses = new RecordAnalysis[BatchSize];
        long bytes = 0;

        Console.WriteLine($"Preparation benchmark: {n:N0} records, all rules on (LSH {preparer.Lsh.Bands}×{preparer.Lsh.Rows}, declared 'en')");
        var timer = new Stopwatch();
        using var self = Process.GetCurrentProcess();
        var cpu = TimeSpan.Zero;
        for (var start = 0; start < n; start += BatchSize)
        {
            var count = Math.Min(BatchSize, n - start);
            for (var i = 0; i < count; i++)
            {
                var texts = Generate(start + i);
                batch[i] = ($"rec-{start + i}", texts);
                bytes += texts.Sum(t => (long)t.Text.Length);
            }

            self.Refresh();
            var cpuBefore = self.TotalProcessorTime;
            timer.Start();
            if (sequential)
            {
                for (var i = 0; i < count; i++)
                {
                    report.Add(preparer.Prepare(batch[i].Id, batch[i].Texts));
                }
            }
            else
            {
                // How an import uses both cores: analyse in parallel, decide in arrival order.
                Parallel.For(0, count, i => analyses[i] = preparer.Analyze(batch[i].Id, batch[i].Texts));
                for (var i = 0; i < count; i++)
                {
                    report.Add(preparer.Decide(analyses[i]));
                }
            }

            timer.Stop();
            self.Refresh();
            cpu += self.TotalProcessorTime - cpuBefore;
        }

        Array.Clear(batch);
        Array.Clear(analyses);
        var seconds = timer.Elapsed.TotalSeconds;
        var managed = GC.GetTotalMemory(forceFullCollection: true);
        self.Refresh();
        Console.WriteLine($"  characters per record (mean): {bytes / (double)n:N0}");
        Console.WriteLine($"  prepare time: {seconds:N2} s → {n / seconds:N0} records/s ({seconds * 1e6 / n:N1} µs per record, {(sequential ? "one thread" : $"Analyze on {Environment.ProcessorCount} cores")})");
        // CPU time is what the machine spent, whatever else ran on it; on an idle machine records/s ≈ cores / CPU per record.
        Console.WriteLine($"  CPU time: {cpu.TotalSeconds:N2} s ({cpu.TotalMilliseconds * 1000 / n:N1} µs per record, all threads incl. GC)");
        Console.WriteLine($"  kept {report.Kept:N0}, dropped {report.Dropped:N0}, changed {report.Changed:N0}, duplicate clusters {report.DuplicateClusters.Count:N0}");
        foreach (var (rule, c) in report.RuleCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Console.WriteLine($"    {rule,-22} {c,10:N0}");
        }

        Console.WriteLine($"  managed heap after run (index + report): {managed / 1048576.0:N0} MiB ({managed / (double)n:N0} bytes per record)");
        GC.KeepAlive(preparer);
        Console.WriteLine($"  peak working set: {self.PeakWorkingSet64 / 1048576.0:N0} MiB");
        return Task.FromResult(0);
    }

    private static (string Path, string Text)[] Generate(int index)
    {
        var kind = Mix(index) % 100;
        if (index > 100 && kind < 5)
        {
            // Exact duplicate of an earlier record.
            return Base(Earlier(index));
        }

        if (index > 100 && kind < 10)
        {
            // Near-duplicate: an earlier record with one sentence dropped and two swapped.
            var original = Base(Earlier(index));
            var sentences = original[1].Text.Split(". ").ToList();
            sentences.RemoveAt((int)(Mix(index + 7) % (ulong)sentences.Count));
            var a = (int)(Mix(index + 3) % (ulong)sentences.Count);
            (sentences[0], sentences[a]) = (sentences[a], sentences[0]);
            return [original[0], ("response", string.Join(". ", sentences))];
        }

        var texts = Base(index);
        if (kind < 20)
        {
            texts[1].Text = Pii(index) + texts[1].Text;
        }
        else if (kind < 23)
        {
            texts[1].Text = Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(texts[1].Text + " — “déjà vu” café"));
        }
        else if (kind < 33)
        {
            texts[0].Text = texts[0].Text.Replace(". ", ".  \r\n", StringComparison.Ordinal);
        }

        return texts;
    }

    private static int Earlier(int index) => (int)(Mix(index + 1) % (ulong)(index - 1));

    private static (string Path, string Text)[] Base(int seed) =>
        [("prompt", Sentences(seed * 2 + 1, 200)), ("response", Sentences(seed * 2 + 2, 800))];

    private static string Sentences(int seed, int length)
    {
        var sb = new StringBuilder(length + 100);
        var state = (ulong)seed * 0x9E3779B97F4A7C15;
        var inSentence = 0;
        while (sb.Length < length)
        {
            state = Mix(state);
            var word = Words[state % (ulong)Words.Length];
            if (inSentence == 0)
            {
                sb.Append(char.ToUpperInvariant(word[0])).Append(word, 1, word.Length - 1);
            }
            else
            {
                sb.Append(word);
            }

            inSentence++;
            if (inSentence > 8 + (int)(state >> 60))
            {
                sb.Append(". ");
                inSentence = 0;
            }
            else
            {
                sb.Append(' ');
            }
        }

        return sb.Append("end.").ToString();
    }

    private static string Pii(int index) => (index / 100 % 7) switch
    {
        0 => $"Contact me at user{index}@example.com please. ",
        1 => $"My number is +1 415 555 {1000 + index % 9000}. ",
        2 => "Card 4111 1111 1111 1111 exp 12/26. ",
        3 => "Send it to DE89 3704 0044 0532 0130 00 today. ",
        4 => $"The server 10.0.{index % 250}.{index % 200 + 1} is down. ",
        5 => "My SSN is 536-22-1234 for the form. ",
        _ => "Use key AKIAIOSFODNN7EXAMPLE and token ghp_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q8R here. ",
    };

    private static ulong Mix(int x) => Mix((ulong)x);

    private static ulong Mix(ulong h)
    {
        h += 0x9E3779B97F4A7C15;
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EB;
        return h ^ (h >> 31);
    }
}
