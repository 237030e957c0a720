namespace KafkaCompatBroker.Broker;

/// <summary>
/// Wakes long-polling fetches when data arrives: an append completes the current task and starts a
/// new one, so waiters re-check their partitions (Kafka's delayed-fetch purgatory, simplified). Only
/// a task someone has taken is replaced, so appends with no fetch waiting allocate nothing. At shutdown
/// <see cref="Stop"/> wakes every waiter for good, so parked fetches answer with what they have
/// (Kafka's shutdown does not wait out max_wait_ms either: BrokerServer.shutdown stops request processing and
/// shuts the fetch purgatory down without waiting for its timeouts).
/// </summary>
public sealed class AppendNotifier
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // 1 once NextAppend has handed out the current task (it must complete at the next append).
    private int _taken;

    // 1 once the broker is stopping: waiters must not wait any more.
    private int _stopped;

    /// <summary>True once <see cref="Stop"/> was called: a fetch answers with what it has instead of waiting.</summary>
    public bool IsStopped => Volatile.Read(ref _stopped) != 0;

    /// <summary>A task that completes at the next append anywhere on this broker.</summary>
    public Task NextAppend
    {
        get
        {
            // The task is read before it is marked taken: an append between the two either sees the mark
            // and completes this task, or its data is already visible to the caller's read that follows
            // (the caller reads after this, and the interlocked write orders those reads after it).
            var task = Volatile.Read(ref _next).Task;
            Interlocked.Exchange(ref _taken, 1);
            return task;
        }
    }

    public void NotifyAppended()
    {
        // The interlocked exchange orders the appended data before the check of the mark.
        if (Interlocked.Exchange(ref _taken, 0) == 0)
        {
            return;
        }

        var previous = Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        previous.TrySetResult();
    }

    /// <summary>
    /// Wakes every waiting fetch, which then sees <see cref="IsStopped"/> and answers. A fetch that took its task
    /// before this and checks <see cref="IsStopped"/> after its read either sees the flag or waits on a task this
    /// completes: the current one here, or, if an append replaced it meanwhile, that append completed it.
    /// </summary>
    public void Stop()
    {
        // The interlocked write orders the flag before the read of the current task.
        Interlocked.Exchange(ref _stopped, 1);
        Volatile.Read(ref _next).TrySetResult();
    }
}
