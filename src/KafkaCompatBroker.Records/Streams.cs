using System.Buffers;

namespace KafkaCompatBroker.Records;

/// <summary>A read-only, seekable-length Stream over a ReadOnlySequence (feeds GZipStream without copying).</summary>
internal sealed class ReadOnlySequenceStream : Stream
{
    private readonly ReadOnlySequence<byte> _sequence;
    private SequencePosition _position;
    private long _offset;

    public ReadOnlySequenceStream(in ReadOnlySequence<byte> sequence)
    {
        _sequence = sequence;
        _position = sequence.Start;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => _sequence.Length;

    public override long Position
    {
        get => _offset;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var remaining = _sequence.Slice(_position);
        var count = (int)Math.Min(buffer.Length, remaining.Length);
        if (count == 0)
        {
            return 0;
        }

        var chunk = remaining.Slice(0, count);
        chunk.CopyTo(buffer);
        _position = chunk.End;
        _offset += count;
        return count;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

/// <summary>A write-only Stream appending to an IBufferWriter (lets GZipStream write straight into the output).</summary>
internal sealed class BufferWriterStream : Stream
{
    private readonly IBufferWriter<byte> _writer;
    private long _written;

    public BufferWriterStream(IBufferWriter<byte> writer)
    {
        _writer = writer;
    }

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => _written;

    public override long Position
    {
        get => _written;
        set => throw new NotSupportedException();
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _writer.Write(buffer);
        _written += buffer.Length;
    }

    public override void WriteByte(byte value)
    {
        var span = _writer.GetSpan(1);
        span[0] = value;
        _writer.Advance(1);
        _written++;
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();
}
