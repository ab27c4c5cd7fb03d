using System.Diagnostics;
using System.Globalization;
using Plumbline.Core.Quality;

namespace Plumbline.Bench;

/// <summary>
/// Times the quality algorithms against the reference figures of issue 5, on the shapes those figures were taken on:
/// <list type="bullet">
/// <item>crowd-kit's Dawid–Skene (2.5 s) and fast-krippendorff's alpha (0.39 s) on 98,453 labels, 20,232 items,
/// 766 workers, 4 classes, Dawid–Skene held at exactly 100 EM iterations;</item>
/// <item>FastChat's 1,000 bootstrap rounds of Bradley–Terry (4.6 s) on the 8,931 LLMFAO crowd votes;</item>
/// <item>Dawid–Skene on 10,000,000 labels (target under 10 s, memory proportional to the labels).</item>
/// </list>
/// The label sets are generated (seeded) with the same counts: each item gets ⌊n/items⌋ or one more distinct workers,
/// workers are picked with a Zipf-like activity (a few do most of the work, as on a real crowd), and each worker has an
/// accuracy uniform in [0.40, 0.95] and otherwise picks a wrong class uniformly. Plain Stopwatch: the median of several
/// runs after a warm-up, with the process CPU time per run beside it (on a loaded machine the wall time inflates, CPU
/// time much less), and the load average at the start of each figure.
/// </summary>
public static class QualityBench
{
    /// <summary>
    /// Runs the benchmark. Options: <c>--runs N</c> (timed runs per figure, default 5), <c>--big N</c> (labels of the
    /// large Dawid–Skene run, default 10,000,000; 0 skips it), <c>--data DIR</c> (the shared data folder holding
    /// llmfao/crowd-comparisons.csv; found next to the repository by default).
    /// </summary>
    public static Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var runs = IntOption(args, "--runs", 5);
        var big = IntOption(args, "--big", 10_000_000);
        var dataFolder = Option(args, "--data") ?? FindSharedData();

        Console.WriteLine($"quality benchmark, median of {runs} runs after a warm-up; {Environment.ProcessorCount} cores");
        Console.WriteLine();

        // 1. The crowd-kit / fast-krippendorff shape.
        var (ratings, truth) = Generate(labels: 98_453, items: 20_232, workers: 766, classes: 4, seed: 1);
        Console.WriteLine($"[crowd-kit shape] {ratings.Length:N0} labels, {truth.Length:N0} items, 766 workers, 4 classes");
        var fixed100 = new TruthInferenceOptions { MaxIterations = 100, Tolerance = double.NegativeInfinity };
        var ds = Time("Dawid-Skene, 100 iterations", runs, () => TruthInference.DawidSkene(ratings, 4, fixed100));
        Console.WriteLine($"    {ds.Iterations} EM iterations, accuracy {Accuracy(ds.Labels, truth):F4}  (crowd-kit: 2.5 s; target ≤ 250 ms)");
        var alpha = Time("Krippendorff alpha, nominal", runs, () => Agreement.KrippendorffAlpha(ratings, MeasurementLevel.Nominal));
        Console.WriteLine($"    alpha {alpha:F4}  (fast-krippendorff: 0.39 s; target ≤ 39 ms)");
        Time("Fleiss kappa", runs, () => Agreement.FleissKappa(ratings));
        var vote = Time("Majority vote", runs, () => TruthInference.MajorityVote(ratings, 4));
        Console.WriteLine($"    accuracy {Accuracy(vote.Labels, truth):F4}");
        foreach (var (name, method) in new (string, Func<TruthInferenceResult>)[]
        {
            ("Dawid-Skene, to tolerance 1e-5", () => TruthInference.DawidSkene(ratings, 4)),
            ("GLAD, to tolerance 1e-5", () => TruthInference.Glad(ratings, 4)),
            ("MACE, to tolerance 1e-5", () => TruthInference.Mace(ratings, 4)),
        })
        {
            var result = Time(name, runs, method);
            Console.WriteLine($"    {result.Iterations} EM iterations, accuracy {Accuracy(result.Labels, truth):F4}");
        }
        Console.WriteLine();

