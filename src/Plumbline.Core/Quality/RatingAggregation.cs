namespace Plumbline.Core.Quality;

/// <summary>How the answers of one item are combined into a consensus rating.</summary>
public enum ConsensusMethod
{
    /// <summary>Arithmetic mean.</summary>
    Mean,

    /// <summary>Median (mean of the two middle values for an even count).</summary>
    Median,

    /// <summary>Mean after dropping 20% of the answers at each end (rounded down); robust to a few careless raters.</summary>
    TrimmedMean,

    /// <summary>
    /// Huber M-estimate of location (k = 1.345, scale = normalised MAD): behaves like the mean for well-behaved
    /// answers and like the median when there are outliers.
    /// </summary>
    Huber,
}

/// <summary>Consensus of numeric ratings per item, and each rater's bias against it.</summary>
public static class RatingAggregation
{
    private const double TrimFraction = 0.2;

    // 1.345 gives 95% efficiency of the mean under normal errors; 1.4826 makes the MAD consistent for σ.
    private const double HuberK = 1.345;
    private const double MadToSigma = 1.4826;

    /// <summary>Consensus rating per item (index = item); NaN for an item without answers.</summary>
    public static double[] Consensus(ReadOnlySpan<Rating> ratings, ConsensusMethod method)
    {
        var groups = Grouped.By(ratings, byRater: false);
        var result = new double[groups.GroupCount];
        var scratch = new double[MaxGroupSize(groups)];
        for (var item = 0; item < groups.GroupCount; item++)
        {
            var from = groups.Start[item];
            var m = groups.Start[item + 1] - from;
            if (m == 0)
            {
                result[item] = double.NaN;
                continue;
            }
            var values = scratch.AsSpan(0, m);
            for (var a = 0; a < m; a++)
            {
                values[a] = ratings[groups.Order[from + a]].Value;
            }
            result[item] = method switch
            {
                ConsensusMethod.Mean => Mean(values),
                ConsensusMethod.Median => Median(values),
                ConsensusMethod.TrimmedMean => TrimmedMean(values, TrimFraction),
                ConsensusMethod.Huber => Huber(values),
                _ => throw new ArgumentOutOfRangeException(nameof(method), method, "Unknown consensus method."),
            };
        }
        return result;
    }

    /// <summary>
    /// Per rater bias: the mean of (rating − item consensus) over the rater's answers; NaN for a rater without
    /// answers on items with a consensus. Positive means the rater scores higher than the others.
    /// </summary>
    public static double[] RaterBias(ReadOnlySpan<Rating> ratings, ReadOnlySpan<double> consensus)
    {
        var raters = 0;
        foreach (ref readonly var r in ratings)
        {
            raters = Math.Max(raters, r.Rater + 1);
        }
        var sum = new double[raters];
        var count = new int[raters];
        foreach (ref readonly var r in ratings)
        {
            if (double.IsNaN(r.Value) || r.Item >= consensus.Length || double.IsNaN(consensus[r.Item]))
            {
                continue;
            }
            sum[r.Rater] += r.Value - consensus[r.Item];
            count[r.Rater]++;
        }
        for (var j = 0; j < raters; j++)
        {
            sum[j] = count[j] == 0 ? double.NaN : sum[j] / count[j];
        }
        return sum;
    }

    /// <summary>Arithmetic mean.</summary>
    public static double Mean(ReadOnlySpan<double> values)
    {
        var sum = 0.0;
        foreach (var v in values)
        {
            sum += v;
        }
        return values.IsEmpty ? double.NaN : sum / values.Length;
    }

    /// <summary>Median; sorts <paramref name="values"/> in place.</summary>
    public static double Median(Span<double> values)
    {
        if (values.IsEmpty)
        {
            return double.NaN;
        }
        values.Sort();
        var mid = values.Length / 2;
        return values.Length % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    }

    /// <summary>Mean after dropping ⌊fraction·n⌋ values at each end; sorts <paramref name="values"/> in place.</summary>
    public static double TrimmedMean(Span<double> values, double fraction)
    {
        if (fraction is < 0 or >= 0.5)
        {
            throw new ArgumentOutOfRangeException(nameof(fraction), "The trim fraction must be in [0, 0.5).");
        }
        values.Sort();
        var cut = (int)Math.Floor(fraction * values.Length);
        return Mean(values[cut..^cut]);
    }

    /// <summary>Huber M-estimate of location by iteratively reweighted means; sorts <paramref name="values"/> in place.</summary>
    public static double Huber(Span<double> values)
    {
        var location = Median(values);
        if (values.Length < 3)
        {
            return location;
        }
        // Scale from the median absolute deviation: unlike the standard deviation, outliers cannot inflate it.
        Span<double> deviations = values.Length <= 256 ? stackalloc double[values.Length] : new double[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            deviations[i] = Math.Abs(values[i] - location);
        }
        var scale = Median(deviations) * MadToSigma;
        if (scale == 0)
        {
            // More than half the raters agree exactly: that value is the robust answer.
            return location;
        }
        var threshold = HuberK * scale;
        for (var iteration = 0; iteration < 100; iteration++)
        {
            double weighted = 0, weights = 0;
            foreach (var v in values)
            {
                var distance = Math.Abs(v - location);
                var w = distance <= threshold ? 1 : threshold / distance;
                weighted += w * v;
                weights += w;
            }
            var next = weighted / weights;
            if (Math.Abs(next - location) <= 1e-10 * scale)
            {
                return next;
            }
            location = next;
        }
        return location;
    }

    private static int MaxGroupSize(Grouped groups)
    {
        var max = 0;
        for (var g = 0; g < groups.GroupCount; g++)
        {
            max = Math.Max(max, groups.Start[g + 1] - groups.Start[g]);
        }
        return max;
    }
}
