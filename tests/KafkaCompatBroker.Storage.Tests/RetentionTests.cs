using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Storage.Tests;

/// <summary>Retention as the log manager's retention check runs it (log.retention.check.interval.ms → ApplyRetention).</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class RetentionTests : IDisposable
{
    private static readonly TopicPartition Tp = new("events", 0);
    private static readonly LogConfig Config = new() { FileDeleteDelayMs = 0 };
    private readonly TempDir _dir = new();
    private readonly ListLogger _logger = new();
    private readonly ManualTime _time = new();
    private readonly LogManager _manager;

    public RetentionTests()
    {
        _manager = new LogManager(new LogManagerOptions { LogDirs = [_dir.Path] }, Config, _logger, _time);
        _manager.Startup();
    }

    public void Dispose()
    {
        _manager.Dispose();
        _dir.Dispose();
    }

    private string PartitionDir => Path.Combine(_dir.Path, Tp.DirectoryName);

    /// <summary>Appends <paramref name="segments"/> segments of one 2-record batch each, stamped <paramref name="timestamp"/>; the last stays active.</summary>
    private static void AppendSegments(PartitionLog log, int segments, long timestamp, bool rollAfterLast = false)
    {
        for (var i = 0; i < segments; i++)
        {
            log.Append(Batches.Seq(Batches.Make(2, timestamp)));
            if (i < segments - 1 || rollAfterLast)
            {
                log.Roll();
            }
        }

        log.UpdateHighWatermark(log.LogEndOffset);
    }

    private bool SegmentFileExists(long baseOffset) => File.Exists(LogSegment.FilePath(PartitionDir, baseOffset, LogSegment.LogSuffix));

    [Fact]
    public void RunRetentionOnce_RetentionMs_DeletesSegmentsWhoseNewestRecordIsOlder()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { RetentionMs = 60_000 });
        AppendSegments(log, 3, _time.NowMs, rollAfterLast: true); // offsets 0..5
        _time.Advance(120_000);
        AppendSegments(log, 2, _time.NowMs); // offsets 6..9

        Assert.Equal(3, _manager.RunRetentionOnce());

        Assert.Equal(6, log.LogStartOffset);
        Assert.Equal(10, log.LogEndOffset);
        Assert.Equal(2, log.SegmentCount);
        Assert.False(SegmentFileExists(0));
        Assert.False(SegmentFileExists(4));
        Assert.True(SegmentFileExists(6));
        Assert.Throws<OffsetOutOfRangeException>(() => log.Read(5, 1000, 10, true));
        Assert.Equal(6, Batches.Records(Batches.Bytes(log.Read(6, 1000, 10, true)))[0].Offset);
        Assert.Equal(0, _manager.RunRetentionOnce());
    }

    [Fact]
    public void RunRetentionOnce_WholeLogExpired_RollsActiveSegmentAndDeletesEverything()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { RetentionMs = 60_000 });
        AppendSegments(log, 3, _time.NowMs); // offsets 0..5, the last segment active; newest record at now + 1
        _time.Advance(60_002);

        Assert.Equal(3, _manager.RunRetentionOnce());

        Assert.Equal(6, log.LogStartOffset);
        Assert.Equal(6, log.LogEndOffset);
        var only = Assert.Single(log.Segments);
        Assert.True(only.IsEmpty);
        Assert.Equal(6, only.BaseOffset);
        Assert.Equal(6, log.Append(Batches.Seq(Batches.Make(1, _time.NowMs))).FirstOffset);
        Assert.Equal(0, _manager.RunRetentionOnce()); // the fresh record is not expired
    }

    [Fact]
    public void RunRetentionOnce_RetentionMsNotYetReached_KeepsEverything()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { RetentionMs = 60_000 });
        AppendSegments(log, 3, _time.NowMs);
        _time.Advance(60_001); // the newest record (now + 1) is exactly retention.ms old: not older than it

        Assert.Equal(0, _manager.RunRetentionOnce());
        Assert.Equal(3, log.SegmentCount);
    }

    [Fact]
    public void RunRetentionOnce_InfiniteRetentionMs_KeepsEverything()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { RetentionMs = -1 });
        AppendSegments(log, 3, _time.NowMs);
        _time.Advance(365L * 24 * 3600 * 1000);

        Assert.Equal(0, _manager.RunRetentionOnce());
        Assert.Equal(0, log.LogStartOffset);
    }

    [Fact]
    public void RunRetentionOnce_SegmentsAboveHighWatermark_AreKept()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { RetentionMs = 60_000 });
        AppendSegments(log, 3, _time.NowMs);
        log.TruncateTo(log.LogEndOffset); // no-op; the high watermark is what matters
        _time.Advance(120_000);
        var end = log.LogEndOffset;
        log.Append(Batches.Seq(Batches.Make(2, _time.NowMs - 120_000))); // old data, not yet replicated (above the high watermark)
        log.UpdateHighWatermark(end);

        Assert.Equal(2, _manager.RunRetentionOnce()); // the active segment holds unreplicated data: it stays
        Assert.Equal(4, log.LogStartOffset);
        Assert.Equal(8, log.LogEndOffset);
    }

    [Fact]
    public void RunRetentionOnce_RetentionBytes_DeletesOldestSegmentsWhileOverTheLimit()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { RetentionMs = -1 });
        AppendSegments(log, 7, _time.NowMs); // 7 segments of one equal batch each
        var segmentSize = log.Segments[0].Size;
        Assert.All(log.Segments, s => Assert.Equal(segmentSize, s.Size));
        log.UpdateConfig(log.Config with { RetentionBytes = (3 * segmentSize) + 1 });

        Assert.Equal(3, _manager.RunRetentionOnce());

        Assert.Equal(4, log.SegmentCount);
        Assert.Equal(4 * segmentSize, log.Size); // deleting one more would go below retention.bytes
        Assert.Equal(6, log.LogStartOffset);
        Assert.False(SegmentFileExists(4));
        Assert.True(SegmentFileExists(6));
        Assert.Equal(0, _manager.RunRetentionOnce());
    }

    [Fact]
    public void RunRetentionOnce_RetentionBytes_NeverDeletesActiveSegment()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { RetentionMs = -1, RetentionBytes = 0 });
        AppendSegments(log, 3, _time.NowMs);

        Assert.Equal(2, _manager.RunRetentionOnce());

        Assert.Single(log.Segments);
        Assert.Equal(4, log.LogStartOffset);
        Assert.Equal(6, log.LogEndOffset);
    }

    [Fact]
    public void RunRetentionOnce_CompactPolicyAlone_DisablesTimeAndSizeRetention()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { CleanupPolicy = CleanupPolicy.Compact, RetentionMs = 1, RetentionBytes = 1 });
        AppendSegments(log, 4, _time.NowMs);
        _time.Advance(3_600_000);

        Assert.Equal(0, _manager.RunRetentionOnce());

        Assert.Equal(4, log.SegmentCount);
        Assert.Equal(0, log.LogStartOffset);
        Assert.True(SegmentFileExists(0));
    }

    [Fact]
    public void RunRetentionOnce_CompactAndDeletePolicy_AppliesRetention()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { CleanupPolicy = CleanupPolicy.Compact | CleanupPolicy.Delete, RetentionMs = 1000 });
        AppendSegments(log, 4, _time.NowMs, rollAfterLast: true);
        _time.Advance(2000);
        AppendSegments(log, 1, _time.NowMs);

        Assert.Equal(4, _manager.RunRetentionOnce());
        Assert.Equal(8, log.LogStartOffset);
    }

    [Fact]
    public void RunRetentionOnce_SeveralLogs_EachUsesItsOwnConfig()
    {
        var shortLived = _manager.GetOrCreateLog(new TopicPartition("short", 0), Config with { RetentionMs = 1000 });
        var longLived = _manager.GetOrCreateLog(new TopicPartition("long", 0), Config with { RetentionMs = 1_000_000 });
        AppendSegments(shortLived, 3, _time.NowMs, rollAfterLast: true);
        AppendSegments(longLived, 3, _time.NowMs, rollAfterLast: true);
        _time.Advance(5000);

        Assert.Equal(3, _manager.RunRetentionOnce());
        Assert.Equal(6, shortLived.LogStartOffset);
        Assert.Equal(0, longLived.LogStartOffset);
    }

    [Fact]
    public void Startup_AfterRetention_KeepsTheMovedLogStartOffset()
    {
        var log = _manager.GetOrCreateLog(Tp, Config with { RetentionMs = 60_000 });
        AppendSegments(log, 3, _time.NowMs);
        _time.Advance(120_000);
        _manager.RunRetentionOnce();
        _manager.Shutdown();

        using var restarted = new LogManager(new LogManagerOptions { LogDirs = [_dir.Path] }, Config with { RetentionMs = 60_000 }, _logger, _time);
        restarted.Startup();

        var reopened = restarted.GetLog(Tp)!;
        Assert.Equal(6, reopened.LogStartOffset);
        Assert.Equal(6, reopened.LogEndOffset);
    }
}
