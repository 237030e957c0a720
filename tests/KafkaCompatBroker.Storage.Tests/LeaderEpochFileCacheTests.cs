using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class LeaderEpochFileCacheTests : IDisposable
{
    private static readonly TopicPartition Tp = new("epochs", 0);
    private readonly TempDir _dir = new();
    private readonly ListLogger _logger = new();
    private readonly ManualTime _time = new();

    public void Dispose() => _dir.Dispose();

    private string LogDir => Path.Combine(_dir.Path, Tp.DirectoryName);

    private string CheckpointPath => Path.Combine(LogDir, LeaderEpochFileCache.FileName);

    private PartitionLog Open(bool clean = true, PartitionLogCheckpoint checkpoint = default) =>
        PartitionLog.Open(LogDir, Tp, new LogConfig { FileDeleteDelayMs = 0, SegmentBytes = 1024 }, checkpoint, clean, _logger, _time);

    private LeaderEpochFileCache EmptyCache()
    {
        Directory.CreateDirectory(LogDir);
        Assert.False(LeaderEpochFileCache.TryLoad(LogDir, out var cache, out _));
        return cache;
    }

    private static LeaderEpochFileCache With(LeaderEpochFileCache cache, params (int Epoch, long Start)[] entries)
    {
        foreach (var (epoch, start) in entries)
        {
            cache.Assign(epoch, start);
        }

        return cache;
    }

    [Fact]
    public void Assign_NewerEpochs_AppendsAndIgnoresRepeats()
    {
        var cache = EmptyCache();

        Assert.True(cache.Assign(1, 0));
        Assert.False(cache.Assign(1, 5)); // the same epoch from a later offset: nothing new
        Assert.True(cache.Assign(3, 5));

        Assert.Equal([new EpochEntry(1, 0), new EpochEntry(3, 5)], cache.Entries);
        Assert.Equal(3, cache.LatestEpoch);
    }

    [Fact]
    public void Assign_NonMonotonicEntry_RemovesTheEntriesItContradicts()
    {
        var cache = With(EmptyCache(), (1, 0), (3, 5), (4, 8));

        Assert.True(cache.Assign(2, 6)); // epochs 3 and 4 are at or above it

        Assert.Equal([new EpochEntry(1, 0), new EpochEntry(2, 6)], cache.Entries);
    }

    [Fact]
    public void EndOffsetFor_KafkaRules()
    {
        var cache = With(EmptyCache(), (1, 0), (3, 5), (4, 7));

        Assert.Equal((-1, -1L), cache.EndOffsetFor(-1, 8));  // UNDEFINED_EPOCH
        Assert.Equal((4, 8L), cache.EndOffsetFor(4, 8));     // the latest epoch ends at the log end
        Assert.Equal((3, 7L), cache.EndOffsetFor(3, 8));
        Assert.Equal((1, 5L), cache.EndOffsetFor(2, 8));     // unknown: largest epoch below, next epoch's start
        Assert.Equal((0, 0L), cache.EndOffsetFor(0, 8));     // older than all: the requested epoch, first start
        Assert.Equal((-1, -1L), cache.EndOffsetFor(9, 8));   // newer than all
        Assert.Equal((-1, -1L), EmptyCache().EndOffsetFor(0, 8));
    }

    [Fact]
    public void EpochForOffset_EntryCoveringTheOffset()
    {
        var cache = With(EmptyCache(), (1, 2), (3, 5));

        Assert.Null(cache.EpochForOffset(1));
        Assert.Equal(1, cache.EpochForOffset(4));
        Assert.Equal(3, cache.EpochForOffset(5));
        Assert.Equal(3, cache.EpochForOffset(100));
    }

    [Fact]
    public void TruncateFromEnd_RemovesEntriesStartingAtOrAfterTheEnd()
    {
        var cache = With(EmptyCache(), (1, 0), (3, 5), (4, 7));

        Assert.False(cache.TruncateFromEnd(8));
        Assert.True(cache.TruncateFromEnd(5));

        Assert.Equal([new EpochEntry(1, 0)], cache.Entries);
    }

    [Fact]
    public void TruncateFromStart_KeepsTheCoveringEntryMovedUp()
    {
        var cache = With(EmptyCache(), (1, 0), (3, 5), (4, 7));

        Assert.True(cache.TruncateFromStart(6));
        Assert.Equal([new EpochEntry(3, 6), new EpochEntry(4, 7)], cache.Entries);
        Assert.False(cache.TruncateFromStart(6));
        Assert.True(cache.TruncateFromStart(7));
        Assert.Equal([new EpochEntry(4, 7)], cache.Entries);
    }

    [Fact]
    public void WriteIfDirty_ThenLoad_RoundTripsInKafkaFormat()
    {
        var cache = With(EmptyCache(), (0, 0), (3, 1200));

        cache.WriteIfDirty();

        Assert.Equal("0\n2\n0 0\n3 1200\n", File.ReadAllText(CheckpointPath));
        Assert.False(cache.IsDirty);
        Assert.False(File.Exists(CheckpointPath + ".tmp"));
        Assert.True(LeaderEpochFileCache.TryLoad(LogDir, out var loaded, out var problem), problem);
        Assert.Equal(cache.Entries, loaded.Entries);
        Assert.False(loaded.IsDirty);
    }

    [Theory]
    [InlineData("1\n0\n")]
    [InlineData("0\n2\n0 0\n")]
    [InlineData("0\n1\nx 0\n")]
    [InlineData("0\n2\n3 10\n1 20\n")]
    public void TryLoad_Malformed_FalseWithReason(string text)
    {
        Directory.CreateDirectory(LogDir);
        File.WriteAllText(CheckpointPath, text);

        Assert.False(LeaderEpochFileCache.TryLoad(LogDir, out var cache, out var problem));
        Assert.Contains("malformed", problem);
        Assert.Empty(cache.Entries);
    }

    [Fact]
    public void Append_NewLeaderEpoch_WritesTheCheckpoint()
    {
        using var log = Open();
        log.Append(Batches.Seq(Batches.Make(2)), leaderEpoch: 0);
        log.Append(Batches.Seq(Batches.Make(3)), leaderEpoch: 0);
        log.Append(Batches.Seq(Batches.Make(1)), leaderEpoch: 2);

        Assert.Equal("0\n2\n0 0\n2 5\n", File.ReadAllText(CheckpointPath));
        Assert.False(log.LeaderEpochCache.IsDirty);
    }

    [Fact]
    public void Open_AfterCleanShutdown_ReadsTheCheckpoint()
    {
        using (var log = Open())
        {
            log.Append(Batches.Seq(Batches.Make(2)), leaderEpoch: 1);
            log.Append(Batches.Seq(Batches.Make(2)), leaderEpoch: 4);
        }

        using var reopened = Open();

        Assert.Equal([new EpochEntry(1, 0), new EpochEntry(4, 2)], reopened.LeaderEpochCache.Entries);
        Assert.DoesNotContain(_logger.Lines, l => l.Message.Contains("Rebuilt", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Open_CorruptOrMissingCheckpoint_RebuildsFromBatchesAndLogsOneLine(bool corrupt)
    {
        using (var log = Open())
        {
            for (var epoch = 0; epoch < 6; epoch += 2)
            {
                log.Append(Batches.Seq(Batches.Make(5, valueSize: 100)), leaderEpoch: epoch); // several segments
            }
        }

        if (corrupt)
        {
            File.WriteAllText(CheckpointPath, "0\n3\n0 0\ngarbage\n");
        }
        else
        {
            File.Delete(CheckpointPath);
        }

        using var reopened = Open();

        Assert.True(reopened.SegmentCount > 1);
        Assert.Equal([new EpochEntry(0, 0), new EpochEntry(2, 5), new EpochEntry(4, 10)], reopened.LeaderEpochCache.Entries);
        Assert.Equal("0\n3\n0 0\n2 5\n4 10\n", File.ReadAllText(CheckpointPath));
        Assert.Single(_logger.Lines, l => l.Level == LogLevel.Information && l.Message.Contains("Rebuilt the leader epochs", StringComparison.Ordinal));
    }

    [Fact]
    public void Open_AfterCrash_DerivesRecoveredEpochsAndDropsEntriesPastTheLogEnd()
    {
        using (var log = Open())
        {
            log.Append(Batches.Seq(Batches.Make(2)), leaderEpoch: 1);
            log.Append(Batches.Seq(Batches.Make(2)), leaderEpoch: 2);
        }

        // The checkpoint lost epoch 2 and names an epoch 7 whose data never reached the disk.
        File.WriteAllText(CheckpointPath, "0\n2\n1 0\n7 9\n");

        using var reopened = Open(clean: false);

        Assert.Equal([new EpochEntry(1, 0), new EpochEntry(2, 2)], reopened.LeaderEpochCache.Entries);
        Assert.Equal("0\n2\n1 0\n2 2\n", File.ReadAllText(CheckpointPath));
    }

    [Fact]
    public void TruncateTo_DropsLaterEpochsFromCacheAndFile()
    {
        using var log = Open();
        log.Append(Batches.Seq(Batches.Make(3)), leaderEpoch: 1);
        log.Append(Batches.Seq(Batches.Make(3)), leaderEpoch: 2);

        log.TruncateTo(3);

        Assert.Equal([new EpochEntry(1, 0)], log.LeaderEpochCache.Entries);
        Assert.Equal("0\n1\n1 0\n", File.ReadAllText(CheckpointPath));
    }

    [Fact]
    public void DeleteRecordsBefore_MovesTheCoveringEntryToTheNewStart()
    {
        using var log = Open();
        log.Append(Batches.Seq(Batches.Make(3)), leaderEpoch: 1);
        log.Append(Batches.Seq(Batches.Make(3)), leaderEpoch: 2);
        log.Append(Batches.Seq(Batches.Make(3)), leaderEpoch: 5);
        log.UpdateHighWatermark(log.LogEndOffset);

        log.DeleteRecordsBefore(4);

        Assert.Equal([new EpochEntry(2, 4), new EpochEntry(5, 6)], log.LeaderEpochCache.Entries);
        Assert.Equal("0\n2\n2 4\n5 6\n", File.ReadAllText(CheckpointPath));
    }

    [Fact]
    public void TruncateFullyAndStartAt_ClearsTheEpochs()
    {
        using var log = Open();
        log.Append(Batches.Seq(Batches.Make(3)), leaderEpoch: 1);

        log.TruncateFullyAndStartAt(100);

        Assert.Empty(log.LeaderEpochCache.Entries);
        Assert.Equal("0\n0\n", File.ReadAllText(CheckpointPath));
    }
}
