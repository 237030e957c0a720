namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// The system clock, observed: a long-poll fetch that finds too little data parks by arming its waiter's timer
/// with the rest of its max wait, so a test can wait until a fetch is parked instead of sleeping and hoping.
/// Only timers armed for between half and all of <see cref="MaxWait"/> count, so other timers (coordinators,
/// sessions) are not mistaken for a parked fetch.
/// </summary>
internal sealed class FetchParkingClock(TimeSpan maxWait) : TimeProvider
{
    private int _parked;

    public TimeSpan MaxWait { get; } = maxWait;

    /// <summary>How many times a fetch has parked so far.</summary>
    public int Parked => Volatile.Read(ref _parked);

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        new ObservedTimer(this, System.CreateTimer(callback, state, dueTime, period));

    /// <summary>Returns once a fetch has parked (<paramref name="before"/>: the count before the fetch was sent).</summary>
    public Task WaitUntilParkedAsync(int before = 0) =>
        Eventually.UntilAsync(() => Parked > before, "the long-poll fetch parks on its waiter");

    private sealed class ObservedTimer(FetchParkingClock owner, ITimer inner) : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = inner.Change(dueTime, period);
            if (dueTime > owner.MaxWait / 2 && dueTime <= owner.MaxWait)
            {
                Interlocked.Increment(ref owner._parked);
            }

            return changed;
        }

        public void Dispose() => inner.Dispose();

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
