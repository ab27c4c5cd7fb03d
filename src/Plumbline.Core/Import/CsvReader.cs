using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Plumbline.Core.Import;

/// <summary>
/// RFC 4180 CSV with a header row: quoted fields, doubled quotes, newlines inside quotes, CRLF or LF.
/// Each row becomes a JSON object (cells that hold JSON arrays or objects stay JSON) and is then mapped
/// like any JSON record, so a CSV of prompt/chosen/rejected columns is recognised too.
/// </summary>
internal static class CsvReader
{
    private const string MetadataPrefix = "metadata.";
    private const string GoldPrefix = "gold.";

    public static async IAsyncEnumerable<ImportEntry> ReadAsync(
        InputBuffer buf, JsonRecordBuilder builder, long line, [EnumeratorCancellation] CancellationToken ct)
    {
        var options = builder.Options;
        var scanner = new Scanner(line);
        using var scratch = new Scratch();
        string[]? header = null;
        while (true)
        {
            switch (scanner.Next(buf, options.MaxRecordBytes))
            {
                case Step.NeedMore:
                    if (!await buf.FillAsync(ct).ConfigureAwait(false))
                    {
                        if (buf.Failure is { } failure)
                        {
                            yield return ImportEntry.Fail(scanner.Line, failure);
                            yield break;
                        }

                        scanner.AtEnd = true;
                    }

                    break;
                case Step.Row:
                    if (scanner.RowLength == 0 && scanner.Dropped == 0)
                    {
                        scanner.ConsumeRow(buf); // empty line
                        break;
                    }

                    if (header is null)
                    {
                        var error = ReadHeader(buf, scanner, options, out header);
                        scanner.ConsumeRow(buf);
                        if (error is not null)
                        {
                            yield return ImportEntry.Fail(scanner.RowLine, error);
                            yield break;
                        }

                        break;
                    }

                    var entry = BuildRow(buf, scanner, header, builder, scratch);
                    scanner.ConsumeRow(buf);
                    yield return entry;
                    break;
                case Step.Error:
                    yield return ImportEntry.Fail(scanner.ErrorLine, scanner.Error!);
                    yield break;
                default:
                    if (header is null)
                    {
                        yield return ImportEntry.Fail(scanner.Line, "the CSV file has no header row");
                    }

                    yield break;
            }
        }
    }

    private static string? ReadHeader(InputBuffer buf, Scanner scanner, ImportOptions options, out string[] header)
    {
        header = [];
        if (scanner.Dropped > 0)
        {
            return $"the header row is {ImportText.Size(scanner.Dropped + scanner.RowLength)}, over the {ImportText.Size(options.MaxRecordBytes)} limit";
        }

        var row = buf.Array.AsSpan(buf.Start, scanner.RowLength);
        int bad = ImportText.InvalidUtf8Index(row);
        if (bad >= 0)
        {
            return ImportText.InvalidUtf8(buf.AbsoluteOffset(buf.Start) + bad);
        }

        var names = new string[scanner.Fields.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int c = 0; c < names.Length; c++)
        {
            var name = Decode(buf, scanner.Fields[c]).Trim();
            if (name.Length == 0 || name is MetadataPrefix or GoldPrefix)
            {
                return $"header column {c + 1} has no name";
            }

            if (!seen.Add(name))
            {
                return $"header column {c + 1} '{name}' appears twice";
            }

            names[c] = name;
        }

        foreach (var reserved in (ReadOnlySpan<string>)["metadata", "gold"])
        {
            if (seen.Contains(reserved) && Array.Exists(names, n => n.StartsWith(reserved + ".", StringComparison.Ordinal)))
            {
                return $"the header has both a '{reserved}' column and '{reserved}.<key>' columns; use one or the other";
            }
        }

        header = names;
        return null;
    }

