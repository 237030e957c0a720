namespace KafkaCompatBroker.Broker.Tests;

/// <summary>The long-poll waiter a connection's fetches reuse: it ends at a wake from a watched partition, a timeout or a cancellation.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class FetchWaiterTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    // Bounds each await so a waiter that never ends fails the test instead of hanging it.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WaitAsync_WatchedPartitionWakes_EndsTheWait()
    {
        var waiter = new FetchWaiter(TimeProvider.System);
        var watchers = new DelayedFetchWatchers();
        waiter.Watch(watchers);
        waiter.Arm();

        var wait = waiter.WaitAsync(Hour, CancellationToken.None).AsTask();
        Assert.False(wait.IsCompleted);
        watchers.WakeAll();

        await wait.WaitAsync(Guard);
        waiter.UnwatchAll();
        Assert.Equal(0, watchers.Count);
    }

    [Fact]
    public async Task WaitAsync_OtherPartitionWakes_KeepsWaitingUntilItsOwn()
    {
        var waiter = new FetchWaiter(TimeProvider.System);
        var watched = new DelayedFetchWatchers();
        var other = new DelayedFetchWatchers();
        waiter.Watch(watched);
        waiter.Arm();

        var wait = waiter.WaitAsync(Hour, CancellationToken.None).AsTask();
        other.WakeAll();
        Assert.False(wait.IsCompleted);
        Assert.Equal((1, 0), (watched.Count, other.Count));
        watched.WakeAll();

        await wait.WaitAsync(Guard);
        waiter.UnwatchAll();
    }

    [Fact]
    public async Task WaitAsync_WokenBetweenArmAndWait_CompletesAtOnce()
    {
        // An append after the fetch armed (and read) is not missed: the wait that follows ends at once.
        var waiter = new FetchWaiter(TimeProvider.System);
        var watchers = new DelayedFetchWatchers();
        waiter.Watch(watchers);
        waiter.Arm();
        watchers.WakeAll();

        await waiter.WaitAsync(Hour, CancellationToken.None).AsTask().WaitAsync(Guard);
        waiter.UnwatchAll();
    }

    [Fact]
    public async Task WaitAsync_TimeoutPasses_EndsTheWait()
    {
        var waiter = new FetchWaiter(TimeProvider.System);

        waiter.Arm();
        await waiter.WaitAsync(TimeSpan.FromMilliseconds(20), CancellationToken.None).AsTask().WaitAsync(Guard);
        waiter.Arm();
        await waiter.WaitAsync(TimeSpan.FromMilliseconds(20), CancellationToken.None).AsTask().WaitAsync(Guard);
    }

    [Fact]
    public async Task WaitAsync_TokenCancelled_EndsTheWait()
    {
        var waiter = new FetchWaiter(TimeProvider.System);
        using var cancellation = new CancellationTokenSource();

        waiter.Arm();
        var wait = waiter.WaitAsync(Hour, cancellation.Token).AsTask();
        await cancellation.CancelAsync();

        await wait.WaitAsync(Guard);
    }

    [Fact]
    public async Task UnwatchAll_ManyPartitions_LeavesEveryListAndReusesTheNodes()
    {
        var waiter = new FetchWaiter(TimeProvider.System);
        var lists = Enumerable.Range(0, 10).Select(_ => new DelayedFetchWatchers()).ToArray();
        for (var round = 0; round < 3; round++)
        {
            foreach (var list in lists)
            {
                waiter.Watch(list);
            }

            Assert.All(lists, l => Assert.Equal(1, l.Count));
            waiter.Arm();
            var wait = waiter.WaitAsync(Hour, CancellationToken.None).AsTask();
            lists[^1].WakeAll();
            await wait.WaitAsync(Guard);
            waiter.UnwatchAll();
            Assert.All(lists, l => Assert.Equal(0, l.Count));
        }
    }
}
