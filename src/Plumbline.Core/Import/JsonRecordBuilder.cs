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
    public ImportEntry? TryBuild(ReadOnlyMemory<byte> raw, long line, int column, long offset)
    {
        ImportText.TrimJsonWhitespace(raw.Span, out int leading, out int length);
        var memory = raw.Slice(leading, length);
        var trimmed = memory.Span;
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

        JsonDocument doc;
        try
        {
            // Parsed in place from the read buffer, with pooled metadata: nothing of it outlives this call.
            doc = JsonDocument.Parse(memory, DocumentOptions);
        }
        catch (JsonException ex)
        {
            long at = line + (ex.LineNumber ?? 0);
            long col = (ex.LineNumber is null or 0 ? column : 0) + (ex.BytePositionInLine ?? 0) + 1;
            return ImportEntry.Fail(line, $"invalid JSON at line {at}, column {col}: {ImportText.JsonReason(ex)}");
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return ImportEntry.Fail(line, $"record is {ImportText.Kind(root.ValueKind)}, not a JSON object");
            }

            // Unescaped strings are never longer than the raw text, so small records skip the walk.
            if (trimmed.Length > options.MaxFieldBytes && JsonNodes.FindLongString(root, options.MaxFieldBytes) is { } tooLong)
            {
                return ImportEntry.Fail(line, ImportText.FieldTooLarge(tooLong.Path.TrimStart('.'), tooLong.Bytes, options.MaxFieldBytes));
            }

            return _mapper.Map(root, trimmed, line);
        }
    }

    /// <summary>Maps a record given as JSON text built elsewhere (a CSV row), hashing <paramref name="raw"/> for its id.</summary>
    public ImportEntry Map(ReadOnlyMemory<byte> json, ReadOnlySpan<byte> raw, long line)
    {
        using var doc = JsonDocument.Parse(json, DocumentOptions);
        return _mapper.Map(doc.RootElement, raw, line);
    }
}
