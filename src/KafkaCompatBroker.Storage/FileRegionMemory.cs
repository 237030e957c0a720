using System.Buffers;
using System.Runtime.InteropServices;
using KafkaCompatBroker.Protocol;
using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// A <see cref="FileRegion"/> as <see cref="Memory{T}"/>, for a response's records: a writer that sends
/// files (<see cref="IFileRegionWriter"/>, the socket writer) sends the region with sendfile and never
/// touches the bytes; any other reader gets them read lazily into a pooled buffer on first access
/// (<see cref="GetSpan"/>). The file handle is kept open (a SafeHandle reference) until
/// <see cref="IDisposable.Dispose"/>, so a segment deleted or closed meanwhile is really closed only afterwards.
/// A disposed instance can be given another region with <see cref="Attach"/> (a connection reuses them per fetch).
/// </summary>
public sealed class FileRegionMemory : MemoryManager<byte>, IFileBackedMemory
{
    private FileRegion _region;
    private byte[]? _copy;
    private bool _referenced;

    /// <summary>Takes a reference on the region's file; throws <see cref="ObjectDisposedException"/> when it is already closed.</summary>
    public FileRegionMemory(FileRegion region) => Attach(region);

    /// <summary>Points this (new or disposed) instance at <paramref name="region"/> and takes a reference on its file.</summary>
    public void Attach(FileRegion region)
    {
        if (_referenced)
        {
            throw new InvalidOperationException("the previous region is still attached: dispose it first");
        }

        _region = region;
        region.File.DangerousAddRef(ref _referenced);
    }

    public SafeFileHandle File => _region.File;

    public long Position => _region.Position;

    public int Length => _region.Length;

    // The base Memory calls GetSpan (here a file read) only to learn the length.
    public override Memory<byte> Memory => CreateMemory(_region.Length);

    /// <summary>The region's bytes, read from the file the first time they are asked for.</summary>
    public override Span<byte> GetSpan()
    {
        if (_copy is null)
        {
            ObjectDisposedException.ThrowIf(!_referenced, this);
            var copy = ArrayPool<byte>.Shared.Rent(_region.Length);
            try
            {
                _region.CopyTo(copy.AsSpan(0, _region.Length));
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(copy);
                throw;
            }

            _copy = copy;
        }

        return _copy.AsSpan(0, _region.Length);
    }

    public override unsafe MemoryHandle Pin(int elementIndex = 0)
    {
        GetSpan();
        var handle = GCHandle.Alloc(_copy, GCHandleType.Pinned);
        return new MemoryHandle((byte*)handle.AddrOfPinnedObject() + elementIndex, handle, this);
    }

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (_copy is { } copy)
        {
            _copy = null;
            ArrayPool<byte>.Shared.Return(copy);
        }

        if (_referenced)
        {
            _referenced = false;
            _region.File.DangerousRelease();
        }
    }
}
