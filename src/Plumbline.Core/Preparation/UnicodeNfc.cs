using System.Buffers;
using System.Globalization;

namespace Plumbline.Core.Preparation;

/// <summary>
/// Unicode Normalization Form C, implemented from generated tables.
/// </summary>
/// <remarks>
/// Why not <see cref="string.Normalize()"/>: the solution runs with InvariantGlobalization, where the runtime's
/// normalization is a silent no-op (it needs ICU). The tables come from gen_unicode_nfc.py (Python's unicodedata).
/// Texts without any code point that NFC could change (all of ASCII and Latin-1, most other scripts) leave on a
/// vectorised fast path without allocation.
/// </remarks>
public static class UnicodeNfc
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly ulong[] BmpFlags = new ulong[65536 / 64];
    private static readonly (int First, int Last)[] SupplementaryFlags;
    private static readonly Dictionary<int, byte> Ccc = [];
    private static readonly Dictionary<int, int[]> FullDecomposition = [];
    private static readonly Dictionary<long, int> Composition = [];

#pragma warning disable CA1810 // the tables are parsed once, in dependency order; field initialisers cannot express that
    static UnicodeNfc()
#pragma warning restore CA1810
    {
        foreach (var run in UnicodeNfcData.CombiningClasses.Split(';'))
        {
            var colon = run.IndexOf(':', StringComparison.Ordinal);
            var (first, last) = ParseRange(run.AsSpan(0, colon));
            var cls = byte.Parse(run.AsSpan(colon + 1), CultureInfo.InvariantCulture);
            for (var cp = first; cp <= last; cp++)
            {
                Ccc[cp] = cls;
            }
        }

        var oneLevel = new Dictionary<int, int[]>();
        foreach (var entry in UnicodeNfcData.Decompositions.Split(';'))
        {
            var excluded = entry[0] == '!';
            var body = excluded ? entry.AsSpan(1) : entry.AsSpan();
            var eq = body.IndexOf('=');
            var cp = Hex(body[..eq]);
            var parts = body[(eq + 1)..].ToString().Split(' ');
            var mapped = new int[parts.Length];
            for (var i = 0; i < parts.Length; i++)
            {
                mapped[i] = Hex(parts[i]);
            }

            oneLevel[cp] = mapped;
            if (!excluded)
            {
                Composition[Key(mapped[0], mapped[1])] = cp;
            }
        }

        foreach (var cp in oneLevel.Keys)
        {
            var full = new List<int>();
            Expand(cp, oneLevel, full);
            FullDecomposition[cp] = [.. full];
        }

        var supplementary = new List<(int, int)>();
        foreach (var range in UnicodeNfcData.QuickCheckFlags.Split(';'))
        {
            var (first, last) = ParseRange(range);
            for (var cp = first; cp <= Math.Min(last, 0xFFFF); cp++)
            {
                BmpFlags[cp >> 6] |= 1UL << (cp & 63);
            }

            if (last > 0xFFFF)
            {
                supplementary.Add((Math.Max(first, 0x10000), last));
            }
        }

        SupplementaryFlags = [.. supplementary];
    }

    /// <summary>Returns the NFC form of <paramref name="text"/>; the same instance when it is already NFC.</summary>
    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return IsSurelyNormalized(text) ? text : NormalizeSlow(text);
    }

    /// <summary>
    /// True when no code point of the text can change under NFC. A false answer only means "maybe": the slow path
    /// then computes the form and compares.
    /// </summary>
    internal static bool IsSurelyNormalized(ReadOnlySpan<char> text)
    {
        // Nothing below U+0300 is affected by NFC, and most text is below it: one vectorised search decides.
        var i = text.IndexOfAnyInRange('\u0300', '\uFFFF');
        if (i < 0)
        {
            return true;
        }

        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (c < '\u0300')
            {
                continue;
            }

            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                if (IsSupplementaryFlagged(char.ConvertToUtf32(c, text[i + 1])))
                {
                    return false;
                }

                i++;
                continue;
            }

            if ((BmpFlags[c >> 6] & (1UL << (c & 63))) != 0)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsSupplementaryFlagged(int cp)
    {
        var lo = 0;
        var hi = SupplementaryFlags.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >> 1;
            var (first, last) = SupplementaryFlags[mid];
            if (cp < first)
            {
                hi = mid - 1;
            }
            else if (cp > last)
            {
                lo = mid + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }

    private static string NormalizeSlow(string text)
    {
        var buffer = ArrayPool<int>.Shared.Rent(text.Length * 4 + 8);
        try
        {
            var n = 0;
            for (var i = 0; i < text.Length; i++)
            {
                int cp = text[i];
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    cp = char.ConvertToUtf32(text[i], text[i + 1]);
                    i++;
                }

                n = Decompose(cp, buffer, n);
            }

            Reorder(buffer.AsSpan(0, n));
            n = Compose(buffer.AsSpan(0, n));

            var result = new System.Text.StringBuilder(n);
            for (var i = 0; i < n; i++)
            {
                var cp = buffer[i];
                if (cp > 0xFFFF)
                {
                    result.Append(char.ConvertFromUtf32(cp));
                }
                else
                {
                    result.Append((char)cp);
                }
            }

            var normalized = result.ToString();
            return normalized == text ? text : normalized;
        }
        finally
        {
            ArrayPool<int>.Shared.Return(buffer);
        }
    }

    private static int Decompose(int cp, int[] buffer, int n)
    {
        var s = cp - SBase;
        if (s is >= 0 and < SCount)
        {
            buffer[n++] = LBase + s / NCount;
            buffer[n++] = VBase + s % NCount / TCount;
            var t = s % TCount;
            if (t != 0)
            {
                buffer[n++] = TBase + t;
            }

            return n;
        }

        if (FullDecomposition.TryGetValue(cp, out var parts))
        {
            parts.CopyTo(buffer, n);
            return n + parts.Length;
        }

        buffer[n++] = cp;
        return n;
    }

    private static void Reorder(Span<int> cps)
    {
        // Canonical ordering: a stable sort by class inside each run of non-starters (runs are short).
        for (var i = 1; i < cps.Length; i++)
        {
            var cls = ClassOf(cps[i]);
            if (cls == 0)
            {
                continue;
            }

            var j = i;
            while (j > 0 && ClassOf(cps[j - 1]) > cls)
            {
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
                j--;
            }
        }
    }

    private static int Compose(Span<int> cps)
    {
        if (cps.Length == 0)
        {
            return 0;
        }

        // The composition algorithm of UAX #15: a character combines with the last starter unless blocked.
        var starterPos = 0;
        var lastClass = ClassOf(cps[0]) == 0 ? 0 : 256;
        var write = 1;
        for (var i = 1; i < cps.Length; i++)
        {
            var ch = cps[i];
            var cls = ClassOf(ch);
            var composite = ComposePair(cps[starterPos], ch);
            if (composite >= 0 && (lastClass < cls || lastClass == 0))
            {
                cps[starterPos] = composite;
                continue;
            }

            if (cls == 0)
            {
                starterPos = write;
            }

            lastClass = cls;
            cps[write++] = ch;
        }

        return write;
    }

    private static int ComposePair(int a, int b)
    {
        var l = a - LBase;
        if (l is >= 0 and < LCount)
        {
            var v = b - VBase;
            return v is >= 0 and < VCount ? SBase + (l * VCount + v) * TCount : -1;
        }

        var s = a - SBase;
        if (s is >= 0 and < SCount && s % TCount == 0)
        {
            var t = b - TBase;
            return t is > 0 and < TCount ? a + t : -1;
        }

        return Composition.TryGetValue(Key(a, b), out var c) ? c : -1;
    }

    private static int ClassOf(int cp) => cp < 0x300 ? 0 : Ccc.TryGetValue(cp, out var c) ? c : 0;

    private static long Key(int a, int b) => ((long)a << 21) | (uint)b;

    private static void Expand(int cp, Dictionary<int, int[]> oneLevel, List<int> into)
    {
        if (oneLevel.TryGetValue(cp, out var parts))
        {
            foreach (var p in parts)
            {
                Expand(p, oneLevel, into);
            }
        }
        else
        {
            into.Add(cp);
        }
    }

    private static (int First, int Last) ParseRange(ReadOnlySpan<char> range)
    {
        var dash = range.IndexOf('-');
        return (Hex(range[..dash]), Hex(range[(dash + 1)..]));
    }

    private static int Hex(ReadOnlySpan<char> s) => int.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
