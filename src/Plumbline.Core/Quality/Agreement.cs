using System.Buffers;

namespace Plumbline.Core.Quality;

/// <summary>Level of measurement of the answers, which decides the distance Krippendorff's alpha uses.</summary>
public enum MeasurementLevel
{
    /// <summary>Categories without order (labels): any two different values are equally far apart.</summary>
    Nominal,

    /// <summary>Ordered categories (rating anchors): distance counts how many answers lie between two values.</summary>
    Ordinal,

    /// <summary>Equal-interval numbers: squared difference.</summary>
    Interval,

    /// <summary>Numbers with a true zero: squared difference relative to the sum.</summary>
    Ratio,
}

/// <summary>Disagreement weights for Cohen's kappa.</summary>
public enum KappaWeights
{
    /// <summary>Only exact matches count as agreement.</summary>
    Unweighted,

    /// <summary>Agreement weight 1 - |i - j| / (K - 1), where i and j are category positions.</summary>
    Linear,

    /// <summary>Agreement weight 1 - (i - j)² / (K - 1)².</summary>
    Quadratic,
}

/// <summary>
/// Inter-annotator agreement coefficients. Multi-rater metrics take long-format <see cref="Rating"/> answers;
/// two-rater metrics take two paired vectors (use <see cref="Paired"/> to extract them).
/// A coefficient that is undefined for the data (for example no variation at all) is <see cref="double.NaN"/>.
/// </summary>
public static class Agreement
{
    /// <summary>
    /// Krippendorff's alpha with the coincidence-matrix formulation (Krippendorff 2011, "Computing
    /// Krippendorff's Alpha-Reliability"): any number of raters, missing answers, and items with a single
    /// answer (they are not pairable and are left out).
    /// </summary>
    /// <remarks>The coincidence matrix is dense over distinct values, so the cost is O(n + V²) for V distinct values.</remarks>
    public static double KrippendorffAlpha(ReadOnlySpan<Rating> ratings, MeasurementLevel level)
    {
        var categories = Categories.From(ratings);
        var groups = Grouped.By(ratings, byRater: false);
        var v = categories.Count;
        if (v == 0)
        {
            return double.NaN;
        }

        var coincidence = new double[v * v];
        var counts = new int[v];
        var touched = new int[v];
        for (var item = 0; item < groups.GroupCount; item++)
        {
            var from = groups.Start[item];
            var m = groups.Start[item + 1] - from;
            if (m < 2)
            {
                continue;
            }
            var distinct = 0;
            for (var a = from; a < from + m; a++)
            {
                var c = categories.Of[groups.Order[a]];
                if (counts[c]++ == 0)
                {
                    touched[distinct++] = c;
                }
            }
            // Each ordered pair of answers within the unit contributes 1/(m-1): a unit weighs in by its pairable answers.
            var weight = 1.0 / (m - 1);
            for (var x = 0; x < distinct; x++)
            {
                var c = touched[x];
                for (var y = 0; y < distinct; y++)
                {
                    var k = touched[y];
                    var pairs = c == k ? counts[c] * (counts[c] - 1.0) : (double)counts[c] * counts[k];
                    coincidence[(c * v) + k] += pairs * weight;
                }
            }
            for (var x = 0; x < distinct; x++)
            {
                counts[touched[x]] = 0;
            }
        }

        return FromCoincidence(coincidence, categories.Values, level);
    }

    /// <summary>Alpha from a coincidence matrix over the sorted distinct values: 1 − (n − 1)·Σ o·δ / Σ n_c·n_k·δ.</summary>
    private static double FromCoincidence(double[] coincidence, double[] values, MeasurementLevel level)
    {
        var v = values.Length;
        var marginal = new double[v];
        double total = 0;
        for (var c = 0; c < v; c++)
        {
            for (var k = 0; k < v; k++)
            {
                marginal[c] += coincidence[(c * v) + k];
            }
            total += marginal[c];
        }
        if (total <= 1)
        {
            return double.NaN;
        }

        double observed = 0, expected = 0;
        for (var c = 0; c < v; c++)
        {
            for (var k = c + 1; k < v; k++)
            {
                var delta = Distance(level, values, marginal, c, k);
                observed += coincidence[(c * v) + k] * delta;
                expected += marginal[c] * marginal[k] * delta;
            }
        }
        // Both sums cover c<k only; the factor 2 cancels.
        return expected == 0 ? double.NaN : 1 - ((total - 1) * observed / expected);
    }

