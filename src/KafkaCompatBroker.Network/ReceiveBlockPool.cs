using System.Buffers;
using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;

namespace KafkaCompatBroker.Network;

/// <summary>
/// The memory pool Kestrel's socket transport receives into. Kestrel's own pool hands out 4 KiB blocks, so a
/// 1 MiB produce request arrives in 256 recv calls and 256 pipe segments (and is written to the log with a
/// 257-piece gather write); with 64 KiB blocks it takes 16. Blocks are pinned (the transport and the log's
/// gather write hand their addresses to the kernel), reused, and only rented once data is waiting, so idle
/// connections hold none. A pool keeps at most <see cref="MaxRetainedBlocks"/> free blocks; the rest go to the GC.
/// </summary>
public sealed class ReceiveBlockPool : MemoryPool<byte>
{
    public const int BlockSize = 64 * 1024;

    /// <summary>Free blocks kept for reuse (16 MiB): enough for many busy connections, bounded when load drops.</summary>
    public const int MaxRetainedBlocks = 256;

    private readonly ConcurrentQueue<Block> _free = new();
    private int _freeCount;
    private bool _disposed;

    public override int MaxBufferSize => BlockSize;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _freeCount);
            block.Rented = true;
            return block;
        }

        return new Block(this);
    }

    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        _free.Clear();
    }

    private void Return(Block block)
    {
        if (!_disposed && Interlocked.Increment(ref _freeCount) <= MaxRetainedBlocks)
        {
            _free.Enqueue(block);
            return;
        }

        Interlocked.Decrement(ref _freeCount);
    }

    /// <summary>One pinned 64 KiB array; disposing it gives it back to the pool (once).</summary>
    private sealed class Block(ReceiveBlockPool pool) : IMemoryOwner<byte>
    {
        private readonly byte[] _array = GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true);

        public bool Rented { get; set; } = true;

        public Memory<byte> Memory => _array;

        public void Dispose()
        {
            if (Rented)
            {
                Rented = false;
                pool.Return(this);
            }
        }
    }
}

/// <summary>Gives Kestrel's transports a <see cref="ReceiveBlockPool"/> instead of their 4 KiB block pool.</summary>
public sealed class ReceiveBlockPoolFactory : IMemoryPoolFactory<byte>
{
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new ReceiveBlockPool();
}