        // 2. Bradley–Terry bootstrap on the real LLMFAO votes.
        var (comparisons, models) = LoadLlmfao(Path.Combine(dataFolder, "llmfao", "crowd-comparisons.csv"));
        Console.WriteLine($"[LLMFAO] {comparisons.Length:N0} votes over {models} models");
        var scores = Time("Bradley-Terry, 1,000 bootstrap rounds", runs, () => BradleyTerry.Bootstrap(comparisons, models, 1_000, seed: 42));
        var top = scores.OrderBy(s => s.Rank).First();
        Console.WriteLine($"    top model #{top.Model}: score {top.Score:F4}, 95% interval [{top.Lower:F4}, {top.Upper:F4}]  (FastChat: 4.6 s; target ≤ 460 ms)");
        Time("Bradley-Terry, point fit", runs, () => BradleyTerry.Fit(comparisons, models));
        // The project leaderboard's computation on the same votes: the bootstrap above, the win-rate matrix, and a
        // breakdown by prompt (LLMFAO's 'prompt' column as the category; the 30 largest are fitted, as the API does).
        var leaderboard = new LeaderboardBuilder();
        foreach (var f in File.ReadLines(Path.Combine(dataFolder, "llmfao", "crowd-comparisons.csv")).Skip(1).Select(l => l.Split(',')))
        {
            leaderboard.Add(f[6], f[7], f[5] switch { "left" => PairOutcome.LeftWins, "right" => PairOutcome.RightWins, _ => PairOutcome.Tie }, "prompt " + f[1]);
        }
        var board = Time("Leaderboard (1,000 rounds; 13 prompt categories, 100 rounds each)", runs, () => leaderboard.Build(new LeaderboardOptions(1_000, 42)));
        Console.WriteLine($"    {board.Models.Count} models, {board.Categories.Count} categories fitted, {board.CategoriesOmitted} omitted");
        Console.WriteLine();

