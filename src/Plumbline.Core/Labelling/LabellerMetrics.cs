using Plumbline.Core.Quality;

namespace Plumbline.Core.Labelling;

/// <summary>
/// How a labeller's answers to one question compare with reference answers (gold, or the human consensus): counts,
/// accuracy, Cohen's kappa and a confusion matrix over the question's categories. Feed it pairs with
/// <see cref="Add"/>; categories are the labels, rating points, or preference choices by position (A, B, tie,
/// both_bad). Questions without categories (text, ranking, multi-label) count matches only.
/// </summary>
public sealed class AgreementTally(IReadOnlyList<string>? categories, KappaWeights weights = KappaWeights.Unweighted)
{
    private readonly List<double> reference = [];
    private readonly List<double> labeller = [];
    private readonly long[,]? matrix = categories is null ? null : new long[categories.Count, categories.Count];

    public int Compared { get; private set; }

    public int Matches { get; private set; }

    /// <summary>One compared unit; the categories are null when the answer has none (or one outside the list).</summary>
    public void Add(bool matches, string? referenceCategory = null, string? labellerCategory = null)
    {
        Compared++;
        Matches += matches ? 1 : 0;
        if (categories is null || referenceCategory is null || labellerCategory is null)
        {
            return;
        }
        var r = IndexOf(referenceCategory);
        var l = IndexOf(labellerCategory);
        if (r < 0 || l < 0)
        {
            return;
        }
        matrix![r, l]++;
        reference.Add(r);
        labeller.Add(l);
    }

    private int IndexOf(string category)
    {
        for (var i = 0; i < categories!.Count; i++)
        {
            if (categories[i] == category)
            {
                return i;
            }
        }
        return -1;
    }

    public double? Accuracy => Compared == 0 ? null : (double)Matches / Compared;

    /// <summary>Cohen's kappa over the categorised pairs, on the question's full category list; null when undefined.</summary>
    public double? Kappa
    {
        get
        {
            if (categories is null || reference.Count == 0)
            {
                return null;
            }
            var scale = Enumerable.Range(0, categories.Count).Select(i => (double)i).ToArray();
            var kappa = Agreement.CohenKappa(reference.ToArray(), labeller.ToArray(), weights, scale);
            return double.IsFinite(kappa) ? kappa : null;
        }
    }

    /// <summary>Rows: the reference answer; columns: the labeller's; null for questions without categories.</summary>
    public long[][]? Confusion => matrix is null ? null
        : [.. Enumerable.Range(0, categories!.Count).Select(r => Enumerable.Range(0, categories.Count).Select(c => matrix[r, c]).ToArray())];
}

/// <summary>Nearest-rank percentiles over latencies (the definition NIST and most monitoring tools use).</summary>
public static class Percentile
{
    /// <summary>The smallest value with at least <paramref name="p"/> per cent of the values at or below it; null for no values.</summary>
    public static long? NearestRank(long[] values, double p)
    {
        if (values.Length == 0)
        {
            return null;
        }
        var sorted = (long[])values.Clone();
        Array.Sort(sorted);
        var rank = (int)Math.Ceiling(p / 100 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }
}
