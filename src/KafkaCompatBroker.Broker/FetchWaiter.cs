using System.Threading.Tasks.Sources;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// A connection's long-poll wait for Fetch: registered on the partitions the fetch reads (<see cref="Watch"/>),
/// it ends when an append moves one of their high watermarks (<see cref="Wake"/>), when the timeout passes, or on
/// cancellation, whichever comes first. One waiter serves every wait of the connection (a timer created once and
/// re-armed, registration nodes kept and reused), so a waiting fetch allocates nothing, where a linked token
/// source + Task.Delay + Task.WhenAny cost ~1 KB a wait. A wait may end early (a late timer of an earlier wait):
/// the fetch re-reads and waits again.
/// </summary>
internal sealed class FetchWaiter : IValueTaskSource
{
    private readonly ITimer _timer;
    private ManualResetValueTaskSourceCore<bool> _core;

    // One node per partition watched: [0, _watched) are registered; the rest are spares kept for later fetches.
    private WatchNode[] _nodes = [];
    private int _watched;

    // 1 once the current wait has ended (only the first of wake, timer and cancellation ends it).
    private int _ended = 1;

    private CancellationTokenRegistration _cancellation;

    public FetchWaiter(TimeProvider time)
    {
        // Appends wake waits on the producer's thread: the fetch continues on the thread pool instead.
        _core.RunContinuationsAsynchronously = true;
        _timer = time.CreateTimer(static state => ((FetchWaiter)state!).End(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>How many partitions this waiter is registered on.</summary>
    public int WatchedCount => _watched;

    /// <summary>
    /// Starts a wait: from here a <see cref="Wake"/> ends it, so a caller arms before reading and an append after
    /// the read is not missed. Awaited (or abandoned) before the next arm.
    /// </summary>
    public void Arm()
    {
        _core.Reset();
        Volatile.Write(ref _ended, 0);
    }

    /// <summary>Registers on a partition's watcher list until <see cref="UnwatchAll"/>.</summary>
    public void Watch(DelayedFetchWatchers watchers)
    {
        if (_watched == _nodes.Length)
        {
            Array.Resize(ref _nodes, Math.Max(4, _nodes.Length * 2));
        }

        var node = _nodes[_watched] ??= new WatchNode(this);
        node.Owner = watchers;
        _watched++;
        watchers.Add(node);
    }

    /// <summary>
    /// Orders the registrations before the reads that follow (pairs with <see cref="DelayedFetchWatchers.WakeAll"/>).
    /// </summary>
    public static void AfterWatching() => Interlocked.MemoryBarrier();

    /// <summary>Leaves every watcher list: no wake reaches this waiter through them any more.</summary>
    public void UnwatchAll()
    {
        for (var i = 0; i < _watched; i++)
        {
            var node = _nodes[i];
            node.Owner!.Remove(node);
            node.Owner = null;
        }

        _watched = 0;
    }

    /// <summary>Ends the current wait (an append to a watched partition, a partition no longer hosted, shutdown).</summary>
    public void Wake() => End();

    /// <summary>Waits until woken (since <see cref="Arm"/>) or until <paramref name="timeout"/> passes; awaited once, before the next arm.</summary>
    public ValueTask WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _ended) == 0)
        {
            _timer.Change(timeout, Timeout.InfiniteTimeSpan);
        }

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

    /// <summary>This waiter's entry in one partition's <see cref="DelayedFetchWatchers"/> list.</summary>
    internal sealed class WatchNode(FetchWaiter waiter)
    {
        public FetchWaiter Waiter { get; } = waiter;

        /// <summary>The list the node is in (null when it is a spare).</summary>
        public DelayedFetchWatchers? Owner { get; set; }

        public WatchNode? Previous { get; set; }

        public WatchNode? Next { get; set; }
    }
}