    private static double Distance(MeasurementLevel level, double[] values, double[] marginal, int c, int k)
    {
        switch (level)
        {
            case MeasurementLevel.Nominal:
                return 1;
            case MeasurementLevel.Ordinal:
                // Ranks, not values: the answers lying between c and k (half of the end categories) measure the distance.
                double between = 0;
                for (var g = c; g <= k; g++)
                {
                    between += marginal[g];
                }
                between -= (marginal[c] + marginal[k]) / 2;
                return between * between;
            case MeasurementLevel.Interval:
                var d = values[c] - values[k];
                return d * d;
            case MeasurementLevel.Ratio:
                var sum = values[c] + values[k];
                var r = sum == 0 ? 0 : (values[c] - values[k]) / sum;
                return r * r;
            default:
                throw new ArgumentOutOfRangeException(nameof(level), level, "Unknown measurement level.");
        }
    }

    /// <summary>
    /// Fleiss' kappa from answers. Items may have different numbers of answers (each item's observed agreement
    /// uses its own count, the usual generalisation); items with fewer than two answers are left out.
    /// With a constant count per item this is exactly Fleiss (1971).
    /// </summary>
    public static double FleissKappa(ReadOnlySpan<Rating> ratings)
    {
        var categories = Categories.From(ratings);
        var groups = Grouped.By(ratings, byRater: false);
        var k = categories.Count;
        var counts = new int[groups.GroupCount * k];
        for (var item = 0; item < groups.GroupCount; item++)
        {
            for (var a = groups.Start[item]; a < groups.Start[item + 1]; a++)
            {
                counts[(item * k) + categories.Of[groups.Order[a]]]++;
            }
        }
        return FleissKappa(counts, k);
    }

    /// <summary>Fleiss' kappa from an items × categories table of counts (row-major), the form of Fleiss (1971).</summary>
    public static double FleissKappa(ReadOnlySpan<int> counts, int categoryCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(categoryCount);
        if (counts.Length % categoryCount != 0)
        {
            throw new ArgumentException("The count table length must be a multiple of the category count.", nameof(counts));
        }
        var items = counts.Length / categoryCount;
        Span<double> totals = categoryCount <= 64 ? stackalloc double[categoryCount] : new double[categoryCount];
        totals.Clear();
        double agreementSum = 0, answers = 0;
        var usedItems = 0;
        for (var i = 0; i < items; i++)
        {
            var row = counts.Slice(i * categoryCount, categoryCount);
            double n = 0, same = 0;
            foreach (var c in row)
            {
                n += c;
                same += (double)c * (c - 1);
            }
            if (n < 2)
            {
                continue;
            }
            for (var c = 0; c < categoryCount; c++)
            {
                totals[c] += row[c];
            }
            answers += n;
            agreementSum += same / (n * (n - 1));
            usedItems++;
        }
        if (usedItems == 0)
        {
            return double.NaN;
        }
        var observed = agreementSum / usedItems;
        double chance = 0;
        foreach (var t in totals)
        {
            chance += t / answers * (t / answers);
        }
        return chance >= 1 ? double.NaN : (observed - chance) / (1 - chance);
    }

    /// <summary>
    /// Pairwise percent agreement: per item, the share of ordered pairs of answers that are equal, averaged
    /// over items with at least two answers. For two raters this is the plain share of equal answers.
    /// Not chance-corrected: report it beside a kappa or alpha, never instead of one.
    /// </summary>
    public static double PercentAgreement(ReadOnlySpan<Rating> ratings)
    {
        var categories = Categories.From(ratings);
        var groups = Grouped.By(ratings, byRater: false);
        var counts = new int[categories.Count];
        double sum = 0;
        var used = 0;
        for (var item = 0; item < groups.GroupCount; item++)
        {
            var from = groups.Start[item];
            var m = groups.Start[item + 1] - from;
            if (m < 2)
            {
                continue;
            }
            double same = 0;
            for (var a = from; a < from + m; a++)
            {
                // Each new answer agrees with every earlier equal answer of the item.
                same += counts[categories.Of[groups.Order[a]]]++;
            }
            for (var a = from; a < from + m; a++)
            {
                counts[categories.Of[groups.Order[a]]] = 0;
            }
            sum += 2 * same / ((double)m * (m - 1));
            used++;
        }
        return used == 0 ? double.NaN : sum / used;
    }

