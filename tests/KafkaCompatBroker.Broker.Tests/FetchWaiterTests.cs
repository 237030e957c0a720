namespace KafkaCompatBroker.Broker.Tests;

/// <summary>The long-poll waiter a connection's fetches reuse: it ends at an append, a timeout or a cancellation.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class FetchWaiterTests
{
    private static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    // Bounds each await so a waiter that never ends fails the test instead of hanging it.
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task WaitAsync_AppendTaskCompletes_EndsTheWait()
    {
        var waiter = new FetchWaiter(TimeProvider.System);
        var append = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var wait = waiter.WaitAsync(append.Task, Hour, CancellationToken.None).AsTask();
        Assert.False(wait.IsCompleted);
        append.SetResult();

        await wait.WaitAsync(Guard);
    }

    [Fact]
    public async Task WaitAsync_TimeoutPasses_EndsTheWait()
    {
        var waiter = new FetchWaiter(TimeProvider.System);
        var never = new TaskCompletionSource().Task;

        await waiter.WaitAsync(never, TimeSpan.FromMilliseconds(20), CancellationToken.None).AsTask().WaitAsync(Guard);
        await waiter.WaitAsync(never, TimeSpan.FromMilliseconds(20), CancellationToken.None).AsTask().WaitAsync(Guard);

        Assert.False(never.IsCompleted);
    }

    [Fact]
    public async Task WaitAsync_TokenCancelled_EndsTheWait()
    {
        var waiter = new FetchWaiter(TimeProvider.System);
        using var cancellation = new CancellationTokenSource();

        var wait = waiter.WaitAsync(new TaskCompletionSource().Task, Hour, cancellation.Token).AsTask();
        await cancellation.CancelAsync();

        await wait.WaitAsync(Guard);
    }

    [Fact]
    public async Task WaitAsync_ReusedAfterTimeoutsOnTheSameAppendTask_EndsAtThatAppend()
    {
        // Waits that time out on one append task register on it once; its completion still ends the wait in progress.
        var waiter = new FetchWaiter(TimeProvider.System);
        var append = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < 3; i++)
        {
            await waiter.WaitAsync(append.Task, TimeSpan.FromMilliseconds(5), CancellationToken.None).AsTask().WaitAsync(Guard);
        }

        var wait = waiter.WaitAsync(append.Task, Hour, CancellationToken.None).AsTask();
        append.SetResult();
        await wait.WaitAsync(Guard);

        // The next append task is a new one: the waiter registers on it and ends there too.
        var next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = waiter.WaitAsync(next.Task, Hour, CancellationToken.None).AsTask();
        next.SetResult();
        await second.WaitAsync(Guard);
    }
}
