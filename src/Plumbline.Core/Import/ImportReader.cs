using System.Runtime.CompilerServices;

namespace Plumbline.Core.Import;

/// <summary>
/// Streaming reader for import files (JSON Lines, JSON arrays, CSV; optionally gzip-compressed) that maps
/// each record to the canonical form. It holds one record at a time, so memory does not grow with the file.
/// </summary>
public static class ImportReader
{
    /// <summary>
    /// Streams one entry per input record, in file order: exactly one of <see cref="ImportEntry.Record"/> and
    /// <see cref="ImportEntry.Error"/> is set. A bad record yields an error and reading goes on; a broken
    /// container (not JSON, truncated array, unclosed CSV quote, corrupt gzip) yields one error and ends the stream.
    /// </summary>
    /// <param name="input">The file content; read forward once, not disposed.</param>
    /// <param name="format">Container format, or <see cref="ImportFormat.Auto"/> to detect it.</param>
    /// <param name="options">Limits and the file name hint.</param>
    /// <param name="ct">Cancels reading.</param>
    public static IAsyncEnumerable<ImportEntry> ReadAsync(Stream input, ImportFormat format, ImportOptions options, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxFieldBytes);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(options.MaxRecordBytes);
        if (!Enum.IsDefined(format))
        {
            throw new ArgumentOutOfRangeException(nameof(format), format, "unknown import format");
        }

        return ReadCoreAsync(input, format, options, ct);
    }

    private static async IAsyncEnumerable<ImportEntry> ReadCoreAsync(
        Stream input, ImportFormat format, ImportOptions options, [EnumeratorCancellation] CancellationToken ct)
    {
        using var buf = new InputBuffer(input);
        await buf.EnsureAsync(4, ct).ConfigureAwait(false);
        if (buf.Length >= 2 && buf.Array[buf.Start] == 0x1F && buf.Array[buf.Start + 1] == 0x8B)
        {
            buf.SwitchToGzip();
            await buf.EnsureAsync(4, ct).ConfigureAwait(false);
        }

        var head = buf.Span;
        if (head.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            buf.Start += 3;
        }
        else if (head.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]) || head.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            yield return ImportEntry.Fail(1, "the file is UTF-16; save it as UTF-8");
            yield break;
        }

        // Find the first meaningful byte, counting the blank lines before it.
        long line = 1;
        int first = -1;
        while (true)
        {
            var span = buf.Span;
            int i = 0;
            while (i < span.Length && ImportText.IsJsonWhitespace(span[i]))
            {
                if (span[i] == (byte)'\n')
                {
                    line++;
                }

                i++;
            }

            buf.Start += i;
            if (buf.Length > 0)
            {
                first = buf.Array[buf.Start];
                break;
            }

            if (!await buf.FillAsync(ct).ConfigureAwait(false))
            {
                break;
            }
        }

        if (buf.Failure is { } failure)
        {
            yield return ImportEntry.Fail(line, failure);
            yield break;
        }

        var resolved = format == ImportFormat.Auto ? Detect(first, options.FileName) : format;
        if (resolved is null)
        {
            yield return ImportEntry.Fail(line, first < 0
                ? "the file is empty"
                : $"cannot tell the format: the file starts with {ImportText.Byte((byte)first)}, and a JSON file starts with '[' or '{{'");
            yield break;
        }

        if (resolved == ImportFormat.Jsonl && first >= 0 && first != '{' && first != '[')
        {
            yield return ImportEntry.Fail(line, $"not JSON Lines: line {line} starts with {ImportText.Byte((byte)first)}, expected '{{'");
            yield break;
        }

        var builder = new JsonRecordBuilder(options);
        var entries = resolved switch
        {
            ImportFormat.Jsonl => JsonLinesReader.ReadAsync(buf, builder, line, ct),
            ImportFormat.Json => JsonValueReader.ReadAsync(buf, builder, line, sequence: first == '{', ct),
            _ => CsvReader.ReadAsync(buf, builder, line, ct),
        };

        await foreach (var entry in entries.ConfigureAwait(false))
        {
            yield return entry;
        }
    }

    /// <summary>
    /// Content decides between the JSON forms; the file name decides for CSV and JSON Lines, and keeps
    /// binary or mislabelled files from being read as CSV.
    /// </summary>
    private static ImportFormat? Detect(int first, string? fileName)
    {
        var hint = HintFromName(fileName);
        if (hint is ImportFormat.Csv or ImportFormat.Jsonl)
        {
            return hint;
        }

        return first switch
        {
            '[' => ImportFormat.Json,
            '{' => ImportFormat.Jsonl,
            < 0 => null,
            _ when hint == ImportFormat.Json => null,
            _ when first < 0x09 || first is 0x0E or 0x0F => null, // control bytes: binary, not CSV
            _ => ImportFormat.Csv,
        };
    }

    private static ImportFormat? HintFromName(string? fileName)
    {
        if (string.IsNullOrEmpty(fileName))
        {
            return null;
        }

        var name = fileName.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? fileName[..^3] : fileName;
        var ext = Path.GetExtension(name).ToLowerInvariant();
        return ext switch
        {
            ".csv" => ImportFormat.Csv,
            ".jsonl" or ".ndjson" => ImportFormat.Jsonl,
            ".json" => ImportFormat.Json,
            _ => null,
        };
    }
}