    /// <summary>
    /// The answers of two raters on the items both answered, as two paired vectors ordered by item.
    /// </summary>
    public static (double[] First, double[] Second) Paired(ReadOnlySpan<Rating> ratings, int firstRater, int secondRater)
    {
        var items = 0;
        foreach (ref readonly var r in ratings)
        {
            items = Math.Max(items, r.Item + 1);
        }
        var a = new double[items];
        var b = new double[items];
        a.AsSpan().Fill(double.NaN);
        b.AsSpan().Fill(double.NaN);
        foreach (ref readonly var r in ratings)
        {
            if (r.Rater == firstRater)
            {
                a[r.Item] = r.Value;
            }
            else if (r.Rater == secondRater)
            {
                b[r.Item] = r.Value;
            }
        }
        var both = 0;
        for (var i = 0; i < items; i++)
        {
            if (!double.IsNaN(a[i]) && !double.IsNaN(b[i]))
            {
                a[both] = a[i];
                b[both++] = b[i];
            }
        }
        return (a[..both], b[..both]);
    }

    /// <summary>
    /// Cohen's kappa for two raters, unweighted or with linear or quadratic agreement weights.
    /// Pairs where either value is NaN are dropped.
    /// </summary>
    /// <param name="first">The first rater's answers.</param>
    /// <param name="second">The second rater's answers, paired by position with <paramref name="first"/>.</param>
    /// <param name="weights">The weighting scheme.</param>
    /// <param name="scale">
    /// The ordered categories of the scale. Weights use positions in this list. When empty, the categories
    /// are the values observed from either rater, sorted; this is the convention of R's <c>irr::kappa2</c>.
    /// </param>
    public static double CohenKappa(ReadOnlySpan<double> first, ReadOnlySpan<double> second, KappaWeights weights = KappaWeights.Unweighted, ReadOnlySpan<double> scale = default)
    {
        if (first.Length != second.Length)
        {
            throw new ArgumentException("Both raters must have the same number of answers (use NaN for missing).", nameof(second));
        }
        double[] levels;
        if (scale.IsEmpty)
        {
            var all = new double[first.Length * 2];
            var n = 0;
            for (var i = 0; i < first.Length; i++)
            {
                if (!double.IsNaN(first[i]) && !double.IsNaN(second[i]))
                {
                    all[n++] = first[i];
                    all[n++] = second[i];
                }
            }
            levels = Categories.Distinct(all.AsSpan(0, n));
        }
        else
        {
            levels = Categories.Distinct(scale.ToArray());
        }
        var k = levels.Length;
        if (k < 2)
        {
            return double.NaN;
        }
        var table = new double[k * k];
        var rows = new double[k];
        var columns = new double[k];
        double total = 0;
        for (var i = 0; i < first.Length; i++)
        {
            if (double.IsNaN(first[i]) || double.IsNaN(second[i]))
            {
                continue;
            }
            var a = Array.BinarySearch(levels, first[i]);
            var b = Array.BinarySearch(levels, second[i]);
            if (a < 0 || b < 0)
            {
                throw new ArgumentException($"Value {(a < 0 ? first[i] : second[i])} is not on the given scale.", nameof(scale));
            }
            table[(a * k) + b]++;
            rows[a]++;
            columns[b]++;
            total++;
        }
        if (total == 0)
        {
            return double.NaN;
        }
        double observed = 0, chance = 0;
        for (var a = 0; a < k; a++)
        {
            for (var b = 0; b < k; b++)
            {
                double d = Math.Abs(a - b);
                var w = weights switch
                {
                    KappaWeights.Unweighted => a == b ? 1 : 0,
                    KappaWeights.Linear => 1 - (d / (k - 1)),
                    KappaWeights.Quadratic => 1 - (d * d / ((k - 1.0) * (k - 1))),
                    _ => throw new ArgumentOutOfRangeException(nameof(weights), weights, "Unknown weighting."),
                };
                observed += w * table[(a * k) + b];
                chance += w * rows[a] * columns[b];
            }
        }
        observed /= total;
        chance /= total * total;
        return chance >= 1 ? double.NaN : (observed - chance) / (1 - chance);
    }

