using System.Buffers;

namespace Plumbline.Core.Quality;

/// <summary>One rater's free-text answer to one item.</summary>
/// <param name="Item">Zero-based item index.</param>
/// <param name="Rater">Zero-based rater index.</param>
/// <param name="Text">The answer text.</param>
public readonly record struct TextAnswer(int Item, int Rater, string Text);

/// <summary>Similarity of free-text answers, for text questions where exact agreement is meaningless.</summary>
public static class TextSimilarity
{
    /// <summary>
    /// Levenshtein distance (insertions, deletions, substitutions of UTF-16 code units, each cost 1).
    /// O(n·m) time, O(min(n, m)) memory: one row over the shorter string.
    /// </summary>
    public static int Levenshtein(ReadOnlySpan<char> a, ReadOnlySpan<char> b)
    {
        // A shared prefix or suffix never changes the distance; trimming it is free speed on near-copies.
        var prefix = a.CommonPrefixLength(b);
        a = a[prefix..];
        b = b[prefix..];
        var suffix = 0;
        while (suffix < a.Length && suffix < b.Length && a[^(suffix + 1)] == b[^(suffix + 1)])
        {
            suffix++;
        }
        a = a[..^suffix];
        b = b[..^suffix];
        if (a.Length < b.Length)
        {
            var t = a;
            a = b;
            b = t;
        }
        if (b.IsEmpty)
        {
            return a.Length;
        }

        int[]? rented = null;
        var row = b.Length < 256 ? stackalloc int[b.Length + 1] : (rented = ArrayPool<int>.Shared.Rent(b.Length + 1)).AsSpan(0, b.Length + 1);
        try
        {
            for (var j = 0; j <= b.Length; j++)
            {
                row[j] = j;
            }
            for (var i = 1; i <= a.Length; i++)
            {
                var diagonal = row[0];
                row[0] = i;
                var ca = a[i - 1];
                for (var j = 1; j <= b.Length; j++)
                {
                    var above = row[j];
                    var cost = ca == b[j - 1] ? diagonal : diagonal + 1;
                    row[j] = Math.Min(cost, Math.Min(above, row[j - 1]) + 1);
                    diagonal = above;
                }
            }
            return row[b.Length];
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Normalised edit similarity 1 - Levenshtein / max(length): 1 for equal texts (also both empty), 0 for nothing in common.</summary>
    public static double EditSimilarity(ReadOnlySpan<char> a, ReadOnlySpan<char> b)
    {
        var longest = Math.Max(a.Length, b.Length);
        return longest == 0 ? 1 : 1 - ((double)Levenshtein(a, b) / longest);
    }

    /// <summary>
    /// Mean pairwise edit similarity: per item, the mean similarity over all pairs of its answers, averaged
    /// over items with at least two answers. Not chance-corrected (texts have no chance model worth the name).
    /// </summary>
    public static double MeanPairwiseEditSimilarity(ReadOnlySpan<TextAnswer> answers)
    {
        var byItem = new Dictionary<int, List<string>>();
        foreach (ref readonly var a in answers)
        {
            if (!byItem.TryGetValue(a.Item, out var list))
            {
                byItem[a.Item] = list = [];
            }
            list.Add(a.Text);
        }
        double sum = 0;
        var used = 0;
        foreach (var texts in byItem.Values)
        {
            if (texts.Count < 2)
            {
                continue;
            }
            double itemSum = 0;
            var pairs = 0;
            for (var i = 0; i < texts.Count; i++)
            {
                for (var j = i + 1; j < texts.Count; j++)
                {
                    itemSum += EditSimilarity(texts[i], texts[j]);
                    pairs++;
                }
            }
            sum += itemSum / pairs;
            used++;
        }
        return used == 0 ? double.NaN : sum / used;
    }
}
