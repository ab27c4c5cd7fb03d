using System.Diagnostics;
using Plumbline.Core.Quality;

namespace Plumbline.Bench;

/// <summary>
/// Times the quality algorithms on a generated set of 100,000 categorical labels (10,000 items × 10 raters drawn
/// from 200 annotators of varied accuracy, 3 classes), as recomputed on every submit. Plain Stopwatch: median of
/// several runs after a warm-up.
/// </summary>
public static class QualityBench
{
    /// <summary>Runs the benchmark; <c>args[0]</c> optionally sets the number of timed runs (default 7).</summary>
    public static Task<int> RunAsync(string[] args)
    {
        var runs = args.Length > 0 && int.TryParse(args[0], out var r) ? r : 7;
        var (ratings, truth) = Generate(items: 10_000, perItem: 10, raters: 200, classes: 3, seed: 1);
        Console.WriteLine($"quality: {ratings.Length:N0} labels, {truth.Length:N0} items, 200 raters, 3 classes; median of {runs} runs");

        Time("Krippendorff alpha (nominal)", runs, () => Agreement.KrippendorffAlpha(ratings, MeasurementLevel.Nominal));
        Time("Krippendorff alpha (ordinal)", runs, () => Agreement.KrippendorffAlpha(ratings, MeasurementLevel.Ordinal));
        Time("Fleiss kappa", runs, () => Agreement.FleissKappa(ratings));
        Time("Majority vote", runs, () => TruthInference.MajorityVote(ratings, 3).Labels[0]);
        foreach (var (name, method) in new (string, Func<TruthInferenceResult>)[]
        {
            ("Dawid-Skene EM", () => TruthInference.DawidSkene(ratings, 3)),
            ("GLAD", () => TruthInference.Glad(ratings, 3)),
            ("MACE", () => TruthInference.Mace(ratings, 3)),
        })
        {
            var result = Time(name, runs, method);
            var hits = result.Labels.Zip(truth).Count(p => p.First == p.Second);
            Console.WriteLine($"    {result.Iterations} EM iterations, accuracy {hits / (double)truth.Length:F4}");
        }
        return Task.FromResult(0);
    }

    private static T Time<T>(string name, int runs, Func<T> action)
    {
        var result = action(); // warm-up: JIT and tiered compilation
        var times = new double[runs];
        for (var i = 0; i < runs; i++)
        {
            var watch = Stopwatch.StartNew();
            result = action();
            times[i] = watch.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        Console.WriteLine($"  {name,-30} {times[runs / 2],9:F1} ms");
        return result;
    }

    private static (Rating[] Ratings, int[] Truth) Generate(int items, int perItem, int raters, int classes, int seed)
    {
        var random = new Random(seed);
        var accuracy = new double[raters];
        for (var j = 0; j < raters; j++)
        {
            accuracy[j] = 0.4 + (0.55 * random.NextDouble());
        }
        var truth = new int[items];
        var ratings = new Rating[items * perItem];
        var chosen = new HashSet<int>();
        for (var i = 0; i < items; i++)
        {
            truth[i] = random.Next(classes);
            chosen.Clear();
            while (chosen.Count < perItem)
            {
                chosen.Add(random.Next(raters));
            }
            var a = 0;
            foreach (var j in chosen)
            {
                var label = random.NextDouble() < accuracy[j] ? truth[i] : (truth[i] + 1 + random.Next(classes - 1)) % classes;
                ratings[(i * perItem) + a++] = new Rating(i, j, label);
            }
        }
        return (ratings, truth);
    }
}
