using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Storage.Tests;

/// <summary>
/// Group commit of flush.messages fsyncs (<see cref="GroupFlusher"/>): waiters complete only after a flush that
/// covers their records, concurrent waiters share flushes, a failed fsync fails them, and other configs keep
/// their behaviour. Flushes are counted and held through <see cref="PartitionLog.BeforeFsync"/>.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class GroupCommitTests : IDisposable
{
    private static readonly TopicPartition Tp = new("durable", 0);
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TempDir _dir = new();
    private readonly ListLogger _logger = new();

    public void Dispose() => _dir.Dispose();

    private PartitionLog Open(LogConfig config) =>
        PartitionLog.Open(Path.Combine(_dir.Path, Tp.DirectoryName), Tp, config, default, cleanShutdown: true, _logger);

    [Fact]
    public async Task WaitForFlushAsync_ConcurrentAppendsWhileAFlushRuns_CompleteAfterOneSharedFlushThatCoversThem()
    {
        // Declared before the log, so that they outlive its closing flush (which runs the hook too).
        using var flushStarted = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        using var log = Open(new LogConfig { FlushMessages = 1 });
        var flushes = 0;
        log.BeforeFsync = () =>
        {
            Interlocked.Increment(ref flushes);
            flushStarted.Release();
            Assert.True(release.Wait(Timeout)); // holds the fsync until the test lets it go
        };

        var first = log.AppendWithoutFlush(Batches.Seq(Batches.Make(1)));
        Assert.True(first.FlushRequired);
        var firstFlushed = log.WaitForFlushAsync(first.LastOffset + 1).AsTask();
        Assert.True(await flushStarted.WaitAsync(Timeout));

        // 20 appends arrive while the first flush is held: each needs a flush, none may complete yet.
        const int Appends = 20;
        var waits = new Task<bool>[Appends];
        Parallel.For(0, Appends, i =>
        {
            var result = log.AppendWithoutFlush(Batches.Seq(Batches.Make(2)));
            Assert.True(result.FlushRequired);
            var end = result.LastOffset + 1;
            waits[i] = log.WaitForFlushAsync(end).AsTask().ContinueWith(
                t =>
                {
                    t.GetAwaiter().GetResult();
                    return log.FlushedOffset >= end; // on disk when the waiter is told so
                },
                TaskScheduler.Default);
        });

        Assert.False(firstFlushed.IsCompleted);
        Assert.All(waits, w => Assert.False(w.IsCompleted));
        Assert.Equal(0, log.RecoveryPoint);

        release.Set();
        await firstFlushed.WaitAsync(Timeout);
        var covered = await Task.WhenAll(waits).WaitAsync(Timeout);

        Assert.All(covered, Assert.True);
        Assert.Equal(2, Volatile.Read(ref flushes)); // the held one, then one for all 20 that queued behind it
        Assert.Equal(1 + (Appends * 2), log.LogEndOffset);
        Assert.Equal(log.LogEndOffset, log.FlushedOffset);
        Assert.Equal(log.LogEndOffset - 1, log.RecoveryPoint); // inside the active segment, whose indexes were not synced
    }

    [Fact]
    public async Task WaitForFlushAsync_ManyConcurrentAppends_FewerFlushesThanAppendsAndAllDurable()
    {
        using var log = Open(new LogConfig { FlushMessages = 1 });
        var flushes = 0;
        log.BeforeFsync = () =>
        {
            Interlocked.Increment(ref flushes);
            Thread.Sleep(5); // the test's subject, not a wait: a slow disk, so appends pile up behind each flush
        };

        const int Appends = 200;
        using var start = new ManualResetEventSlim();
        var appenders = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            for (var i = 0; i < Appends / 8; i++)
            {
                var result = log.AppendWithoutFlush(Batches.Seq(Batches.Make(1)));
                await log.WaitForFlushAsync(result.LastOffset + 1);
                Assert.True(log.FlushedOffset > result.LastOffset);
            }
        })).ToList();
        start.Set();
        await Task.WhenAll(appenders).WaitAsync(Timeout);

        Assert.Equal(Appends, log.FlushedOffset);
        Assert.InRange(Volatile.Read(ref flushes), 1, Appends - 1);
    }

    [Fact]
    public async Task WaitForFlushAsync_FsyncFails_WaitersFailWithStorageErrorAndLogGoesOffline()
    {
        var log = Open(new LogConfig { FlushMessages = 1 });
        using var flushStarted = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        log.BeforeFsync = () =>
        {
            flushStarted.Release();
            Assert.True(release.Wait(Timeout));
            throw new IOException("Input/output error");
        };

        var first = log.AppendWithoutFlush(Batches.Seq(Batches.Make(1)));
        var firstFlushed = log.WaitForFlushAsync(first.LastOffset + 1).AsTask();
        Assert.True(await flushStarted.WaitAsync(Timeout));
        var second = log.AppendWithoutFlush(Batches.Seq(Batches.Make(1)));
        var secondFlushed = log.WaitForFlushAsync(second.LastOffset + 1).AsTask();
        release.Set();

        await Assert.ThrowsAsync<KafkaStorageException>(() => firstFlushed.WaitAsync(Timeout));
        await Assert.ThrowsAsync<KafkaStorageException>(() => secondFlushed.WaitAsync(Timeout));
        Assert.True(log.IsOffline);
        Assert.Equal(0, log.FlushedOffset);
        Assert.Throws<KafkaStorageException>(() => log.AppendWithoutFlush(Batches.Seq(Batches.Make(1))));
        Assert.Throws<KafkaStorageException>(() => log.Append(Batches.Seq(Batches.Make(1))));
        Assert.Throws<KafkaStorageException>(log.Flush); // no later fsync may pass for a success
        Assert.Throws<KafkaStorageException>(log.Close); // so that the log dir gets no clean-shutdown marker
        Assert.Contains(_logger.Lines, l => l.Level == Microsoft.Extensions.Logging.LogLevel.Error && l.Message.Contains("fsync of", StringComparison.Ordinal));
    }

    [Fact]
    public void Append_FlushMessages1_FlushesBeforeReturning()
    {
        using var log = Open(new LogConfig { FlushMessages = 1 });
        var flushes = 0;
        log.BeforeFsync = () => flushes++;

        for (var i = 0; i < 3; i++)
        {
            var result = log.Append(Batches.Seq(Batches.Make(2)));

            Assert.True(result.FlushRequired);
            Assert.Equal(log.LogEndOffset, log.FlushedOffset);
        }

        Assert.Equal(3, flushes);
    }

    [Fact]
    public void Append_FlushMessages3_FlushEveryThirdMessageAsKafka()
    {
        using var log = Open(new LogConfig { FlushMessages = 3 });
        var flushes = 0;
        log.BeforeFsync = () => flushes++;

        var required = Enumerable.Range(0, 7).Select(_ => log.Append(Batches.Seq(Batches.Make(1))).FlushRequired).ToList();

        Assert.Equal([false, false, true, false, false, true, false], required);
        Assert.Equal(2, flushes);
        Assert.Equal(6, log.FlushedOffset);
    }

    [Fact]
    public void AppendWithoutFlush_FlushMessages3WhileAFlushIsPending_CountsFromTheRequestedFlush()
    {
        using var log = Open(new LogConfig { FlushMessages = 3 });

        // Nothing is flushed here (no one waits), yet the 4th and 5th messages do not ask for another flush:
        // the 3rd already asked for one covering everything before them.
        var required = Enumerable.Range(0, 6).Select(_ => log.AppendWithoutFlush(Batches.Seq(Batches.Make(1))).FlushRequired).ToList();

        Assert.Equal([false, false, true, false, false, true], required);
        Assert.Equal(0, log.FlushedOffset);
    }

    [Fact]
    public async Task Append_DefaultConfig_NeverFlushesOrWaits()
    {
        using var log = Open(new LogConfig());
        var flushes = 0;
        log.BeforeFsync = () => flushes++;

        for (var i = 0; i < 50; i++)
        {
            var result = log.AppendWithoutFlush(Batches.Seq(Batches.Make(5)));
            Assert.False(result.FlushRequired);
            log.Append(Batches.Seq(Batches.Make(5)));
        }

        Assert.Equal(0, flushes);
        Assert.Equal(0, log.FlushedOffset);

        // An explicit wait still makes the records durable (one flush).
        await log.WaitForFlushAsync(log.LogEndOffset).AsTask().WaitAsync(Timeout);
        Assert.Equal(1, flushes);
        Assert.Equal(log.LogEndOffset, log.FlushedOffset);
    }

    [Fact]
    public async Task AppendWithoutFlush_RetryWhileTheOriginalsFlushIsPending_AlsoWaitsForIt()
    {
        using var release = new ManualResetEventSlim();
        using var log = Open(new LogConfig { FlushMessages = 1 });
        log.BeforeFsync = () => Assert.True(release.Wait(Timeout));

        var original = log.AppendWithoutFlush(ProducerStateTests.Batch(producerId: 7, epoch: 0, baseSequence: 0));
        var originalFlushed = log.WaitForFlushAsync(original.LastOffset + 1).AsTask();
        var retry = log.AppendWithoutFlush(ProducerStateTests.Batch(producerId: 7, epoch: 0, baseSequence: 0));

        Assert.True(retry.Duplicate);
        Assert.True(retry.FlushRequired);
        Assert.Equal(original.FirstOffset, retry.FirstOffset);
        var retryFlushed = log.WaitForFlushAsync(retry.LastOffset + 1).AsTask();
        Assert.False(retryFlushed.IsCompleted);

        release.Set();
        await Task.WhenAll(originalFlushed, retryFlushed).WaitAsync(Timeout);
        Assert.False(log.AppendWithoutFlush(ProducerStateTests.Batch(producerId: 7, epoch: 0, baseSequence: 0)).FlushRequired); // on disk now
    }

    [Fact]
    public void FlushIfDue_FlushMs_StillFlushes()
    {
        var time = new ManualTime();
        using var log = PartitionLog.Open(Path.Combine(_dir.Path, Tp.DirectoryName), Tp, new LogConfig { FlushMs = 1000 }, default, cleanShutdown: true, _logger, time);
        log.Append(Batches.Seq(Batches.Make(3)));

        log.FlushIfDue();
        Assert.Equal(0, log.RecoveryPoint);

        time.Advance(1000);
        log.FlushIfDue();
        Assert.Equal(3, log.RecoveryPoint); // a full flush: indexes too
        Assert.Equal(3, log.FlushedOffset);
    }

    [Fact]
    public async Task Append_FlushMessages1_RecoveryPointPassesASegmentOnlyOnceARollFlushedItsIndexes()
    {
        var log = Open(new LogConfig { FlushMessages = 1, SegmentBytes = 4096 });
        log.Append(Batches.Seq(Batches.Make(1, valueSize: 1000)));
        log.Append(Batches.Seq(Batches.Make(1, valueSize: 1000)));

        // Flushes for flush.messages leave the active segment's indexes unsynced: the recovery point stays inside it.
        Assert.Equal(2, log.FlushedOffset);
        Assert.Equal(1, log.RecoveryPoint);

        while (log.SegmentCount < 2)
        {
            log.Append(Batches.Seq(Batches.Make(1, valueSize: 1000)));
        }

        // Once rolled, a segment is synced whole (the roll's background flush; a later flush syncs every segment but
        // the active one whole too), and only then does the recovery point move to the new segment.
        var rolledAt = log.Segments[1].BaseOffset;
        await Eventually.UntilAsync(() => log.RecoveryPoint >= rolledAt, "the roll's background flush moves the recovery point to the new segment", Timeout);
        Assert.Equal(rolledAt, log.RecoveryPoint);
        Assert.Equal(log.LogEndOffset, log.FlushedOffset);

        // A crash now: recovery from that recovery point re-validates the active segment and keeps every record.
        var checkpoint = new PartitionLogCheckpoint(log.RecoveryPoint, log.LogStartOffset);
        var end = log.LogEndOffset;
        log.CloseWithoutFlush();
        using var reopened = PartitionLog.Open(Path.Combine(_dir.Path, Tp.DirectoryName), Tp, new LogConfig { FlushMessages = 1, SegmentBytes = 4096 }, checkpoint, cleanShutdown: false, _logger);
        Assert.Equal(end, reopened.LogEndOffset);
        Assert.Empty(_logger.Warnings);
    }
}
