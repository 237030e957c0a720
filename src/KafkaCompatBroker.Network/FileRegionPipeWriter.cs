using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using KafkaCompatBroker.Protocol;
using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Network;

/// <summary>
/// A response writer that takes file regions as well as bytes (<see cref="IFileRegionWriter"/>): bytes
/// are buffered in one pooled array, each file region is noted where it falls between them, and
/// <see cref="FlushAsync"/> sends both in order (bytes, file, bytes, ...) through <see cref="SendAsync"/>
/// and <see cref="SendFileAsync"/>. Each file is kept open (a SafeHandle reference) until its region was
/// sent. FlushAsync completes once everything was handed to the transport, so nothing piles up beyond
/// the response being written; the buffer goes back to the pool after each flush, so an idle connection holds none.
/// A region smaller than <see cref="MinimumSendFileBytes"/> (or of a file <see cref="CanSendFile"/> refuses)
/// is read straight into the buffer instead: one pread costs less than the separate send of the bytes
/// before it plus the file send, and the response then leaves in one piece.
/// </summary>
public abstract class FileRegionPipeWriter(int minimumSendFileBytes = FileRegionPipeWriter.DefaultMinimumSendFileBytes) : PipeWriter, IFileRegionWriter
{
    /// <summary>Regions below this many bytes are copied into the response rather than sent from the file.</summary>
    public const int DefaultMinimumSendFileBytes = 16 * 1024;

    private const int MinimumBufferSize = 4096;

    private readonly List<PendingFile> _files = [];
    private byte[]? _buffer;
    private int _written;
    private bool _completed;

    public override bool CanGetUnflushedBytes => true;

    /// <summary>Bytes written (advanced) and file regions appended since the last flush.</summary>
    public override long UnflushedBytes
    {
        get
        {
            long total = _written;
            foreach (var file in _files)
            {
                total += file.Length;
            }

            return total;
        }
    }

    public override void Advance(int bytes)
    {
        if (bytes < 0 || _written + bytes > (_buffer?.Length ?? 0))
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), "advanced past the memory handed out");
        }

        _written += bytes;
    }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        EnsureCapacity(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        EnsureCapacity(sizeHint);
        return _buffer.AsSpan(_written);
    }

    /// <summary>The smallest region sent from its file; smaller ones are copied into the response.</summary>
    public int MinimumSendFileBytes { get; } = minimumSendFileBytes;

    public bool TryWriteFileRegion(SafeFileHandle file, long position, int length)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        if (length == 0)
        {
            return true;
        }

        if (length < MinimumSendFileBytes || !CanSendFile(file))
        {
            CopyIn(file, position, length);
            return true;
        }

        // Held until the region was sent: a segment closed meanwhile (retention, truncation, topic
        // deletion) is really closed only on the release, and a deleted file stays readable until then.
        var added = false;
        file.DangerousAddRef(ref added);
        _files.Add(new PendingFile(file, position, length, _written));
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            return new FlushResult(isCanceled: false, isCompleted: true);
        }

        try
        {
            var sent = 0;
            for (var i = 0; i < _files.Count; i++)
            {
                var file = _files[i];
                if (file.BufferOffset > sent)
                {
                    await SendAsync(_buffer.AsMemory(sent, file.BufferOffset - sent), cancellationToken);
                    sent = file.BufferOffset;
                }

                await SendFileAsync(file.File, file.Position, file.Length, cancellationToken);
            }

            if (_written > sent)
            {
                await SendAsync(_buffer.AsMemory(sent, _written - sent), cancellationToken);
            }
        }
        finally
        {
            Reset();
        }

        return new FlushResult(isCanceled: false, isCompleted: false);
    }

    /// <summary>Flushes are not cancellable: a response is sent whole or the connection is closed.</summary>
    public override void CancelPendingFlush()
    {
    }

    /// <summary>Drops anything unflushed (releasing its files); later flushes send nothing.</summary>
    public override void Complete(Exception? exception = null)
    {
        if (!_completed)
        {
            _completed = true;
            Reset();
            OnCompleted();
        }
    }

    /// <summary>Whether <see cref="SendFileAsync"/> can send <paramref name="file"/>; when not, its bytes are copied in.</summary>
    protected virtual bool CanSendFile(SafeFileHandle file) => true;

    /// <summary>Sends all of <paramref name="bytes"/>.</summary>
    protected abstract ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken);

    /// <summary>Sends <paramref name="length"/> bytes of <paramref name="file"/> from <paramref name="position"/>; throws when fewer were sent.</summary>
    protected abstract ValueTask SendFileAsync(SafeFileHandle file, long position, int length, CancellationToken cancellationToken);

    /// <summary>Called once by <see cref="Complete"/>, to release the transport's resources.</summary>
    protected virtual void OnCompleted()
    {
    }

    private void CopyIn(SafeFileHandle file, long position, int length)
    {
        EnsureCapacity(length);
        var destination = _buffer.AsSpan(_written, length);
        while (!destination.IsEmpty)
        {
            var n = RandomAccess.Read(file, destination, position);
            if (n == 0)
            {
                throw new IOException($"the file ended {destination.Length} bytes before the end of a {length}-byte region (truncated)");
            }

            destination = destination[n..];
            position += n;
        }

        _written += length;
    }

    private void EnsureCapacity(int sizeHint)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        var needed = _written + Math.Max(sizeHint, 1);
        if (_buffer is not null && needed <= _buffer.Length)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(MinimumBufferSize, (_buffer?.Length ?? 0) * 2)));
        if (_buffer is not null)
        {
            _buffer.AsSpan(0, _written).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = larger;
    }

    private void Reset()
    {
        foreach (var file in _files)
        {
            file.File.DangerousRelease();
        }

        _files.Clear();
        _written = 0;
        if (_buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = null;
        }
    }

    private readonly record struct PendingFile(SafeFileHandle File, long Position, int Length, int BufferOffset);
}
