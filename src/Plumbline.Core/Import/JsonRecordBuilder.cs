using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Plumbline.Core.Import;

/// <summary>Parses the raw bytes of one JSON record (a JSONL line or an array element) and maps it.</summary>
internal sealed class JsonRecordBuilder(ImportOptions options)
{
    // Duplicate keys are rejected: which of two values a user meant is a guess we should not make silently.
    private static readonly JsonDocumentOptions DocumentOptions = new() { AllowDuplicateProperties = false };

    private readonly RecordMapper _mapper = new(options);

    public ImportOptions Options => options;

    /// <summary>
    /// Builds the entry for <paramref name="raw"/>, or returns null when it is only whitespace (a blank line).
    /// </summary>
    /// <param name="raw">The record's bytes.</param>
    /// <param name="line">1-based line where <paramref name="raw"/> starts.</param>
    /// <param name="column">0-based byte column of <paramref name="raw"/> in that line.</param>
    /// <param name="offset">Offset of <paramref name="raw"/> in the decoded input.</param>
    public ImportEntry? TryBuild(ReadOnlySpan<byte> raw, long line, int column, long offset)
    {
        var trimmed = ImportText.TrimJsonWhitespace(raw, out int leading);
        if (trimmed.IsEmpty)
        {
            return null;
        }

        column += leading;
        offset += leading;
        if (trimmed.Length > options.MaxRecordBytes)
        {
            return ImportEntry.Fail(line, ImportText.RecordTooLarge(trimmed.Length, options.MaxRecordBytes));
        }

        int bad = ImportText.InvalidUtf8Index(trimmed);
        if (bad >= 0)
        {
            return ImportEntry.Fail(line, ImportText.InvalidUtf8(offset + bad));
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(trimmed, documentOptions: DocumentOptions);
        }
        catch (JsonException ex)
        {
            long at = line + (ex.LineNumber ?? 0);
            long col = (ex.LineNumber is null or 0 ? column : 0) + (ex.BytePositionInLine ?? 0) + 1;
            return ImportEntry.Fail(line, $"invalid JSON at line {at}, column {col}: {ImportText.JsonReason(ex)}");
        }

        if (node is not JsonObject obj)
        {
            return ImportEntry.Fail(line, $"record is {ImportText.Kind(node)}, not a JSON object");
        }

        // Unescaped strings are never longer than the raw text, so small records skip the walk.
        if (trimmed.Length > options.MaxFieldBytes && FindLongString(obj, options.MaxFieldBytes) is { } tooLong)
        {
            return ImportEntry.Fail(line, ImportText.FieldTooLarge(tooLong.Path, tooLong.Bytes, options.MaxFieldBytes));
        }

        return _mapper.Map(obj, trimmed, line);
    }

    /// <summary>Maps an object built from a CSV row.</summary>
    public ImportEntry Map(JsonObject obj, ReadOnlySpan<byte> raw, long line) => _mapper.Map(obj, raw, line);

    private static (string Path, long Bytes)? FindLongString(JsonNode node, int max)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, child) in o)
                {
                    if (child is not null && FindLongString(child, max) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            case JsonArray a:
                foreach (var child in a)
                {
                    if (child is not null && FindLongString(child, max) is { } found)
                    {
                        return found;
                    }
                }

                return null;
            default:
                if (RecordMapper.TryGetString(node, out var s) && s.Length > max / 3 && Encoding.UTF8.GetByteCount(s) is var n && n > max)
                {
                    return (FieldPath(node), n);
                }

                return null;
        }
    }

    /// <summary>"$.messages[2].content" → "messages[2].content".</summary>
    private static string FieldPath(JsonNode node)
    {
        var path = node.GetPath();
        return path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : path.TrimStart('$');
    }
}
