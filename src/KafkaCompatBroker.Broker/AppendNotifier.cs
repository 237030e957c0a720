namespace KafkaCompatBroker.Broker;

/// <summary>
/// Wakes long-polling fetches when data arrives: every append completes the current task and starts
/// a new one, so waiters re-check their partitions (Kafka's delayed-fetch purgatory, simplified).
/// </summary>
public sealed class AppendNotifier
{
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A task that completes at the next append anywhere on this broker.</summary>
    public Task NextAppend => Volatile.Read(ref _next).Task;

    public void NotifyAppended()
    {
        var previous = Interlocked.Exchange(ref _next, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        previous.TrySetResult();
    }
}
