using System.Buffers;

namespace Plumbline.Core.Quality;

/// <summary>
/// One answer in long format: rater <see cref="Rater"/> gave <see cref="Value"/> to item <see cref="Item"/>.
/// This is the single input shape of the agreement, truth-inference and rating algorithms: it maps one to
/// one onto stored responses, handles any number of raters and missing data without a sparse matrix,
/// and costs 16 bytes per answer.
/// </summary>
/// <remarks>
/// Items and raters are dense zero-based indices (the caller maps its ids). For categorical questions the
/// value is the category index (0..K-1, in schema order); for ratings it is the scale value. A value of
/// <see cref="double.NaN"/> means "no answer" and is ignored everywhere.
/// </remarks>
/// <param name="Item">Zero-based item index.</param>
/// <param name="Rater">Zero-based rater (annotator) index.</param>
/// <param name="Value">The answer: a category index, a scale value, or a score.</param>
public readonly record struct Rating(int Item, int Rater, double Value);

/// <summary>Items grouped in compressed-row form: the answers of item i are <c>Values[Start[i]..Start[i+1]]</c>.</summary>
/// <remarks>Built once per call by a counting sort (O(n)), so metrics never need a dictionary per item.</remarks>
internal sealed class Grouped
{
    public required int[] Start { get; init; }
    public required int[] Order { get; init; }

    public int GroupCount => Start.Length - 1;

    /// <summary>Groups answer indices by key (item or rater); keys must be non-negative. NaN values are dropped.</summary>
    public static Grouped By(ReadOnlySpan<Rating> ratings, bool byRater)
    {
        var groups = 0;
        foreach (ref readonly var r in ratings)
        {
            var key = byRater ? r.Rater : r.Item;
            if (key < 0)
            {
                throw new ArgumentException($"Item and rater indices must be non-negative (got {key}).", nameof(ratings));
            }
            if (!double.IsNaN(r.Value) && key >= groups)
            {
                groups = key + 1;
            }
        }
        var start = new int[groups + 1];
        var valid = 0;
        foreach (ref readonly var r in ratings)
        {
            if (!double.IsNaN(r.Value))
            {
                start[(byRater ? r.Rater : r.Item) + 1]++;
                valid++;
            }
        }
        for (var g = 0; g < groups; g++)
        {
            start[g + 1] += start[g];
        }
        var order = new int[valid];
        var fill = ArrayPool<int>.Shared.Rent(groups + 1);
        try
        {
            Array.Copy(start, fill, groups + 1);
            for (var i = 0; i < ratings.Length; i++)
            {
                if (!double.IsNaN(ratings[i].Value))
                {
                    order[fill[byRater ? ratings[i].Rater : ratings[i].Item]++] = i;
                }
            }
        }
        finally
        {
            ArrayPool<int>.Shared.Return(fill);
        }
        return new Grouped { Start = start, Order = order };
    }
}

/// <summary>The distinct values of a set of answers, sorted, with the category index of each answer.</summary>
internal sealed class Categories
{
    public required double[] Values { get; init; }

    /// <summary>Category of answer i (index into <see cref="Values"/>), or -1 when the answer is missing.</summary>
    public required int[] Of { get; init; }

    public int Count => Values.Length;

    public static Categories From(ReadOnlySpan<Rating> ratings)
    {
        // Hash the distinct values and sort only those: answers are many, distinct values few (a scale or a label set).
        var seen = new HashSet<double>();
        foreach (ref readonly var r in ratings)
        {
            if (!double.IsNaN(r.Value))
            {
                seen.Add(r.Value);
            }
        }
        var distinct = new double[seen.Count];
        seen.CopyTo(distinct);
        Array.Sort(distinct);
        var of = new int[ratings.Length];
        for (var i = 0; i < ratings.Length; i++)
        {
            of[i] = double.IsNaN(ratings[i].Value) ? -1 : Array.BinarySearch(distinct, ratings[i].Value);
        }
        return new Categories { Values = distinct, Of = of };
    }

    /// <summary>Sorts <paramref name="values"/> in place and returns its distinct values.</summary>
    public static double[] Distinct(Span<double> values)
    {
        values.Sort();
        var count = 0;
        for (var i = 0; i < values.Length; i++)
        {
            if (i == 0 || values[i] != values[i - 1])
            {
                values[count++] = values[i];
            }
        }
        return values[..count].ToArray();
    }
}
