namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class AppendNotifierTests
{
    [Fact]
    public void Stop_TaskTaken_CompletesItAndMarksTheNotifierStopped()
    {
        var notifier = new AppendNotifier();
        var taken = notifier.NextAppend;
        Assert.False(notifier.IsStopped);

        notifier.Stop();

        Assert.True(taken.IsCompletedSuccessfully);
        Assert.True(notifier.IsStopped);
    }

    [Fact]
    public void NotifyAppended_TaskTaken_CompletesItAndHandsOutANewOne()
    {
        var notifier = new AppendNotifier();
        var taken = notifier.NextAppend;

        notifier.NotifyAppended();

        Assert.True(taken.IsCompletedSuccessfully);
        Assert.False(notifier.NextAppend.IsCompleted);
    }

    [Fact]
    public void NotifyAppended_NoTaskTaken_KeepsTheCurrentTaskUntilAnAppendAfterItIsTaken()
    {
        var notifier = new AppendNotifier();
        var first = notifier.NextAppend;
        notifier.NotifyAppended();

        // Nobody has taken the current task: this append leaves it as it is (no allocation per append),
        // and a fetch taking it afterwards reads this append's data itself.
        notifier.NotifyAppended();
        var next = notifier.NextAppend;
        Assert.NotSame(first, next);
        Assert.False(next.IsCompleted);

        notifier.NotifyAppended();
        Assert.True(next.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task NotifyAppended_ConcurrentTakers_EveryTakenTaskCompletesAtALaterAppend()
    {
        var notifier = new AppendNotifier();
        var stop = false;
        var appender = Task.Run(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                notifier.NotifyAppended();
            }
        });

        for (var i = 0; i < 10_000; i++)
        {
            var task = notifier.NextAppend;
            await task.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Volatile.Write(ref stop, true);
        await appender;
    }
}
