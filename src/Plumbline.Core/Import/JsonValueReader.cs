using System.Buffers;
using System.Runtime.CompilerServices;

namespace Plumbline.Core.Import;

/// <summary>
/// A JSON array of records (or, in sequence mode, whitespace-separated top-level values), streamed element by
/// element. A light byte scanner finds where each element starts and ends, counting lines as it goes, so each
/// element is parsed on its own and can be reported with the line where it starts.
/// </summary>
internal static class JsonValueReader
{
    public static async IAsyncEnumerable<ImportEntry> ReadAsync(
        InputBuffer buf, JsonRecordBuilder builder, long line, bool sequence, [EnumeratorCancellation] CancellationToken ct)
    {
        var scanner = new Scanner(sequence, line, buf.AbsoluteOffset(buf.Start));
        int max = builder.Options.MaxRecordBytes;
        while (true)
        {
            var step = scanner.Next(buf, max);
            switch (step)
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
                case Step.Value:
                    var entry = scanner.Dropped > 0
                        ? ImportEntry.Fail(scanner.ValueLine, ImportText.RecordTooLarge(scanner.Dropped + scanner.ValueLength, max))
                        : builder.TryBuild(buf.Array.AsMemory(buf.Start, scanner.ValueLength), scanner.ValueLine, scanner.ValueColumn, buf.AbsoluteOffset(buf.Start));
                    scanner.ConsumeValue(buf);
                    if (entry is { } e)
                    {
                        yield return e;
                    }

                    break;
                case Step.Error:
                    yield return ImportEntry.Fail(scanner.ErrorLine, scanner.Error!);
                    yield break;
                default:
                    yield break;
            }
        }
    }

    private enum Step
    {
        NeedMore,
        Value,
        Error,
        End,
    }

    private enum State
    {
        Start,
        ArrayOpen,
        AfterComma,
        InValue,
        AfterValue,
        Done,
    }

    private sealed class Scanner(bool sequence, long line, long lineStart)
    {
        private static readonly SearchValues<byte> StringStops = SearchValues.Create("\"\\\n"u8);
        private static readonly SearchValues<byte> StructureStops = SearchValues.Create("\"{}[]\n"u8);
        private static readonly SearchValues<byte> PrimitiveStops = SearchValues.Create(" \t\r\n,]}[{\""u8);

        private State _state = State.Start;
        private int _pos;            // scan position relative to buf.Start
        private byte _kind;          // first byte of the current value
        private int _depth;
        private bool _inString;
        private bool _escape;
        private long _lineStart = lineStart;
        private long _lastValueEndLine;

        public long Line { get; private set; } = line;

        public bool AtEnd { get; set; }

        public long ValueLine { get; private set; }

        public int ValueColumn { get; private set; }

        public int ValueLength { get; private set; }

        /// <summary>Bytes of the current value already dropped because it is over the record limit.</summary>
        public long Dropped { get; private set; }

        public string? Error { get; private set; }

        public long ErrorLine { get; private set; }

        public void ConsumeValue(InputBuffer buf)
        {
            buf.Start += ValueLength;
            _pos = 0;
            Dropped = 0;
            _lastValueEndLine = Line;
            _state = State.AfterValue;
        }

        public Step Next(InputBuffer buf, int max)
        {
            var a = buf.Array;
            while (true)
            {
                if (_state == State.InValue)
                {
                    if (ScanValue(buf, a))
                    {
                        return Step.Value;
                    }

                    if (!AtEnd)
                    {
                        if (_pos + Dropped > max)
                        {
                            // Keep scanning for the end of an over-large element but stop holding it in memory.
                            Dropped += _pos;
                            buf.Start += _pos;
                            _pos = 0;
                        }

                        return Step.NeedMore;
                    }

                    if (_kind is not ((byte)'{' or (byte)'[' or (byte)'"'))
                    {
                        // A bare number or literal at the very end of a sequence ends with the file.
                        ValueLength = _pos;
                        return Dropped > 0 || _pos > 0 ? Step.Value : Step.End;
                    }

                    return Fail(ValueLine, sequence
                        ? $"the file ends inside the value that starts on line {ValueLine}"
                        : $"the JSON array is truncated: the file ends inside the element that starts on line {ValueLine}");
                }

                // Between values: skip whitespace, dropping it as we go.
                int i = buf.Start;
                while (i < buf.End && ImportText.IsJsonWhitespace(a[i]))
                {
                    if (a[i] == (byte)'\n')
                    {
                        Line++;
                        _lineStart = buf.AbsoluteOffset(i + 1);
                    }

                    i++;
                }

                buf.Start = i;
                if (i == buf.End)
                {
                    if (!AtEnd)
                    {
                        return Step.NeedMore;
                    }

                    return _state switch
                    {
                        State.Done => Step.End,
                        State.Start or State.AfterValue when sequence => Step.End,
                        State.Start => Fail(Line, "the file is empty; expected a JSON array"),
                        _ => Fail(Line, "the JSON array is truncated: the file ends before the closing ']'"),
                    };
                }

                byte c = a[i];
                switch (_state)
                {
                    case State.Start when !sequence:
                        if (c != (byte)'[')
                        {
                            return Fail(Line, $"not a JSON array: the file starts with {ImportText.Byte(c)}, expected '['");
                        }

                        buf.Start++;
                        _state = State.ArrayOpen;
                        continue;
                    case State.ArrayOpen when c == (byte)']':
                    case State.AfterValue when c == (byte)']' && !sequence:
                        buf.Start++;
                        _state = State.Done;
                        continue;
                    case State.AfterValue when !sequence:
                        if (c != (byte)',')
                        {
                            return Fail(Line, $"expected ',' or ']' after the element that ends on line {_lastValueEndLine}, found {ImportText.Byte(c)}");
                        }

                        buf.Start++;
                        _state = State.AfterComma;
                        continue;
                    case State.AfterComma when c == (byte)']':
                        return Fail(Line, "trailing comma before the closing ']'");
                    case State.Done:
                        return Fail(Line, $"unexpected {ImportText.Byte(c)} after the closing ']' of the array");
                    default:
                        if (c is (byte)',' or (byte)']' or (byte)'}')
                        {
                            return Fail(Line, $"unexpected {ImportText.Byte(c)} where a value was expected");
                        }

                        BeginValue(buf, c);
                        continue;
                }
            }
        }

        private void BeginValue(InputBuffer buf, byte c)
        {
            _state = State.InValue;
            _kind = c;
            _pos = 0;
            _depth = 0;
            _inString = false;
            _escape = false;
            Dropped = 0;
            ValueLine = Line;
            ValueColumn = (int)(buf.AbsoluteOffset(buf.Start) - _lineStart);
        }

        /// <summary>Advances through the current value; true when its end is found (length in <see cref="ValueLength"/>).</summary>
        private bool ScanValue(InputBuffer buf, byte[] a)
        {
            int s = buf.Start;
            int e = buf.End;
            int i = s + _pos;
            if (_kind is not ((byte)'{' or (byte)'[' or (byte)'"'))
            {
                int k = a.AsSpan(i, e - i).IndexOfAny(PrimitiveStops);
                _pos = k < 0 ? e - s : i + k - s;
                if (k < 0)
                {
                    return false;
                }

                ValueLength = _pos;
                return true;
            }

            while (i < e)
            {
                if (_escape)
                {
                    _escape = false;
                    NewlineCheck(buf, a, i);
                    i++;
                    continue;
                }

                if (_inString)
                {
                    int k = a.AsSpan(i, e - i).IndexOfAny(StringStops);
                    if (k < 0)
                    {
                        i = e;
                        break;
                    }

                    i += k;
                    switch (a[i])
                    {
                        case (byte)'"':
                            _inString = false;
                            i++;
                            if (_kind == (byte)'"')
                            {
                                return Complete(s, i);
                            }

                            break;
                        case (byte)'\\':
                            _escape = true;
                            i++;
                            break;
                        default:
                            NewlineCheck(buf, a, i);
                            i++;
                            break;
                    }

                    continue;
                }

                int j = a.AsSpan(i, e - i).IndexOfAny(StructureStops);
                if (j < 0)
                {
                    i = e;
                    break;
                }

                i += j;
                switch (a[i])
                {
                    case (byte)'"':
                        _inString = true;
                        break;
                    case (byte)'{' or (byte)'[':
                        _depth++;
                        break;
                    case (byte)'}' or (byte)']':
                        if (--_depth == 0)
                        {
                            return Complete(s, i + 1);
                        }

                        break;
                    default:
                        NewlineCheck(buf, a, i);
                        break;
                }

                i++;
            }

            _pos = i - s;
            return false;
        }

        private bool Complete(int start, int end)
        {
            ValueLength = end - start;
            _pos = ValueLength;
            return true;
        }

        private void NewlineCheck(InputBuffer buf, byte[] a, int i)
        {
            if (a[i] == (byte)'\n')
            {
                Line++;
                _lineStart = buf.AbsoluteOffset(i + 1);
            }
        }

        private Step Fail(long line, string message)
        {
            Error = message;
            ErrorLine = line;
            return Step.Error;
        }
    }
}