        // 3. Dawid–Skene at 10 million labels, same labels per item and per worker as the crowd-kit shape.
        if (big > 0)
        {
            var scale = big / 98_453.0;
            var bigItems = (int)Math.Round(20_232 * scale);
            var bigWorkers = (int)Math.Round(766 * scale);
            ratings = [];
            truth = [];
            GC.Collect();
            var (bigRatings, bigTruth) = Generate(big, bigItems, bigWorkers, classes: 4, seed: 2);
            GC.Collect();
            var before = GC.GetTotalMemory(forceFullCollection: true);
            Console.WriteLine($"[large] {bigRatings.Length:N0} labels, {bigItems:N0} items, {bigWorkers:N0} workers, 4 classes; input {bigRatings.Length * 16L / 1e6:F0} MB (16 bytes per label); items × workers would be {(double)bigItems * bigWorkers:E1} cells");
            foreach (var (name, options) in new (string, TruthInferenceOptions)[]
            {
                ("Dawid-Skene, to tolerance 1e-5", TruthInferenceOptions.Default),
                ("Dawid-Skene, 100 iterations", fixed100),
            })
            {
                var load = LoadAverage();
                var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
                using var self = Process.GetCurrentProcess();
                var cpu = self.TotalProcessorTime;
                var watch = Stopwatch.StartNew();
                var result = TruthInference.DawidSkene(bigRatings, 4, options);
                var wall = watch.Elapsed;
                self.Refresh();
                var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                Console.WriteLine($"  {name,-38} {wall.TotalSeconds,8:F2} s wall {(self.TotalProcessorTime - cpu).TotalSeconds,8:F2} s CPU   load {load}");
                Console.WriteLine($"    {result.Iterations} EM iterations, accuracy {Accuracy(result.Labels, bigTruth):F4}; allocated {allocated / 1e6:F0} MB = {allocated / (double)bigRatings.Length:F1} bytes per label; process peak working set {self.PeakWorkingSet64 / 1e6:F0} MB (input and generator {before / 1e6:F0} MB of it)");
                GC.KeepAlive(result);
            }
        }
        return Task.FromResult(0);
    }

    private static T Time<T>(string name, int runs, Func<T> action)
    {
        var load = LoadAverage();
        var result = action(); // warm-up: JIT and tiered compilation
        var wall = new double[runs];
        var cpu = new double[runs];
        using var self = Process.GetCurrentProcess();
        for (var i = 0; i < runs; i++)
        {
            self.Refresh();
            var cpuBefore = self.TotalProcessorTime;
            var watch = Stopwatch.StartNew();
            result = action();
            wall[i] = watch.Elapsed.TotalMilliseconds;
            self.Refresh();
            cpu[i] = (self.TotalProcessorTime - cpuBefore).TotalMilliseconds;
        }
        Array.Sort(wall);
        Array.Sort(cpu);
        Console.WriteLine($"  {name,-38} {wall[runs / 2],9:F1} ms wall {cpu[runs / 2],9:F1} ms CPU   load {load}");
        return result;
    }

    private static double Accuracy(int[] labels, int[] truth) => labels.Zip(truth).Count(p => p.First == p.Second) / (double)truth.Length;

    /// <summary>
    /// Exactly <paramref name="labels"/> labels over <paramref name="items"/> items: each item gets ⌊labels/items⌋ or one
    /// more distinct workers. Worker j is picked with weight 1/(j+10)^0.9: a long tail, as in real crowds.
    /// </summary>
    private static (Rating[] Ratings, int[] Truth) Generate(int labels, int items, int workers, int classes, int seed)
    {
        var random = new Random(seed);
        var accuracy = new double[workers];
        var cumulative = new double[workers];
        double total = 0;
        for (var j = 0; j < workers; j++)
        {
            accuracy[j] = 0.4 + (0.55 * random.NextDouble());
            total += 1 / Math.Pow(j + 10, 0.9);
            cumulative[j] = total;
        }
        var truth = new int[items];
        var ratings = new Rating[labels];
        var perItem = labels / items;
        var extra = labels % items;
        Span<int> chosen = stackalloc int[perItem + 1];
        var next = 0;
        for (var i = 0; i < items; i++)
        {
            truth[i] = random.Next(classes);
            var count = perItem + (i < extra ? 1 : 0);
            for (var a = 0; a < count; a++)
            {
                int j;
                do
                {
                    var index = Array.BinarySearch(cumulative, random.NextDouble() * total);
                    j = Math.Min(index < 0 ? ~index : index, workers - 1);
                }
                while (chosen[..a].Contains(j));
                chosen[a] = j;
                var label = random.NextDouble() < accuracy[j] ? truth[i] : (truth[i] + 1 + random.Next(classes - 1)) % classes;
                ratings[next++] = new Rating(i, j, label);
            }
        }
        return (ratings, truth);
    }

    /// <summary>The LLMFAO crowd votes: columns id, prompt, model_x, model_y, worker, winner (left/right/tie), left, right.</summary>
    private static (Comparison[] Comparisons, int Models) LoadLlmfao(string path)
    {
        var index = new Dictionary<string, int>();
        int Model(string name) => index.TryGetValue(name, out var i) ? i : index[name] = index.Count;
        var comparisons = File.ReadLines(path).Skip(1).Select(line =>
        {
            var f = line.Split(',');
            var outcome = f[5] switch
            {
                "left" => PairOutcome.LeftWins,
                "right" => PairOutcome.RightWins,
                "tie" => PairOutcome.Tie,
                _ => throw new InvalidDataException($"{path}: unexpected winner '{f[5]}' in line '{line}'."),
            };
            return new Comparison(Model(f[6]), Model(f[7]), outcome);
        }).ToArray();
        return (comparisons, index.Count);
    }

    private static string FindSharedData()
    {
        // The shared data sets live beside the repository: ../shared/data from the folder holding Plumbline.slnx.
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Plumbline.slnx")))
                {
                    return Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                }
            }
        }
        throw new DirectoryNotFoundException("Cannot find the repository root (Plumbline.slnx) to locate ../shared/data; pass --data DIR.");
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int IntOption(string[] args, string name, int fallback) =>
        Option(args, name) is { } text ? int.Parse(text, NumberStyles.Integer, CultureInfo.InvariantCulture) : fallback;

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ')[..3]);
}
