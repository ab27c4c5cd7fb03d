using System.Buffers;

namespace Plumbline.Core.Preparation;

/// <summary>What <see cref="TextNormalizer.Normalize"/> changed in a text.</summary>
[Flags]
public enum TextChanges
{
    /// <summary>Nothing changed.</summary>
    None = 0,

    /// <summary>UTF-8 read as Windows-1252 or Latin-1 was repaired.</summary>
    Mojibake = 1,

    /// <summary>The text was put in Unicode Normalization Form C.</summary>
    Nfc = 2,

    /// <summary>Control, zero-width or byte-order-mark characters were removed.</summary>
    ControlCharacters = 4,

    /// <summary>Line breaks became "\n", unusual spaces became " ", trailing spaces and outer blank space were trimmed.</summary>
    Whitespace = 8,
}

/// <summary>
/// Text normalisation of the preparation step: mojibake repair, then control characters and whitespace, then NFC.
/// </summary>
/// <remarks>
/// Runs of spaces inside a line are kept on purpose: the data is full of code and tables where indentation means
/// something. Tabs are kept for the same reason. Mojibake goes first because Latin-1 mojibake contains C1 control
/// characters that the control pass would otherwise delete; NFC goes last so that a removed zero-width character
/// between a letter and its accent no longer blocks composition.
/// </remarks>
public static class TextNormalizer
{
    // Characters that always need the slow pass: C0 controls but tab and line feed, DEL and C1 controls, no-break
    // and other unusual spaces, soft hyphen, line/paragraph separators, zero-width space, word joiner and BOM.
    private static readonly SearchValues<char> Special = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000B\u000C\u000D\u000E\u000F" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001A\u001B\u001C\u001D\u001E\u001F" +
        "\u007F\u0080\u0081\u0082\u0083\u0084\u0085\u0086\u0087\u0088\u0089\u008A\u008B\u008C\u008D\u008E\u008F" +
        "\u0090\u0091\u0092\u0093\u0094\u0095\u0096\u0097\u0098\u0099\u009A\u009B\u009C\u009D\u009E\u009F" +
        "\u00A0\u00AD\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u200B" +
        "\u2028\u2029\u202F\u205F\u2060\u3000\uFEFF");

    /// <summary>Normalises one text; returns the same instance when nothing changed.</summary>
    /// <param name="text">The text.</param>
    /// <param name="changes">Which kinds of change were made.</param>
    /// <param name="mojibakeRepairs">How many garbled sequences were repaired.</param>
    public static string Normalize(string text, out TextChanges changes, out int mojibakeRepairs)
    {
        ArgumentNullException.ThrowIfNull(text);
        changes = TextChanges.None;

        var current = Mojibake.Repair(text, out mojibakeRepairs);
        if (mojibakeRepairs > 0)
        {
            changes |= TextChanges.Mojibake;
        }

        current = CleanWhitespace(current, ref changes);

        var nfc = UnicodeNfc.Normalize(current);
        if (!ReferenceEquals(nfc, current))
        {
            changes |= TextChanges.Nfc;
            current = nfc;
        }

        return current;
    }

    private static bool NeedsCleaning(ReadOnlySpan<char> s) =>
        s.Length > 0 && (
            s.IndexOfAny(Special) >= 0
            || s[0] is ' ' or '\t' or '\n'
            || s[^1] is ' ' or '\t' or '\n'
            || s.IndexOf(" \n", StringComparison.Ordinal) >= 0
            || s.IndexOf("\t\n", StringComparison.Ordinal) >= 0);

    private static string CleanWhitespace(string text, ref TextChanges changes)
    {
        if (!NeedsCleaning(text))
        {
            return text;
        }

        var buffer = ArrayPool<char>.Shared.Rent(text.Length);
        try
        {
            var n = 0;
            var removedControl = false;
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                switch (c)
                {
                    case '\r':
                        if (i + 1 < text.Length && text[i + 1] == '\n')
                        {
                            i++;
                        }

                        n = NewLine(buffer, n);
                        break;
                    case '\n' or '\u0085' or '\u2028' or '\u2029' or '\u000B' or '\u000C':
                        n = NewLine(buffer, n);
                        break;
                    case '\t' or ' ':
                        buffer[n++] = c;
                        break;
                    case '\u00A0' or '\u1680' or (>= '\u2000' and <= '\u200A') or '\u202F' or '\u205F' or '\u3000':
                        buffer[n++] = ' ';
                        break;
                    case < ' ' or (>= '\u007F' and <= '\u009F') or '\u00AD' or '\u200B' or '\u2060' or '\uFEFF':
                        removedControl = true;
                        break;
                    default:
                        buffer[n++] = c;
                        break;
                }
            }

            // Trailing blank space of the whole text, then leading.
            while (n > 0 && buffer[n - 1] is ' ' or '\t' or '\n')
            {
                n--;
            }

            var start = 0;
            while (start < n && buffer[start] is ' ' or '\t' or '\n')
            {
                start++;
            }

            var result = buffer.AsSpan(start, n - start);
            if (result.SequenceEqual(text))
            {
                return text;
            }

            if (removedControl)
            {
                changes |= TextChanges.ControlCharacters;
            }

            if (!removedControl || WhitespaceDiffers(text, result))
            {
                changes |= TextChanges.Whitespace;
            }

            return new string(result);
        }
        finally
        {
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    // Trims spaces and tabs before a line break as the break is written.
    private static int NewLine(char[] buffer, int n)
    {
        while (n > 0 && buffer[n - 1] is ' ' or '\t')
        {
            n--;
        }

        buffer[n] = '\n';
        return n + 1;
    }

    // When controls were removed, only report a whitespace change if the text differs in more than the removals.
    private static bool WhitespaceDiffers(string original, ReadOnlySpan<char> result)
    {
        var j = 0;
        foreach (var c in original)
        {
            if (c is < ' ' and not ('\t' or '\n' or '\r' or '\u000B' or '\u000C')
                or (>= '\u007F' and <= '\u009F' and not '\u0085') or '\u00AD' or '\u200B' or '\u2060' or '\uFEFF')
            {
                continue;
            }

            if (j >= result.Length || result[j] != c)
            {
                return true;
            }

            j++;
        }

        return j != result.Length;
    }
}