    /// <summary>
    /// Kendall's tau-b between two score vectors (ties corrected), in O(n log n) with Knight's merge-sort
    /// algorithm so it stays fast on long lists. Pairs where either value is NaN are dropped.
    /// </summary>
    public static double KendallTauB(ReadOnlySpan<double> x, ReadOnlySpan<double> y)
    {
        if (x.Length != y.Length)
        {
            throw new ArgumentException("Both vectors must have the same length.", nameof(y));
        }
        var n = 0;
        var xs = new double[x.Length];
        var ys = new double[x.Length];
        for (var i = 0; i < x.Length; i++)
        {
            if (!double.IsNaN(x[i]) && !double.IsNaN(y[i]))
            {
                xs[n] = x[i];
                ys[n++] = y[i];
            }
        }
        if (n < 2)
        {
            return double.NaN;
        }
        // Sort by x then y: the joint ties are then adjacent, and sorting y afterwards counts the discordant pairs.
        var order = new int[n];
        for (var i = 0; i < n; i++)
        {
            order[i] = i;
        }
        Array.Sort(order, (p, q) =>
        {
            var c = xs[p].CompareTo(xs[q]);
            return c != 0 ? c : ys[p].CompareTo(ys[q]);
        });
        var yByX = new double[n];
        for (var i = 0; i < n; i++)
        {
            yByX[i] = ys[order[i]];
        }

        long xTies = 0, jointTies = 0;
        long runX = 1, runXY = 1;
        for (var i = 1; i <= n; i++)
        {
            var sameX = i < n && xs[order[i]] == xs[order[i - 1]];
            var sameXY = sameX && yByX[i] == yByX[i - 1];
            if (sameX)
            {
                runX++;
            }
            else
            {
                xTies += runX * (runX - 1) / 2;
                runX = 1;
            }
            if (sameXY)
            {
                runXY++;
            }
            else
            {
                jointTies += runXY * (runXY - 1) / 2;
                runXY = 1;
            }
        }

        var swaps = MergeSortCountingSwaps(yByX, new double[n]);

        long yTies = 0, runY = 1;
        for (var i = 1; i <= n; i++)
        {
            if (i < n && yByX[i] == yByX[i - 1])
            {
                runY++;
            }
            else
            {
                yTies += runY * (runY - 1) / 2;
                runY = 1;
            }
        }

        long pairs = (long)n * (n - 1) / 2;
        var score = pairs - xTies - yTies + jointTies - (2 * swaps);
        var denominator = Math.Sqrt((double)(pairs - xTies) * (pairs - yTies));
        return denominator == 0 ? double.NaN : score / denominator;
    }

    private static long MergeSortCountingSwaps(double[] values, double[] buffer)
    {
        long swaps = 0;
        var n = values.Length;
        var source = values;
        var target = buffer;
        for (var width = 1; width < n; width *= 2)
        {
            for (var lo = 0; lo < n; lo += 2 * width)
            {
                var mid = Math.Min(lo + width, n);
                var hi = Math.Min(lo + (2 * width), n);
                int i = lo, j = mid, t = lo;
                while (i < mid && j < hi)
                {
                    if (source[j] < source[i])
                    {
                        // Everything left in the left run is greater than source[j]: each is one discordant pair.
                        swaps += mid - i;
                        target[t++] = source[j++];
                    }
                    else
                    {
                        target[t++] = source[i++];
                    }
                }
                while (i < mid)
                {
                    target[t++] = source[i++];
                }
                while (j < hi)
                {
                    target[t++] = source[j++];
                }
            }
            (source, target) = (target, source);
        }
        if (!ReferenceEquals(source, values))
        {
            Array.Copy(source, values, n);
        }
        return swaps;
    }

