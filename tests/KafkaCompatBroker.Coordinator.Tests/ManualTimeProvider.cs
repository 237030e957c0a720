namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>A fake clock: timers fire only when <see cref="Advance"/> moves time past their due time.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public override DateTimeOffset GetUtcNow() => _now;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        lock (_timers)
        {
            _timers.Add(timer);
        }

        return timer;
    }

    public void Advance(int ms)
    {
        var target = _now.AddMilliseconds(ms);
        while (true)
        {
            ManualTimer? next = null;
            lock (_timers)
            {
                foreach (var timer in _timers)
                {
                    if (timer.Due is { } due && due <= target && (next is null || due < next.Due))
                    {
                        next = timer;
                    }
                }
            }

            if (next is null)
            {
                break;
            }

            _now = next.Due!.Value;
            next.Due = next.Period is { } period ? _now + period : null;
            next.Fire();
        }

        _now = target;
    }

    /// <summary>
    /// Moves the clock to the next timer's due time and takes that timer's callback as a real timer thread would,
    /// without running it yet: the returned action runs it later, as when the callback waits for a lock while other
    /// work (that may re-arm the same timer) goes first.
    /// </summary>
    public Action HoldNext()
    {
        ManualTimer? next = null;
        lock (_timers)
        {
            foreach (var timer in _timers)
            {
                if (timer.Due is not null && (next is null || timer.Due < next.Due))
                {
                    next = timer;
                }
            }
        }

        Assert.NotNull(next);
        _now = next.Due!.Value;
        next.Due = next.Period is { } period ? _now + period : null;
        return next.Fire;
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? Due { get; set; }

        /// <summary>The interval of a periodic timer; null for a one-shot timer.</summary>
        public TimeSpan? Period { get; private set; }

        public void Fire() => callback(state);

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            Due = dueTime == Timeout.InfiniteTimeSpan ? null : owner._now + dueTime;
            Period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : period;
            return true;
        }

        public void Dispose() => (Due, Period) = (null, null);

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