    private static ImportEntry BuildRow(InputBuffer buf, Scanner scanner, string[] header, JsonRecordBuilder builder, Scratch scratch)
    {
        var options = builder.Options;
        long line = scanner.RowLine;
        if (scanner.Dropped > 0)
        {
            return ImportEntry.Fail(line, ImportText.RecordTooLarge(scanner.Dropped + scanner.RowLength, options.MaxRecordBytes));
        }

        var row = buf.Array.AsSpan(buf.Start, scanner.RowLength);
        if (row.Length > options.MaxRecordBytes)
        {
            return ImportEntry.Fail(line, ImportText.RecordTooLarge(row.Length, options.MaxRecordBytes));
        }

        int bad = ImportText.InvalidUtf8Index(row);
        if (bad >= 0)
        {
            return ImportEntry.Fail(line, ImportText.InvalidUtf8(buf.AbsoluteOffset(buf.Start) + bad));
        }

        if (scanner.JunkField >= 0)
        {
            return ImportEntry.Fail(line, $"column '{ColumnName(header, scanner.JunkField)}': text after the closing quote (a quote inside a quoted field must be doubled)");
        }

        if (scanner.Fields.Count != header.Length)
        {
            return ImportEntry.Fail(line, $"row has {scanner.Fields.Count} columns, the header has {header.Length}");
        }

        // The row becomes JSON text and takes the same road as a JSON record: one mapper, one set of rules.
        var json = scratch.Json;
        var writer = scratch.Writer;
        json.ResetWrittenCount();
        writer.Reset(json);
        writer.WriteStartObject();
        for (int pass = 0; pass < 3; pass++)
        {
            // Pass 0 writes plain columns, pass 1 the "metadata." ones, pass 2 the "gold." ones.
            string? prefix = pass switch { 1 => MetadataPrefix, 2 => GoldPrefix, _ => null };
            bool open = false;
            for (int c = 0; c < header.Length; c++)
            {
                var name = header[c];
                bool dotted = name.StartsWith(MetadataPrefix, StringComparison.Ordinal) || name.StartsWith(GoldPrefix, StringComparison.Ordinal);
                if (prefix is null ? dotted : !name.StartsWith(prefix, StringComparison.Ordinal))
                {
                    continue;
                }

                var field = scanner.Fields[c];
                var value = Decode(buf, field);
                if (field.Length > options.MaxFieldBytes && Encoding.UTF8.GetByteCount(value) is var size && size > options.MaxFieldBytes)
                {
                    return ImportEntry.Fail(line, ImportText.FieldTooLarge(name, size, options.MaxFieldBytes));
                }

                // An empty cell means "no value" for ids, metadata and gold: a gold column is often filled for some rows only.
                if (value.Length == 0 && (prefix is not null || name is "external_id" or "id"))
                {
                    continue;
                }

                if (prefix is not null && !open)
                {
                    writer.WriteStartObject(prefix[..^1]);
                    open = true;
                }

                writer.WritePropertyName(prefix is null ? name : name[prefix.Length..]);
                if (name is "external_id" or "id")
                {
                    writer.WriteStringValue(value);
                }
                else
                {
                    WriteCell(writer, value);
                }
            }

            if (open)
            {
                writer.WriteEndObject();
            }
        }

        writer.WriteEndObject();
        writer.Flush();
        return builder.Map(json.WrittenMemory, row, line);
    }

    /// <summary>A cell that holds a JSON array or object stays JSON, so chat fields survive a round trip through CSV.</summary>
    private static void WriteCell(Utf8JsonWriter writer, string value)
    {
        if (value.Length >= 2
            && (value[0] == '[' || value[0] == '{')
            && value.AsSpan().TrimEnd() is var t && (t[^1] == ']' || t[^1] == '}'))
        {
            try
            {
                using var doc = JsonDocument.Parse(value);
                doc.RootElement.WriteTo(writer);
                return;
            }
            catch (JsonException)
            {
                // Text that merely looks like JSON ("[citation needed] …") stays text.
            }
        }

        writer.WriteStringValue(value);
    }

    private static string Decode(InputBuffer buf, Field field)
    {
        var text = Encoding.UTF8.GetString(buf.Array, buf.Start + field.Start, field.Length);
        return field.Escaped ? text.Replace("\"\"", "\"", StringComparison.Ordinal) : text;
    }

    private static string ColumnName(string[] header, int index) =>
        index < header.Length ? header[index] : $"column {index + 1}";

    /// <summary>The per-reader JSON buffer a row is written into, reused for every row.</summary>
    private sealed class Scratch : IDisposable
    {
        public ArrayBufferWriter<byte> Json { get; } = new(4096);

        public Utf8JsonWriter Writer { get; }

        public Scratch() => Writer = new Utf8JsonWriter(Json, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

        public void Dispose() => Writer.Dispose();
    }

    private enum Step
    {
        NeedMore,
        Row,
        Error,
        End,
    }

    private enum FieldState
    {
        Start,
        Unquoted,
        Quoted,
        QuoteSeen,
        AfterQuote,
    }

    /// <summary>A cell's text range relative to the row start; <see cref="Escaped"/> when it holds doubled quotes.</summary>
    private readonly record struct Field(int Start, int Length, bool Escaped);

    private sealed class Scanner(long line)
    {
        private static readonly SearchValues<byte> UnquotedStops = SearchValues.Create(",\n"u8);
        private static readonly SearchValues<byte> QuotedStops = SearchValues.Create("\"\n"u8);

        private bool _inRow;
        private int _pos;             // relative to buf.Start (the row start)
        private int _next;            // bytes to consume for the finished row, including its line break
        private FieldState _state;
        private int _fieldStart;
        private int _fieldEnd;
        private long _fieldLine;
        private bool _escaped;

        public long Line { get; private set; } = line;

        public bool AtEnd { get; set; }

        public List<Field> Fields { get; } = [];

        public long RowLine { get; private set; }

        /// <summary>Bytes of the row without its line break.</summary>
        public int RowLength { get; private set; }

        public long Dropped { get; private set; }

        public int JunkField { get; private set; } = -1;

