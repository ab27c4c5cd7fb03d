using System.Globalization;
using Plumbline.Core.Quality;

namespace Plumbline.Core.Tests.Quality;

/// <summary>The shared public data sets (see /work/shared/data/README.md), found from the test binary.</summary>
internal static class TestData
{
    private static readonly Lazy<string> RootFolder = new(FindRoot);

    public static string Root => RootFolder.Value;

    public static string PathOf(params string[] parts)
    {
        var path = Path.Combine([Root, .. parts]);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Test data file '{path}' is missing; the shared data folder is incomplete.", path);
        }
        return path;
    }

    private static string FindRoot()
    {
        // The data lives beside the repository (../shared/data from the folder holding Plumbline.slnx), never inside it.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Plumbline.slnx")))
            {
                var data = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                if (!Directory.Exists(data))
                {
                    throw new DirectoryNotFoundException($"Shared test data not found at '{data}' (expected ../shared/data next to the repository root '{dir.FullName}').");
                }
                return data;
            }
        }
        throw new DirectoryNotFoundException($"No folder containing Plumbline.slnx above '{AppContext.BaseDirectory}'; cannot locate ../shared/data.");
    }

    /// <summary>|actual − published| within half a unit of the last published decimal.</summary>
    public static void ShouldMatchPublished(this double actual, double published, int decimals) =>
        Math.Abs(actual - published).ShouldBeLessThanOrEqualTo((0.5 * Math.Pow(10, -decimals)) + 1e-12, $"published {published} to {decimals} decimals, computed {actual}");

    /// <summary>Crowd labels with gold: answers (value = category index, categories = sorted distinct responses) and gold per item.</summary>
    public sealed record CrowdLabels(Rating[] Ratings, int[] Gold, int CategoryCount)
    {
        public double Accuracy(ReadOnlySpan<int> labels)
        {
            var hits = 0;
            for (var i = 0; i < Gold.Length; i++)
            {
                if (labels[i] == Gold[i])
                {
                    hits++;
                }
            }
            return (double)hits / Gold.Length;
        }
    }

    public static CrowdLabels Snow(string name)
    {
        var rows = File.ReadLines(PathOf("snow2008", name)).Skip(1).Select(l => l.Split('\t')).ToArray();
        var items = new Dictionary<string, int>();
        var workers = new Dictionary<string, int>();
        var categories = rows.SelectMany(r => new[] { r[3], r[4] }).Distinct().OrderBy(v => int.Parse(v, CultureInfo.InvariantCulture)).ToList();
        var ratings = new Rating[rows.Length];
        var gold = new List<int>();
        for (var i = 0; i < rows.Length; i++)
        {
            var r = rows[i];
            if (!items.TryGetValue(r[2], out var item))
            {
                item = items[r[2]] = items.Count;
                gold.Add(categories.IndexOf(r[4]));
            }
            if (!workers.TryGetValue(r[1], out var worker))
            {
                worker = workers[r[1]] = workers.Count;
            }
            ratings[i] = new Rating(item, worker, categories.IndexOf(r[3]));
        }
        return new CrowdLabels(ratings, [.. gold], categories.Count);
    }

    /// <summary>Data lines of a worked-example CSV (comment lines start with '#').</summary>
    public static string[][] WorkedExample(string name) =>
        File.ReadLines(PathOf("worked-examples", name)).Where(l => !l.StartsWith('#') && l.Length > 0).Select(l => l.Split(',')).ToArray();

    public static double Number(string text) => double.Parse(text, CultureInfo.InvariantCulture);
}