    /// <summary>
    /// Kendall's coefficient of concordance W for m raters who each rank (or score) the same n objects, with
    /// the correction for tied ranks. Here <see cref="Rating.Item"/> is the object ranked and
    /// <see cref="Rating.Value"/> its rank or score; each rater's values are turned into average ranks, so
    /// either direction works as long as all raters use the same one.
    /// </summary>
    /// <exception cref="ArgumentException">When a rater did not rank every object (W needs complete rankings).</exception>
    public static double KendallW(ReadOnlySpan<Rating> rankings)
    {
        var objectIndex = Grouped.By(rankings, byRater: false);
        var byRater = Grouped.By(rankings, byRater: true);
        var objects = 0;
        for (var o = 0; o < objectIndex.GroupCount; o++)
        {
            if (objectIndex.Start[o + 1] > objectIndex.Start[o])
            {
                objects++;
            }
        }
        var rankSums = new double[objectIndex.GroupCount];
        var raters = 0;
        double tieCorrection = 0;
        var keys = new double[objects];
        var owners = new int[objects];
        for (var rater = 0; rater < byRater.GroupCount; rater++)
        {
            var from = byRater.Start[rater];
            var count = byRater.Start[rater + 1] - from;
            if (count == 0)
            {
                continue;
            }
            if (count != objects)
            {
                throw new ArgumentException($"Rater {rater} ranked {count} of {objects} objects; Kendall's W needs complete rankings.", nameof(rankings));
            }
            raters++;
            for (var t = 0; t < count; t++)
            {
                var r = rankings[byRater.Order[from + t]];
                keys[t] = r.Value;
                owners[t] = r.Item;
            }
            keys.AsSpan(0, count).Sort(owners.AsSpan(0, count));
            for (var s = 0; s < count;)
            {
                var e = s + 1;
                while (e < count && keys[e] == keys[s])
                {
                    e++;
                }
                // Tied values share the mean of the ranks they span (ranks are 1-based).
                var averageRank = ((s + 1) + e) / 2.0;
                for (var t = s; t < e; t++)
                {
                    rankSums[owners[t]] += averageRank;
                }
                double tie = e - s;
                tieCorrection += (tie * tie * tie) - tie;
                s = e;
            }
        }
        if (raters < 2 || objects < 2)
        {
            return double.NaN;
        }
        var mean = raters * (objects + 1) / 2.0;
        double spread = 0;
        for (var o = 0; o < rankSums.Length; o++)
        {
            if (objectIndex.Start[o + 1] > objectIndex.Start[o])
            {
                var d = rankSums[o] - mean;
                spread += d * d;
            }
        }
        double m = raters, n = objects;
        var denominator = (m * m * ((n * n * n) - n)) - (m * tieCorrection);
        return denominator == 0 ? double.NaN : 12 * spread / denominator;
    }

    /// <summary>
    /// Kendall's W averaged over groups, for ranking questions where each item asks raters to order its own
    /// candidates. <paramref name="groupOfObject"/> gives the item of each ranked object (the <see cref="Rating.Item"/>).
    /// Groups where W is undefined (fewer than two raters or objects) are left out.
    /// </summary>
    public static double MeanKendallW(ReadOnlySpan<Rating> rankings, ReadOnlySpan<int> groupOfObject)
    {
        var groups = 0;
        foreach (var g in groupOfObject)
        {
            groups = Math.Max(groups, g + 1);
        }
        var perGroup = new List<Rating>[groups];
        foreach (ref readonly var r in rankings)
        {
            (perGroup[groupOfObject[r.Item]] ??= []).Add(r);
        }
        double sum = 0;
        var used = 0;
        foreach (var list in perGroup)
        {
            if (list is null)
            {
                continue;
            }
            var w = KendallW(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(list));
            if (!double.IsNaN(w))
            {
                sum += w;
                used++;
            }
        }
        return used == 0 ? double.NaN : sum / used;
    }

    /// <summary>
    /// Agreement on span answers: nominal alpha over text positions, each position a unit whose value is the
    /// label of the span covering it or "none". Stretches where no rater's answer changes are one unit weighted
    /// by their length, so the cost follows the number of span boundaries, not the text length. Where one
    /// rater's spans overlap, the later span in their list wins the shared positions.
    /// </summary>
    /// <param name="answers">One entry per (item, rater) answer; a rater who marked nothing still answers "none" everywhere.</param>
    /// <param name="labelCount">The number of span labels.</param>
    public static double SpanAlpha(ReadOnlySpan<SpanAnswer> answers, int labelCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(labelCount);
        var v = labelCount + 1; // value 0 = no span, value l + 1 = label l
        var coincidence = new double[v * v];
        var byItem = new Dictionary<int, List<int>>();
        for (var a = 0; a < answers.Length; a++)
        {
            if (!byItem.TryGetValue(answers[a].Item, out var list))
            {
                byItem[answers[a].Item] = list = [];
            }
            list.Add(a);
        }
        var boundaries = new List<int>();
        var counts = new int[v];
        foreach (var list in byItem.Values)
        {
            var m = list.Count;
            if (m < 2)
            {
                continue;
            }
            var length = answers[list[0]].TextLength;
            boundaries.Clear();
            boundaries.Add(0);
            boundaries.Add(length);
            foreach (var a in list)
            {
                if (answers[a].TextLength != length)
                {
                    throw new ArgumentException($"Answers to item {answers[a].Item} disagree on its text length.", nameof(answers));
                }
                foreach (var span in answers[a].Spans)
                {
                    if (span.Start < 0 || span.End > length || span.Start > span.End || (uint)span.Label >= (uint)labelCount)
                    {
                        throw new ArgumentException($"Span [{span.Start}, {span.End}) label {span.Label} of item {answers[a].Item} is outside the text or the labels.", nameof(answers));
                    }
                    boundaries.Add(span.Start);
                    boundaries.Add(span.End);
                }
            }
            boundaries.Sort();
            var cuts = boundaries.Distinct().ToArray();
            var segments = cuts.Length - 1;
            var values = new int[m * segments];
            for (var r = 0; r < m; r++)
            {
                foreach (var span in answers[list[r]].Spans)
                {
                    var from = Array.BinarySearch(cuts, span.Start);
                    var to = Array.BinarySearch(cuts, span.End);
                    values.AsSpan((r * segments) + from, to - from).Fill(span.Label + 1);
                }
            }
            var weight = 1.0 / (m - 1);
            for (var g = 0; g < segments; g++)
            {
                Array.Clear(counts);
                for (var r = 0; r < m; r++)
                {
                    counts[values[(r * segments) + g]]++;
                }
                // A segment of w positions is w identical units: its pairs count w times.
                var unit = weight * (cuts[g + 1] - cuts[g]);
                for (var c = 0; c < v; c++)
                {
                    if (counts[c] == 0)
                    {
                        continue;
                    }
                    for (var k = 0; k < v; k++)
                    {
                        var pairs = c == k ? counts[c] * (counts[c] - 1.0) : (double)counts[c] * counts[k];
                        coincidence[(c * v) + k] += pairs * unit;
                    }
                }
            }
        }
        var labels = new double[v];
        for (var c = 0; c < v; c++)
        {
            labels[c] = c;
        }
        return FromCoincidence(coincidence, labels, MeasurementLevel.Nominal);
    }

