using System.Text;

namespace Plumbline.Core.Preparation;

/// <summary>
/// Repairs text that was UTF-8 but decoded as Windows-1252 or Latin-1 ("CafÃ©" for "Café"), once or several times.
/// </summary>
/// <remarks>
/// The repair is local rather than whole-string: scraped and merged data often mixes correct and garbled parts in one
/// value. Each run of characters that map back to the bytes of one well-formed UTF-8 sequence is replaced by the
/// character it encodes. Two-byte sequences are only accepted when they decode to scripts that real mojibake comes
/// from (Latin, Greek, Cyrillic, Hebrew, Arabic): that keeps genuine pairs such as "ß“" (bytes DF 93, which would
/// decode to an N'Ko letter) untouched.
/// </remarks>
public static class Mojibake
{
    private const int MaxPasses = 3;

    /// <summary>Repairs mojibake; returns the same instance and 0 when nothing was found.</summary>
    /// <param name="text">The text to repair.</param>
    /// <param name="repairs">How many sequences were replaced, over all passes.</param>
    public static string Repair(string text, out int repairs)
    {
        ArgumentNullException.ThrowIfNull(text);
        repairs = 0;

        // Every sequence starts with a lead byte C2..F4, which both code pages show as U+00C2..U+00F4.
        if (text.AsSpan().IndexOfAnyInRange('\u00C2', '\u00F4') < 0)
        {
            return text;
        }

        var current = text;
        for (var pass = 0; pass < MaxPasses; pass++)
        {
            var repaired = RepairOnce(current, out var count);
            if (count == 0)
            {
                break;
            }

            repairs += count;
            current = repaired;
            if (current.AsSpan().IndexOfAnyInRange('\u00C2', '\u00F4') < 0)
            {
                break;
            }
        }

        return current;
    }

    private static string RepairOnce(string text, out int count)
    {
        count = 0;
        StringBuilder? sb = null;
        var copiedUpTo = 0;
        Span<byte> bytes = stackalloc byte[4];
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c is < '\u00C2' or > '\u00F4')
            {
                continue;
            }

            var length = c < '\u00E0' ? 2 : c < '\u00F0' ? 3 : 4;
            if (i + length > text.Length)
            {
                continue;
            }

            bytes[0] = (byte)c;
            var ok = true;
            for (var k = 1; k < length; k++)
            {
                var b = ToByte(text[i + k]);
                if (b is < 0x80 or > 0xBF)
                {
                    ok = false;
                    break;
                }

                bytes[k] = (byte)b;
            }

            if (!ok || !TryDecode(bytes[..length], out var cp))
            {
                continue;
            }

            sb ??= new StringBuilder(text.Length);
            sb.Append(text, copiedUpTo, i - copiedUpTo);
            if (cp > 0xFFFF)
            {
                sb.Append(char.ConvertFromUtf32(cp));
            }
            else
            {
                sb.Append((char)cp);
            }

            count++;
            i += length - 1;
            copiedUpTo = i + 1;
        }

        if (sb is null)
        {
            return text;
        }

        sb.Append(text, copiedUpTo, text.Length - copiedUpTo);
        return sb.ToString();
    }

    private static bool TryDecode(ReadOnlySpan<byte> b, out int cp)
    {
        switch (b.Length)
        {
            case 2:
                cp = ((b[0] & 0x1F) << 6) | (b[1] & 0x3F);
                return IsPlausibleTwoByte(cp);
            case 3:
                cp = ((b[0] & 0x0F) << 12) | ((b[1] & 0x3F) << 6) | (b[2] & 0x3F);
                // Overlong forms, surrogates and private use are never what the writer meant.
                return cp >= 0x800 && cp is < 0xD800 or > 0xDFFF && cp is < 0xE000 or > 0xF8FF && cp < 0xFFFE;
            default:
                cp = ((b[0] & 0x07) << 18) | ((b[1] & 0x3F) << 12) | ((b[2] & 0x3F) << 6) | (b[3] & 0x3F);
                return cp is >= 0x10000 and <= 0x10FFFF;
        }
    }

    // C1 controls, ˆ and ˜ are allowed because a text garbled twice passes through them (they are 1252 characters).
    private static bool IsPlausibleTwoByte(int cp) =>
        cp is (>= 0x80 and <= 0x24F) or 0x2C6 or 0x2DC or (>= 0x300 and <= 0x52F) or (>= 0x590 and <= 0x6FF);

    /// <summary>The byte a character came from when bytes were decoded as Windows-1252 or Latin-1; -1 if none.</summary>
    internal static int ToByte(char c) => c switch
    {
        <= '\u00FF' => c,
        '\u20AC' => 0x80,
        '\u201A' => 0x82,
        '\u0192' => 0x83,
        '\u201E' => 0x84,
        '\u2026' => 0x85,
        '\u2020' => 0x86,
        '\u2021' => 0x87,
        '\u02C6' => 0x88,
        '\u2030' => 0x89,
        '\u0160' => 0x8A,
        '\u2039' => 0x8B,
        '\u0152' => 0x8C,
        '\u017D' => 0x8E,
        '\u2018' => 0x91,
        '\u2019' => 0x92,
        '\u201C' => 0x93,
        '\u201D' => 0x94,
        '\u2022' => 0x95,
        '\u2013' => 0x96,
        '\u2014' => 0x97,
        '\u02DC' => 0x98,
        '\u2122' => 0x99,
        '\u0161' => 0x9A,
        '\u203A' => 0x9B,
        '\u0153' => 0x9C,
        '\u017E' => 0x9E,
        '\u0178' => 0x9F,
        _ => -1,
    };
}
