using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// Streams the record batches of one segment for compaction through a pooled read buffer (64 KiB, grown
/// only as far as the largest batch needs), so a segment is never loaded into memory whole.
/// Not thread-safe; reuse it with <see cref="Reset"/>.
/// </summary>
internal sealed class CleanerBatchReader : IDisposable
{
    private const int InitialBufferSize = 64 * 1024;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
    private LogSegment? _segment;
    private int _start;
    private int _end;
    private long _position;
    private long _limit;

    /// <summary>Starts reading <paramref name="segment"/> at byte <paramref name="position"/> (a batch boundary), up to its current size.</summary>
    public void Reset(LogSegment segment, long position)
    {
        _segment = segment;
        _position = position;
        _limit = segment.Size;
        _start = 0;
        _end = 0;
    }

    /// <summary>The next batch (header and whole bytes, valid until the next call) and its position; false at the end.</summary>
    public bool TryRead(out long position, out RecordBatchHeader header, out ReadOnlySpan<byte> batch)
    {
        position = _position;
        header = default;
        batch = default;
        if (_position >= _limit)
        {
            return false;
        }

        Ensure(RecordBatchHeader.LogOverhead);
        var total = (long)BinaryPrimitives.ReadInt32BigEndian(_buffer.AsSpan(_start + 8)) + RecordBatchHeader.LogOverhead;
        if (total < RecordBatchHeader.Size || _position + total > _limit)
        {
            throw new KafkaStorageException($"{_segment!.LogPath} holds an invalid batch length {total - RecordBatchHeader.LogOverhead} at byte {_position}");
        }

        Ensure((int)total);
        batch = _buffer.AsSpan(_start, (int)total);
        header = RecordBatchHeader.Read(batch);
        _start += (int)total;
        _position += total;
        return true;
    }

    /// <summary>Makes at least <paramref name="count"/> unread bytes available in the buffer.</summary>
    private void Ensure(int count)
    {
        if (_end - _start >= count)
        {
            return;
        }

        var unread = _end - _start;
        if (_buffer.Length < count)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(count, _buffer.Length * 2));
            _buffer.AsSpan(_start, unread).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
        else
        {
            _buffer.AsSpan(_start, unread).CopyTo(_buffer);
        }

        _start = 0;
        _end = unread;
        var filePosition = _position + unread;
        while (_end < count)
        {
            var wanted = (int)Math.Min(_buffer.Length - _end, _limit - filePosition);
            var n = wanted <= 0 ? 0 : RandomAccess.Read(_segment!.Handle, _buffer.AsSpan(_end, wanted), filePosition);
            if (n == 0)
            {
                throw new KafkaStorageException($"{_segment!.LogPath} ended at byte {filePosition}, inside a batch");
            }

            _end += n;
            filePosition += n;
        }
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