    /// <summary>
    /// Agreement on multi-label answers: nominal alpha of each label's yes/no decision, averaged over the
    /// labels for which alpha is defined (the label was chosen by someone and left out by someone).
    /// </summary>
    /// <remarks>
    /// A multi-label question is shown as one checkbox per label, so each label is an independent binary
    /// judgement; alpha per label corrects each for its own prevalence, which a set distance (Jaccard, MASI)
    /// over whole answers would not, and it keeps missing data and any number of raters.
    /// </remarks>
    /// <param name="answers">One entry per (item, rater) answer, with the chosen labels (0..labelCount-1).</param>
    /// <param name="labelCount">The number of labels of the question.</param>
    public static double MeanPerLabelAlpha(ReadOnlySpan<LabelSetAnswer> answers, int labelCount)
    {
        var binary = ArrayPool<Rating>.Shared.Rent(Math.Max(answers.Length, 1));
        try
        {
            double sum = 0;
            var used = 0;
            for (var label = 0; label < labelCount; label++)
            {
                for (var i = 0; i < answers.Length; i++)
                {
                    var chosen = answers[i].Labels.AsSpan().Contains(label);
                    binary[i] = new Rating(answers[i].Item, answers[i].Rater, chosen ? 1 : 0);
                }
                var alpha = KrippendorffAlpha(binary.AsSpan(0, answers.Length), MeasurementLevel.Nominal);
                if (!double.IsNaN(alpha))
                {
                    sum += alpha;
                    used++;
                }
            }
            return used == 0 ? double.NaN : sum / used;
        }
        finally
        {
            ArrayPool<Rating>.Shared.Return(binary);
        }
    }
}

/// <summary>One rater's span answer to one item: the labelled ranges they marked (possibly none) over a text.</summary>
/// <param name="Item">Zero-based item index.</param>
/// <param name="Rater">Zero-based rater index.</param>
/// <param name="TextLength">Length of the item's text, in the same units as the span offsets.</param>
/// <param name="Spans">Half-open ranges [Start, End) with a label index 0..labelCount-1.</param>
public readonly record struct SpanAnswer(int Item, int Rater, int TextLength, LabelledSpan[] Spans);

/// <summary>A labelled half-open range [Start, End) of a text.</summary>
/// <param name="Start">First position.</param>
/// <param name="End">Position after the last.</param>
/// <param name="Label">Label index.</param>
public readonly record struct LabelledSpan(int Start, int End, int Label);

/// <summary>One rater's multi-label answer to one item: the indices of the labels chosen (possibly none).</summary>
/// <param name="Item">Zero-based item index.</param>
/// <param name="Rater">Zero-based rater index.</param>
/// <param name="Labels">The chosen label indices.</param>
public readonly record struct LabelSetAnswer(int Item, int Rater, int[] Labels);
