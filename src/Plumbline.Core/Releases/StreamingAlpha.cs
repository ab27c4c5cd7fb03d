namespace Plumbline.Core.Releases;

/// <summary>
/// Krippendorff's alpha accumulated one item at a time through the coincidence matrix (Krippendorff 2011,
/// "Computing Krippendorff's Alpha-Reliability", section C), so a release's agreement figure costs memory for the
/// distinct values only, not for every answer. Gives the same value as
/// <see cref="Quality.Agreement.KrippendorffAlpha"/> at the nominal and interval levels (a test holds them equal).
/// </summary>
public sealed class StreamingAlpha(bool interval)
{
    private readonly Dictionary<(double, double), double> coincidences = [];
    private readonly List<double> scratch = [];

    /// <summary>Adds one item's values (one per rater; NaN ignored). Items with fewer than two values are not pairable.</summary>
    public void AddItem(IEnumerable<double> values)
    {
        scratch.Clear();
        foreach (var v in values)
        {
            if (!double.IsNaN(v))
            {
                scratch.Add(v);
            }
        }
        var m = scratch.Count;
        if (m < 2)
        {
            return;
        }
        // Each ordered pair of values from different raters adds 1/(m − 1) to o(c, k).
        var weight = 1.0 / (m - 1);
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < m; j++)
            {
                if (i != j)
                {
                    var key = (scratch[i], scratch[j]);
                    coincidences[key] = coincidences.GetValueOrDefault(key) + weight;
                }
            }
        }
    }

    /// <summary>Alpha over the items added so far; NaN when there is nothing pairable or no variation to expect.</summary>
    public double Value()
    {
        var marginals = new SortedDictionary<double, double>();
        double n = 0;
        foreach (var ((c, _), o) in coincidences)
        {
            marginals[c] = marginals.GetValueOrDefault(c) + o;
            n += o;
        }
        if (n <= 1)
        {
            return double.NaN;
        }
        double observed = 0;
        foreach (var ((c, k), o) in coincidences)
        {
            observed += o * Distance(c, k);
        }
        double expected = 0;
        foreach (var (c, nc) in marginals)
        {
            foreach (var (k, nk) in marginals)
            {
                expected += nc * nk * Distance(c, k);
            }
        }
        observed /= n;
        expected /= n * (n - 1);
        return expected == 0 ? double.NaN : 1 - (observed / expected);
    }

    private double Distance(double c, double k) => interval ? (c - k) * (c - k) : c == k ? 0 : 1;
}