        public string? Error { get; private set; }

        public long ErrorLine { get; private set; }

        public void ConsumeRow(InputBuffer buf)
        {
            buf.Start += _next;
            _inRow = false;
            _pos = 0;
        }

        public Step Next(InputBuffer buf, int max)
        {
            if (!_inRow)
            {
                _inRow = true;
                _pos = 0;
                _state = FieldState.Start;
                RowLine = Line;
                Fields.Clear();
                Dropped = 0;
                JunkField = -1;
            }

            var a = buf.Array;
            int s = buf.Start;
            int e = buf.End;
            int i = s + _pos;
            while (i < e)
            {
                switch (_state)
                {
                    case FieldState.Start:
                        _fieldStart = i - s;
                        _fieldLine = Line;
                        if (a[i] == (byte)'"')
                        {
                            _state = FieldState.Quoted;
                            _escaped = false;
                            i++;
                        }
                        else
                        {
                            _state = FieldState.Unquoted;
                        }

                        break;
                    case FieldState.Unquoted:
                        int k = a.AsSpan(i, e - i).IndexOfAny(UnquotedStops);
                        if (k < 0)
                        {
                            i = e;
                            break;
                        }

                        i += k;
                        if (a[i] == (byte)',')
                        {
                            AddField(_fieldStart, i - s, escaped: false);
                            _state = FieldState.Start;
                            i++;
                            break;
                        }

                        int end = i - s;
                        if (i > s && a[i - 1] == (byte)'\r' && end > _fieldStart)
                        {
                            end--;
                        }

                        AddField(_fieldStart, end, escaped: false);
                        return EndRow(a, s, i);
                    case FieldState.Quoted:
                        int q = a.AsSpan(i, e - i).IndexOfAny(QuotedStops);
                        if (q < 0)
                        {
                            i = e;
                            break;
                        }

                        i += q;
                        if (a[i] == (byte)'\n')
                        {
                            Line++;
                        }
                        else
                        {
                            _state = FieldState.QuoteSeen;
                        }

                        i++;
                        break;
                    case FieldState.QuoteSeen:
                        if (a[i] == (byte)'"')
                        {
                            _escaped = true;
                            _state = FieldState.Quoted;
                            i++;
                            break;
                        }

                        _fieldEnd = i - 1 - s;
                        _state = FieldState.AfterQuote;
                        break;
                    default:
                        switch (a[i])
                        {
                            case (byte)',':
                                AddField(_fieldStart + 1, _fieldEnd, _escaped);
                                _state = FieldState.Start;
                                break;
                            case (byte)'\n':
                                AddField(_fieldStart + 1, _fieldEnd, _escaped);
                                return EndRow(a, s, i);
                            case (byte)'\r':
                                break;
                            default:
                                if (JunkField < 0)
                                {
                                    JunkField = Fields.Count;
                                }

                                break;
                        }

                        i++;
                        break;
                }
            }

            _pos = i - s;
            if (!AtEnd)
            {
                if (_pos + Dropped > max)
                {
                    // Too big to keep: go on finding the row's end, without holding its bytes.
                    Dropped += _pos;
                    buf.Start += _pos;
                    _pos = 0;
                    _fieldStart = 0;
                    _fieldEnd = 0;
                }

                return Step.NeedMore;
            }

            return FinishAtEnd(a, s);
        }

        private Step FinishAtEnd(byte[] a, int s)
        {
            switch (_state)
            {
                case FieldState.Quoted:
                    Error = $"the quoted field that starts on line {_fieldLine} is never closed";
                    ErrorLine = RowLine;
                    return Step.Error;
                case FieldState.Start when _pos == 0 && Fields.Count == 0 && Dropped == 0:
                    return Step.End;
                case FieldState.Start:
                    AddField(_pos, _pos, escaped: false);
                    break;
                case FieldState.Unquoted:
                    int end = _pos;
                    if (end > _fieldStart && a[s + end - 1] == (byte)'\r')
                    {
                        end--;
                    }

                    AddField(_fieldStart, end, escaped: false);
                    break;
                case FieldState.QuoteSeen:
                    AddField(_fieldStart + 1, _pos - 1, _escaped);
                    break;
                default:
                    AddField(_fieldStart + 1, _fieldEnd, _escaped);
                    break;
            }

            RowLength = TrimCr(a, s, _pos);
            _next = _pos;
            return Step.Row;
        }

        private Step EndRow(byte[] a, int s, int newline)
        {
            RowLength = TrimCr(a, s, newline - s);
            _next = newline - s + 1;
            Line++;
            return Step.Row;
        }

        private static int TrimCr(byte[] a, int s, int length) =>
            length > 0 && a[s + length - 1] == (byte)'\r' ? length - 1 : length;

        private void AddField(int start, int end, bool escaped)
        {
            if (Dropped == 0)
            {
                Fields.Add(new Field(start, Math.Max(0, end - start), escaped));
            }
        }
    }
}
