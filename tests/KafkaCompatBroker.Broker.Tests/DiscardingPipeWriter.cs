using System.IO.Pipelines;

namespace KafkaCompatBroker.Broker.Tests;

// Also compiled into tools/KafkaCompatBroker.Benchmarks (DispatcherBenchmarks) by a linked <Compile> item.
/// <summary>A PipeWriter over one reused buffer whose flushes complete at once: the response costs no allocation of its own.</summary>
internal sealed class DiscardingPipeWriter : PipeWriter
{
    private byte[] _buffer = new byte[256 * 1024];

    public int Written { get; private set; }

    public void Reset() => Written = 0;

    public override void Advance(int bytes) => Written += bytes;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        if (sizeHint > _buffer.Length)
        {
            _buffer = new byte[sizeHint];
        }

        return _buffer;
    }

    public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(new FlushResult(false, false));
}
