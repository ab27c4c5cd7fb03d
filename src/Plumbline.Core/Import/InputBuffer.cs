using System.Buffers;
using System.IO.Compression;

namespace Plumbline.Core.Import;

/// <summary>
/// A pooled, refillable window over the input stream. Readers keep positions relative to <see cref="Start"/>,
/// because a refill may move the unconsumed bytes to the front of a (possibly larger) array.
/// The window only grows to hold one record, and records are capped, so memory stays flat.
/// </summary>
internal sealed class InputBuffer : IDisposable
{
    private const int InitialSize = 64 * 1024;
    private const int MinRead = 16 * 1024;

    private Stream _stream;
    private Stream? _owned;
    private byte[] _array;
    private long _arrayBase;

    public InputBuffer(Stream stream)
    {
        _stream = stream;
        _array = ArrayPool<byte>.Shared.Rent(InitialSize);
    }

    public byte[] Array => _array;

    /// <summary>First unconsumed byte.</summary>
    public int Start { get; set; }

    /// <summary>One past the last valid byte.</summary>
    public int End { get; private set; }

    public int Length => End - Start;

    public bool Eof { get; private set; }

    /// <summary>Set when the data itself is broken (corrupt gzip); reading ends and the reader reports it.</summary>
    public string? Failure { get; private set; }

    public ReadOnlySpan<byte> Span => _array.AsSpan(Start, End - Start);

    /// <summary>Offset of <paramref name="index"/> (an index into <see cref="Array"/>) from the start of the decoded input.</summary>
    public long AbsoluteOffset(int index) => _arrayBase + index;

    /// <summary>Reads more bytes after <see cref="End"/>; false at the end of the input.</summary>
    public async ValueTask<bool> FillAsync(CancellationToken ct)
    {
        if (Eof)
        {
            return false;
        }

        if (Start > 0 && (Start == End || _array.Length - End < MinRead))
        {
            Buffer.BlockCopy(_array, Start, _array, 0, End - Start);
            _arrayBase += Start;
            End -= Start;
            Start = 0;
        }

        if (_array.Length - End < MinRead)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_array.Length * 2, End + MinRead));
            Buffer.BlockCopy(_array, Start, bigger, 0, End - Start);
            ArrayPool<byte>.Shared.Return(_array);
            _arrayBase += Start;
            End -= Start;
            Start = 0;
            _array = bigger;
        }

        int read;
        try
        {
            read = await _stream.ReadAsync(_array.AsMemory(End), ct).ConfigureAwait(false);
        }
        catch (InvalidDataException ex) when (_owned is not null)
        {
            // A corrupt compressed file is bad data, not an I/O fault: report it like any other container error.
            Failure = $"the gzip data is corrupt after byte offset {AbsoluteOffset(End)} of the decompressed input ({ex.Message})";
            Eof = true;
            return false;
        }

        if (read == 0)
        {
            Eof = true;
            return false;
        }

        End += read;
        return true;
    }

    /// <summary>Reads until at least <paramref name="count"/> bytes are buffered or the input ends.</summary>
    public async ValueTask EnsureAsync(int count, CancellationToken ct)
    {
        while (Length < count && await FillAsync(ct).ConfigureAwait(false))
        {
        }
    }

    /// <summary>Restarts the window on a gzip decompressor over the bytes read so far plus the rest of the stream.</summary>
    public void SwitchToGzip()
    {
        var prefix = _array.AsSpan(Start, Length).ToArray();
        var replay = new ReplayStream(prefix, _stream, Eof);
        _owned = new GZipStream(replay, CompressionMode.Decompress, leaveOpen: false);
        _stream = _owned;
        Start = 0;
        End = 0;
        _arrayBase = 0;
        Eof = false;
    }

    public void Dispose()
    {
        _owned?.Dispose();
        ArrayPool<byte>.Shared.Return(_array);
        _array = [];
    }

    /// <summary>Returns already-sniffed bytes first, then the rest of the inner stream (which it does not own).</summary>
    private sealed class ReplayStream(byte[] prefix, Stream inner, bool innerAtEnd) : Stream
    {
        private int _prefixPos;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_prefixPos < prefix.Length)
            {
                return CopyPrefix(buffer);
            }

            return innerAtEnd ? 0 : inner.Read(buffer);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefixPos < prefix.Length)
            {
                return CopyPrefix(buffer.Span);
            }

            return innerAtEnd ? 0 : await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        private int CopyPrefix(Span<byte> buffer)
        {
            int n = Math.Min(buffer.Length, prefix.Length - _prefixPos);
            prefix.AsSpan(_prefixPos, n).CopyTo(buffer);
            _prefixPos += n;
            return n;
        }
    }
}
