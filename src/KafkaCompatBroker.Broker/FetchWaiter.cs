using System.Threading.Tasks.Sources;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// A connection's long-poll wait for Fetch: ends at the next append (the notifier's task), when the
/// timeout passes, or on cancellation, whichever comes first. One waiter serves every wait of the
/// connection (a timer created once and re-armed, a cached callback on the append task), so a waiting
/// fetch allocates nothing, where a linked token source + Task.Delay + Task.WhenAny cost ~1 KB a wait.
/// A wait may end early (a late callback of an earlier wait): the fetch re-reads and waits again.
/// </summary>
internal sealed class FetchWaiter : IValueTaskSource
{
    private readonly ITimer _timer;
    private readonly Action _onAppend;
    private ManualResetValueTaskSourceCore<bool> _core;

    // The append task the cached callback is registered on: it fires once when that task completes, so
    // waits on the same task (no append meanwhile) must not register it again (the task would keep them all).
    private Task? _registeredOn;

    // 1 once the current wait has ended (only the first of append, timer and cancellation ends it).
    private int _ended = 1;

    private CancellationTokenRegistration _cancellation;

    public FetchWaiter(TimeProvider time)
    {
        // Appends complete waits on the producer's thread: the fetch continues on the thread pool instead.
        _core.RunContinuationsAsynchronously = true;
        _timer = time.CreateTimer(static state => ((FetchWaiter)state!).End(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _onAppend = End;
    }

    /// <summary>Waits until <paramref name="nextAppend"/> completes or <paramref name="timeout"/> passes; to be awaited once, before the next wait.</summary>
    public ValueTask WaitAsync(Task nextAppend, TimeSpan timeout, CancellationToken cancellationToken)
    {
        _core.Reset();
        Volatile.Write(ref _ended, 0);
        if (!ReferenceEquals(_registeredOn, nextAppend))
        {
            _registeredOn = nextAppend;
            nextAppend.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(_onAppend);
        }

        _timer.Change(timeout, Timeout.InfiniteTimeSpan);
        if (cancellationToken.CanBeCanceled)
        {
            // The connection handler passes a token that cannot be cancelled: this registration is for other callers.
            _cancellation = cancellationToken.UnsafeRegister(static state => ((FetchWaiter)state!).End(), this);
        }

        return new ValueTask(this, _core.Version);
    }

    private void End()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _core.SetResult(true);
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        // The waiting fetch collects the result: the wait is over, so is its cancellation registration.
        _cancellation.Dispose();
        _cancellation = default;
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
