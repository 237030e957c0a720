namespace KafkaCompatBroker.Fuzz.Tests;

/// <summary>
/// Samples the managed heap every 50 ms: a request that makes the broker allocate without bound is seen while
/// it grows, before the process runs out of memory, and the test fails on the frame that was being sent.
/// </summary>
public sealed class HeapWatchdog : IDisposable
{
    private readonly Timer _timer;
    private long _peak;

    public HeapWatchdog(long boundBytes)
    {
        BoundBytes = boundBytes;
        _timer = new Timer(_ => Sample(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(50));
    }

    public long BoundBytes { get; }

    public long PeakBytes => Interlocked.Read(ref _peak);

    public void Dispose() => _timer.Dispose();

    private void Sample()
    {
        // Without a forced collection the figure includes garbage; only a live heap over the bound counts.
        var heap = GC.GetTotalMemory(forceFullCollection: false);
        if (heap > BoundBytes)
        {
            heap = GC.GetTotalMemory(forceFullCollection: true);
        }

        long peak;
        do
        {
            peak = Interlocked.Read(ref _peak);
        }
        while (heap > peak && Interlocked.CompareExchange(ref _peak, heap, peak) != peak);
    }
}
