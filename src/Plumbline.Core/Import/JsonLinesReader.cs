using System.Runtime.CompilerServices;

namespace Plumbline.Core.Import;

/// <summary>JSON Lines: each line is one record; a bad line never affects the next.</summary>
internal static class JsonLinesReader
{
    public static async IAsyncEnumerable<ImportEntry> ReadAsync(
        InputBuffer buf, JsonRecordBuilder builder, long line, [EnumeratorCancellation] CancellationToken ct)
    {
        int max = builder.Options.MaxRecordBytes;
        int scanned = 0;     // bytes of the current line already searched for '\n'
        long dropped = -1;   // bytes of an over-long line already thrown away, or -1 when the line is kept
        while (true)
        {
            int nl = IndexOfNewline(buf, scanned);
            if (nl < 0)
            {
                scanned = buf.Length;
                if (dropped < 0 && scanned > max)
                {
                    dropped = 0;
                }

                if (dropped >= 0)
                {
                    // Too long to keep: count it, drop it, and keep looking for its end so the next line still reads.
                    dropped += scanned;
                    buf.Start = buf.End;
                    scanned = 0;
                }

                if (await buf.FillAsync(ct).ConfigureAwait(false))
                {
                    continue;
                }

                if (buf.Failure is { } failure)
                {
                    yield return ImportEntry.Fail(line, failure);
                }
                else if (dropped >= 0)
                {
                    yield return ImportEntry.Fail(line, ImportText.RecordTooLarge(dropped, max));
                }
                else if (Build(buf, builder, buf.Length, line) is { } last)
                {
                    yield return last;
                }

                yield break;
            }

            ImportEntry? entry = dropped >= 0
                ? ImportEntry.Fail(line, ImportText.RecordTooLarge(dropped + nl, max))
                : Build(buf, builder, nl, line);
            buf.Start += nl + 1;
            scanned = 0;
            dropped = -1;
            line++;
            if (entry is { } e)
            {
                yield return e;
            }
        }
    }

    /// <summary>Length of the current line if its '\n' is buffered, else -1.</summary>
    private static int IndexOfNewline(InputBuffer buf, int scanned)
    {
        int i = buf.Array.AsSpan(buf.Start + scanned, buf.Length - scanned).IndexOf((byte)'\n');
        return i < 0 ? -1 : scanned + i;
    }

    private static ImportEntry? Build(InputBuffer buf, JsonRecordBuilder builder, int length, long line) =>
        builder.TryBuild(buf.Array.AsMemory(buf.Start, length), line, 0, buf.AbsoluteOffset(buf.Start));
}
