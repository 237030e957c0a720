using System.Diagnostics;
using KafkaCompatBroker.Protocol;
using Xunit.Abstractions;

namespace KafkaCompatBroker.Storage.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class LogManagerTests : IDisposable
{
    private static readonly TopicPartition Orders0 = new("orders", 0);
    private static readonly LogConfig Config = new() { FileDeleteDelayMs = 0 };
    private readonly TempDir _dir = new();
    private readonly ListLogger _logger = new();
    private readonly ManualTime _time = new();
    private readonly List<LogManager> _managers = [];

    private string DirA => Path.Combine(_dir.Path, "a");

    private string DirB => Path.Combine(_dir.Path, "b");

    public void Dispose()
    {
        foreach (var manager in _managers)
        {
            manager.Dispose();
        }

        _dir.Dispose();
    }

    /// <summary>A snapshot of the log lines (background work may still be logging).</summary>
    private List<string> LogMessages() => [.. _logger.Lines.Select(l => l.Message)];

    private LogManager Create(LogManagerOptions? options = null, LogConfig? config = null)
    {
        var manager = new LogManager(options ?? new LogManagerOptions { LogDirs = [DirA] }, config ?? Config, _logger, _time);
        _managers.Add(manager);
        return manager;
    }

    private LogManager Start(LogManagerOptions? options = null, LogConfig? config = null) => Start(out _, options, config);

    private LogManager Start(out LogManagerStartupSummary summary, LogManagerOptions? options = null, LogConfig? config = null)
    {
        var manager = Create(options, config);
        summary = manager.Startup();
        return manager;
    }

    private static void AppendBatches(PartitionLog log, int batches, int recordsPerBatch = 5)
    {
        for (var i = 0; i < batches; i++)
        {
            log.Append(Batches.Seq(Batches.Make(recordsPerBatch)));
        }
    }

    /// <summary>Flips a byte inside the records (not the header) of a batch, so only CRC validation notices.</summary>
    private static void CorruptRecordBytes(string segmentPath, long batchPosition)
    {
        using var file = File.Open(segmentPath, FileMode.Open, FileAccess.ReadWrite);
        file.Position = batchPosition + 70;
        var b = file.ReadByte();
        file.Position = batchPosition + 70;
        file.WriteByte((byte)(b ^ 0x5a));
    }

    /// <summary>The files of the log dirs as a killed broker leaves them (without the lock, which the running one holds).</summary>
    private static void CopyCrashImage(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            if (Path.GetFileName(file) != LogManager.LockFileName)
            {
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
            }
        }

        foreach (var dir in Directory.GetDirectories(from))
        {
            CopyCrashImage(dir, Path.Combine(to, Path.GetFileName(dir)));
        }
    }

    // ------------------------------------------------------------------ startup and shutdown

    [Fact]
    public void Startup_MissingLogDir_CreatesItAndStartsEmpty()
    {
        var manager = Start(out var summary);

        Assert.True(Directory.Exists(DirA));
        Assert.Equal(0, summary.PartitionsLoaded);
        Assert.Empty(manager.AllLogs);
        Assert.Null(manager.GetLog(Orders0));
        Assert.True(File.Exists(Path.Combine(DirA, OffsetCheckpointFile.RecoveryPointFileName)));
        Assert.False(File.Exists(Path.Combine(DirA, LogManager.CleanShutdownFileName)));
    }

    [Fact]
    public void GetOrCreateLog_BeforeStartup_Throws()
    {
        var manager = Create();

        Assert.Throws<InvalidOperationException>(() => manager.GetOrCreateLog(Orders0));
    }

    [Fact]
    public void Startup_LogDirUsedByAnotherManager_Throws()
    {
        Start();
        var second = Create();

        Assert.Throws<KafkaStorageException>(() => second.Startup());
    }

    [Fact]
    public void Shutdown_WritesCheckpointsAndMarker_NextStartupSkipsRecoveryAndDeletesMarker()
    {
        var manager = Start();
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 4);
        manager.Shutdown();

        Assert.True(File.Exists(Path.Combine(DirA, LogManager.CleanShutdownFileName)));
        var recoveryPoints = new OffsetCheckpointFile(Path.Combine(DirA, OffsetCheckpointFile.RecoveryPointFileName), _logger).Read();
        Assert.Equal(20, recoveryPoints[Orders0]);
        Assert.Equal(0, new OffsetCheckpointFile(Path.Combine(DirA, OffsetCheckpointFile.LogStartOffsetFileName), _logger).Read()[Orders0]);

        var restarted = Start(out var summary);

        Assert.Equal(new LogManagerStartupSummary(1, 0, 1, summary.Elapsed), summary);
        Assert.False(File.Exists(Path.Combine(DirA, LogManager.CleanShutdownFileName)));
        Assert.Equal(20, restarted.GetLog(Orders0)!.LogEndOffset);
        Assert.Equal(20, restarted.GetLog(Orders0)!.Append(Batches.Seq(Batches.Make(1))).FirstOffset);
    }

    [Fact]
    public void Startup_AfterCleanShutdown_DoesNotRecover_SoCorruptBatchIsKept()
    {
        var manager = Start();
        AppendBatches(manager.GetOrCreateLog(Orders0), 10);
        manager.Shutdown();

        var segment = LogSegment.FilePath(Path.Combine(DirA, Orders0.DirectoryName), 0, LogSegment.LogSuffix);
        var length = new FileInfo(segment).Length;
        CorruptRecordBytes(segment, 4 * (length / 10));

        var restarted = Start(out var summary);

        Assert.Equal(0, summary.PartitionsRecovered);
        Assert.Equal(50, restarted.GetLog(Orders0)!.LogEndOffset);
        Assert.Equal(length, new FileInfo(segment).Length);
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public void Startup_WithoutCleanShutdownMarker_RecoversAndTruncatesAtCorruptBatch()
    {
        var manager = Start();
        AppendBatches(manager.GetOrCreateLog(Orders0), 10);
        manager.Shutdown();

        var segment = LogSegment.FilePath(Path.Combine(DirA, Orders0.DirectoryName), 0, LogSegment.LogSuffix);
        var length = new FileInfo(segment).Length;
        CorruptRecordBytes(segment, 4 * (length / 10));
        File.Delete(Path.Combine(DirA, LogManager.CleanShutdownFileName)); // as if the broker had crashed

        var restarted = Start(out var summary);

        Assert.Equal(1, summary.PartitionsRecovered);
        Assert.Equal(0, summary.LogDirsCleanlyShutDown);
        Assert.Equal(20, restarted.GetLog(Orders0)!.LogEndOffset);
        Assert.Equal(4 * (length / 10), new FileInfo(segment).Length);
        Assert.Contains(_logger.Warnings, w => w.Contains("offsets 20 to 49", StringComparison.Ordinal));
    }

    [Fact]
    public void Startup_AfterCrash_RecoveryPointCheckpointLimitsRevalidationToLaterSegments()
    {
        var config = Config with { SegmentBytes = 600 };
        var manager = Start(config: config);
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 12);
        log.Roll();
        log.Flush();
        var recoveryPoint = log.LogEndOffset;
        manager.CheckpointRecoveryPoints();
        AppendBatches(log, 6); // not covered by the checkpoint
        var endBeforeCrash = log.LogEndOffset;
        var crashed = Path.Combine(_dir.Path, "crashed");
        CopyCrashImage(DirA, crashed);
        manager.Shutdown();

        var partitionDir = Path.Combine(crashed, Orders0.DirectoryName);
        var first = LogSegment.FilePath(partitionDir, 0, LogSegment.LogSuffix);
        var firstLength = new FileInfo(first).Length;
        var last = LogSegment.FilePath(partitionDir, recoveryPoint, LogSegment.LogSuffix);
        var lastLength = new FileInfo(last).Length;
        CorruptRecordBytes(first, 0); // below the recovery point: trusted, not re-read
        CorruptRecordBytes(last, 0); // above it: validated, cut

        var restarted = Start(out var summary, new LogManagerOptions { LogDirs = [crashed] }, config);

        var recovered = restarted.GetLog(Orders0)!;
        Assert.Equal(1, summary.PartitionsRecovered);
        Assert.Equal(firstLength, new FileInfo(first).Length);
        Assert.Equal(0, new FileInfo(last).Length);
        Assert.True(endBeforeCrash > recoveryPoint);
        Assert.Equal(recoveryPoint, recovered.LogEndOffset);
        Assert.True(lastLength > 0);
    }

    [Fact]
    public void Startup_RestoresLogStartOffsetFromCheckpoint()
    {
        var manager = Start();
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 4);
        log.UpdateHighWatermark(log.LogEndOffset);
        log.DeleteRecordsBefore(7); // inside the first (only) segment
        manager.Shutdown();

        var restarted = Start();

        Assert.Equal(7, restarted.GetLog(Orders0)!.LogStartOffset);
        Assert.Throws<OffsetOutOfRangeException>(() => restarted.GetLog(Orders0)!.Read(6, 1000, 20, true));
    }

    [Fact]
    public void Startup_MalformedCheckpoints_WarnsAndRecoversFromStart()
    {
        var manager = Start();
        AppendBatches(manager.GetOrCreateLog(Orders0), 3);
        manager.Shutdown();
        File.WriteAllText(Path.Combine(DirA, OffsetCheckpointFile.RecoveryPointFileName), "garbage\n");
        File.WriteAllText(Path.Combine(DirA, OffsetCheckpointFile.LogStartOffsetFileName), "0\n5\nshort\n");
        File.Delete(Path.Combine(DirA, LogManager.CleanShutdownFileName));

        var restarted = Start(out var summary);

        Assert.Equal(1, summary.PartitionsRecovered);
        Assert.Equal(15, restarted.GetLog(Orders0)!.LogEndOffset);
        Assert.Equal(2, _logger.Warnings.Count(w => w.Contains("malformed checkpoint", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Startup_LeftoverDeletionsAndForeignDirectories_RemovesDeletionsAndSkipsTheRest()
    {
        var deleting = Path.Combine(DirA, "orders-0.0123456789abcdef0123456789abcdef-delete");
        Directory.CreateDirectory(deleting);
        File.WriteAllText(Path.Combine(deleting, "00000000000000000000.log"), "x");
        Directory.CreateDirectory(Path.Combine(DirA, "lost+found"));
        Directory.CreateDirectory(Path.Combine(DirA, "__cluster_metadata-0"));
        Directory.CreateDirectory(Path.Combine(DirA, "events-1"));

        var manager = Start(out var summary);
        await manager.WhenDeletionsComplete().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(Directory.Exists(deleting));
        Assert.True(Directory.Exists(Path.Combine(DirA, "lost+found")));
        Assert.True(Directory.Exists(Path.Combine(DirA, "__cluster_metadata-0")));
        Assert.Equal(1, summary.PartitionsLoaded);
        Assert.Equal(new TopicPartition("events", 1), Assert.Single(manager.AllLogs).TopicPartition);
        Assert.Contains(_logger.Warnings, w => w.Contains("lost+found", StringComparison.Ordinal));
    }

    [Fact]
    public void Startup_SamePartitionInTwoLogDirs_Throws()
    {
        Directory.CreateDirectory(Path.Combine(DirA, "orders-0"));
        Directory.CreateDirectory(Path.Combine(DirB, "orders-0"));

        var manager = Create(new LogManagerOptions { LogDirs = [DirA, DirB] });

        var error = Assert.Throws<KafkaStorageException>(() => manager.Startup());
        Assert.Contains("orders-0", error.Message, StringComparison.Ordinal);
    }

    // ------------------------------------------------------------------ several log dirs

    [Fact]
    public void GetOrCreateLog_SeveralLogDirs_PicksDirWithFewestPartitionsAndReloadsEach()
    {
        var options = new LogManagerOptions { LogDirs = [DirA, DirB] };
        var manager = Start(options);
        var partitions = Enumerable.Range(0, 4).Select(p => new TopicPartition("orders", p)).ToList();
        foreach (var tp in partitions)
        {
            AppendBatches(manager.GetOrCreateLog(tp), tp.Partition + 1);
        }

        Assert.Equal(2, Directory.GetDirectories(DirA).Length);
        Assert.Equal(2, Directory.GetDirectories(DirB).Length);
        Assert.Same(manager.GetLog(partitions[0]), manager.GetOrCreateLog(partitions[0]));
        manager.Shutdown();

        foreach (var dir in new[] { DirA, DirB })
        {
            var inDir = Directory.GetDirectories(dir).Select(d => Path.GetFileName(d)).Order().ToList();
            var checkpointed = new OffsetCheckpointFile(Path.Combine(dir, OffsetCheckpointFile.RecoveryPointFileName), _logger).Read();
            Assert.Equal(inDir, checkpointed.Keys.Select(k => k.DirectoryName).Order());
            Assert.True(File.Exists(Path.Combine(dir, LogManager.CleanShutdownFileName)));
        }

        var restarted = Start(out var summary, options);

        Assert.Equal(4, summary.PartitionsLoaded);
        Assert.Equal(2, summary.LogDirsCleanlyShutDown);
        foreach (var tp in partitions)
        {
            var log = restarted.GetLog(tp)!;
            Assert.Equal((tp.Partition + 1) * 5, log.LogEndOffset);
            Assert.True(Directory.Exists(log.Directory));
        }

        // New partitions go to the dir with fewer partitions (the first one on a tie).
        Assert.Equal(DirA, Path.GetDirectoryName(restarted.GetOrCreateLog(new TopicPartition("orders", 9)).Directory));
        Assert.Equal(DirB, Path.GetDirectoryName(restarted.GetLog(partitions[1])!.Directory));
        restarted.DeleteLog(partitions[1]);
        Assert.Equal(DirB, Path.GetDirectoryName(restarted.GetOrCreateLog(new TopicPartition("orders", 10)).Directory));
    }

    // ------------------------------------------------------------------ delete

    [Fact]
    public async Task DeleteLog_RenamesThenRemovesDirectoryAndForgetsPartition()
    {
        var manager = Start();
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 3);
        var other = manager.GetOrCreateLog(new TopicPartition("orders", 1));

        Assert.True(manager.DeleteLog(Orders0));
        await manager.WhenDeletionsComplete().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Null(manager.GetLog(Orders0));
        Assert.False(manager.DeleteLog(Orders0));
        Assert.Equal([other], manager.AllLogs);
        Assert.DoesNotContain(Directory.GetDirectories(DirA), d => Path.GetFileName(d).StartsWith("orders-0", StringComparison.Ordinal));
        Assert.DoesNotContain(Orders0, new OffsetCheckpointFile(Path.Combine(DirA, OffsetCheckpointFile.RecoveryPointFileName), _logger).Read().Keys);
        Assert.Throws<KafkaStorageException>(() => log.Append(Batches.Seq(Batches.Make(1))));

        // The name is free again at once: a re-created topic starts empty.
        var recreated = manager.GetOrCreateLog(Orders0);
        Assert.Equal(0, recreated.LogEndOffset);
    }

    // ------------------------------------------------------------------ high watermarks (replication-offset-checkpoint)

    [Fact]
    public void CheckpointRecoveryPoints_WritesHighWatermarksReadBackAtRestart()
    {
        var manager = Start();
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 2);
        log.UpdateHighWatermark(7);
        var path = Path.Combine(DirA, OffsetCheckpointFile.HighWatermarkFileName);

        manager.CheckpointRecoveryPoints();
        Assert.Equal("0\n1\norders 0 7\n", File.ReadAllText(path));
        log.UpdateHighWatermark(10);
        manager.Shutdown();
        Assert.Equal("0\n1\norders 0 10\n", File.ReadAllText(path));

        var restarted = Start();
        Assert.Equal(10, restarted.GetLog(Orders0)!.CheckpointedHighWatermark);
    }

    [Fact]
    public void Startup_CheckpointedHighWatermark_LogOpensAtItNotAtTheLogEnd()
    {
        // The broker's Partition, not the log, decides the high watermark once it hosts the log (a follower would not move it to the end).
        var manager = Start();
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 2);
        log.UpdateHighWatermark(7);
        manager.Shutdown();

        var reopened = Start().GetLog(Orders0)!;

        Assert.Equal((7L, 10L), (reopened.HighWatermark, reopened.LogEndOffset));
    }

    [Fact]
    public void Startup_CheckpointedHighWatermarkPastLogEnd_ClampedToLogEnd()
    {
        var manager = Start();
        AppendBatches(manager.GetOrCreateLog(Orders0), 1);
        manager.GetOrCreateLog(new TopicPartition("orders", 1));
        manager.Shutdown();
        new OffsetCheckpointFile(Path.Combine(DirA, OffsetCheckpointFile.HighWatermarkFileName), _logger).Write([KeyValuePair.Create(Orders0, 99L)]);

        var restarted = Start();

        Assert.Equal(5, restarted.GetLog(Orders0)!.CheckpointedHighWatermark);
        Assert.Equal(-1, restarted.GetLog(new TopicPartition("orders", 1))!.CheckpointedHighWatermark);
    }

    // ------------------------------------------------------------------ topic ids (partition.metadata)

    [Fact]
    public void GetOrCreateLog_WithTopicId_WritesPartitionMetadataReadBackAtRestart()
    {
        var id = KafkaUuid.NewRandom();
        var manager = Start();
        manager.GetOrCreateLog(Orders0, topicId: id);
        manager.Shutdown();

        var restarted = Start();

        Assert.Equal($"version: 0\ntopic_id: {id}\n", File.ReadAllText(Path.Combine(DirA, Orders0.DirectoryName, PartitionMetadataFile.FileName)));
        Assert.Equal(id, restarted.GetLog(Orders0)!.TopicId);
    }

    [Fact]
    public void GetOrCreateLog_LogWithoutTopicId_AdoptsIt()
    {
        var manager = Start();
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 2);
        var id = KafkaUuid.NewRandom();

        Assert.Same(log, manager.GetOrCreateLog(Orders0, topicId: id));
        Assert.Equal(id, log.TopicId);
        Assert.Equal(10, log.LogEndOffset);
        Assert.True(File.Exists(Path.Combine(log.Directory, PartitionMetadataFile.FileName)));
    }

    [Fact]
    public async Task GetOrCreateLog_AfterRestartWithOtherTopicId_RenamesStrayForDeletionAndStartsFresh()
    {
        var oldId = KafkaUuid.NewRandom();
        var manager = Start();
        AppendBatches(manager.GetOrCreateLog(Orders0, topicId: oldId), 3);
        manager.Shutdown();

        // The topic was deleted and re-created under the same name while this directory survived (a crash).
        var newId = KafkaUuid.NewRandom();
        var restarted = Start();
        var log = restarted.GetOrCreateLog(Orders0, topicId: newId);
        await restarted.WhenDeletionsComplete().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal((newId, 0L), (log.TopicId, log.LogEndOffset));
        Assert.Equal([Orders0.DirectoryName], Directory.GetDirectories(DirA).Select(Path.GetFileName));
        Assert.Single(_logger.Warnings, w => w.Contains(oldId.ToString(), StringComparison.Ordinal) && w.Contains("-delete", StringComparison.Ordinal));
        restarted.Shutdown();

        var again = Start();
        Assert.Equal((newId, 0L), (again.GetLog(Orders0)!.TopicId, again.GetLog(Orders0)!.LogEndOffset));
    }

    [Fact]
    public void DeleteLog_OtherTopicId_LeavesTheLog()
    {
        var manager = Start();
        manager.GetOrCreateLog(Orders0, topicId: KafkaUuid.NewRandom());

        Assert.False(manager.DeleteLog(Orders0, KafkaUuid.NewRandom()));
        Assert.NotNull(manager.GetLog(Orders0));
    }

    [Fact]
    public async Task DeleteLog_CrashBeforeRemoval_NextStartupFinishesDeletion()
    {
        var manager = Start();
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 3);
        var renamed = log.Directory + ".aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-delete";
        var crashed = Path.Combine(_dir.Path, "crashed");
        CopyCrashImage(DirA, crashed);
        Directory.Move(Path.Combine(crashed, Orders0.DirectoryName), Path.Combine(crashed, Path.GetFileName(renamed)));

        var restarted = Start(out var summary, new LogManagerOptions { LogDirs = [crashed] });
        await restarted.WhenDeletionsComplete().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(0, summary.PartitionsLoaded);
        Assert.Empty(Directory.GetDirectories(crashed));
    }

    // ------------------------------------------------------------------ flush and checkpoints

    [Fact]
    public void FlushDueLogs_AfterFlushMs_MovesRecoveryPointAndCheckpointRecordsIt()
    {
        var manager = Start(config: Config with { FlushMs = 1000 });
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 3);

        manager.FlushDueLogs();
        Assert.Equal(0, log.RecoveryPoint);

        _time.Advance(1000);
        manager.FlushDueLogs();
        Assert.Equal(15, log.RecoveryPoint);

        manager.CheckpointRecoveryPoints();
        Assert.Equal(15, new OffsetCheckpointFile(Path.Combine(DirA, OffsetCheckpointFile.RecoveryPointFileName), _logger).Read()[Orders0]);
    }

    [Fact]
    public void CheckpointLogStartOffsets_WritesEachLogsStartOffset()
    {
        var manager = Start();
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 3);
        log.UpdateHighWatermark(log.LogEndOffset);
        log.DeleteRecordsBefore(4);

        manager.CheckpointLogStartOffsets();

        Assert.Equal(4, new OffsetCheckpointFile(Path.Combine(DirA, OffsetCheckpointFile.LogStartOffsetFileName), _logger).Read()[Orders0]);
    }

    [Fact]
    public async Task BackgroundLoops_ShortIntervals_RunTheirWorkAndLogWhyTheyStop()
    {
        var options = new LogManagerOptions
        {
            LogDirs = [DirA],
            LogFlushSchedulerIntervalMs = 10,
            LogFlushOffsetCheckpointIntervalMs = 10,
            LogRetentionCheckIntervalMs = 10,
        };
        var manager = Start(options, Config with { FlushMs = 0, RetentionMs = 1000, SegmentBytes = 300 });
        var log = manager.GetOrCreateLog(Orders0);
        AppendBatches(log, 6, recordsPerBatch: 2);
        log.UpdateHighWatermark(log.LogEndOffset);
        _time.Advance(10_000);
        var checkpoint = new OffsetCheckpointFile(Path.Combine(DirA, OffsetCheckpointFile.RecoveryPointFileName), _logger);

        await Eventually.UntilAsync(() => log.LogStartOffset >= 12 && checkpoint.Read().GetValueOrDefault(Orders0) >= 12, "retention removes the old segments and the checkpoint records it");

        Assert.Equal(12, log.LogStartOffset); // retention removed everything, flush + checkpoint recorded it
        Assert.Equal(12, checkpoint.Read()[Orders0]);
        manager.Shutdown();
        Assert.Contains(LogMessages(), m => m.Contains("retention check", StringComparison.Ordinal) && m.Contains("stopped: the log manager is shutting down", StringComparison.Ordinal));
        Assert.Contains(LogMessages(), m => m.Contains("Log compaction is off: no cleaner is configured", StringComparison.Ordinal));
    }

    // ------------------------------------------------------------------ the compaction hook

    [Fact]
    public void RunCleanerOnce_CallsCleanerForCompactedLogsAndPersistsCleanedOffset()
    {
        var calls = new List<(TopicPartition Tp, long FirstDirty)>();
        var options = new LogManagerOptions
        {
            LogDirs = [DirA],
            Cleaner = (log, firstDirty) =>
            {
                lock (calls)
                {
                    calls.Add((log.TopicPartition, firstDirty));
                }

                return log.LogEndOffset - 1;
            },
        };
        var compacted = new TopicPartition("compacted", 0);
        var manager = Start(options);
        AppendBatches(manager.GetOrCreateLog(compacted, Config with { CleanupPolicy = CleanupPolicy.Compact }), 4);
        AppendBatches(manager.GetOrCreateLog(Orders0), 4);

        Assert.Equal(1, manager.RunCleanerOnce());
        Assert.Equal([(compacted, 0L)], calls);
        Assert.Equal(19, manager.CleanerCheckpoint(compacted));
        Assert.Null(manager.CleanerCheckpoint(Orders0));
        var file = new OffsetCheckpointFile(Path.Combine(DirA, OffsetCheckpointFile.CleanerOffsetFileName), _logger);
        Assert.Equal(new Dictionary<TopicPartition, long> { [compacted] = 19 }, file.Read());

        Assert.Equal(0, manager.RunCleanerOnce()); // returns 19 again: nothing new
        Assert.Equal((compacted, 19L), calls[^1]);
        manager.Shutdown();

        var restarted = Start(options, Config with { CleanupPolicy = CleanupPolicy.Compact | CleanupPolicy.Delete });
        Assert.Equal(19, restarted.CleanerCheckpoint(compacted));
        restarted.RunCleanerOnce();
        Assert.Contains((Orders0, 0L), calls); // compact,delete is compacted too
        Assert.Equal((compacted, 19L), calls.Last(c => c.Tp == compacted));
    }

    [Fact]
    public void RunCleanerOnce_CleanerThrows_LogsAndSkipsThatLogAfterwards()
    {
        var calls = 0;
        var options = new LogManagerOptions
        {
            LogDirs = [DirA],
            Cleaner = (_, _) =>
            {
                calls++;
                throw new InvalidOperationException("boom");
            },
        };
        var manager = Start(options, Config with { CleanupPolicy = CleanupPolicy.Compact });
        manager.GetOrCreateLog(Orders0);

        Assert.Equal(0, manager.RunCleanerOnce());
        Assert.Equal(0, manager.RunCleanerOnce());
        Assert.Equal(1, calls);
        Assert.Contains(LogMessages(), m => m.Contains("Compaction of orders-0 failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task CleanerLoop_ShortBackoff_CallsCleaner()
    {
        var called = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new LogManagerOptions
        {
            LogDirs = [DirA],
            LogCleanerBackoffMs = 10,
            Cleaner = (log, firstDirty) =>
            {
                called.TrySetResult(firstDirty);
                return log.LogEndOffset;
            },
        };
        var manager = Start(options, Config with { CleanupPolicy = CleanupPolicy.Compact });
        manager.GetOrCreateLog(Orders0);

        Assert.Equal(0, await called.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task CleanerBackoffMs_SetWhileRunning_ChangesTheLoopPeriod()
    {
        var called = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new LogManagerOptions
        {
            LogDirs = [DirA],
            LogCleanerBackoffMs = 3_600_000,
            Cleaner = (log, firstDirty) =>
            {
                called.TrySetResult(firstDirty);
                return log.LogEndOffset;
            },
        };
        var manager = Start(options, Config with { CleanupPolicy = CleanupPolicy.Compact });
        manager.GetOrCreateLog(Orders0);
        Assert.Equal(TimeSpan.FromHours(1), manager.CleanerPeriod);

        manager.CleanerBackoffMs = 10;

        Assert.Equal(TimeSpan.FromMilliseconds(10), manager.CleanerPeriod);
        Assert.Equal(0, await called.Task.WaitAsync(TimeSpan.FromSeconds(10)));
        manager.CleanerBackoffMs = 0; // a value no timer takes: the period stays
        Assert.Equal(TimeSpan.FromMilliseconds(10), manager.CleanerPeriod);
    }

    [Fact]
    public async Task CleanerBackoffMs_SameValueSetAgain_DoesNotPostponeThePass()
    {
        var called = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new LogManagerOptions
        {
            LogDirs = [DirA],
            LogCleanerBackoffMs = 3_600_000,
            Cleaner = (log, firstDirty) =>
            {
                called.TrySetResult(firstDirty);
                return log.LogEndOffset;
            },
        };
        var manager = Start(options, Config with { CleanupPolicy = CleanupPolicy.Compact });
        manager.GetOrCreateLog(Orders0);

        // Any broker config change re-applies every dynamic value; the cleaner must still run every 200 ms.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!called.Task.IsCompleted && DateTime.UtcNow < deadline)
        {
            manager.CleanerBackoffMs = 200;
            await Task.WhenAny(called.Task, Task.Delay(20)); // the pace of the repeated config change (the stimulus), the loop has a deadline
        }

        Assert.True(called.Task.IsCompleted, "the cleaner never ran");
    }

    [Fact]
    public void ProducerIdExpirationMs_SetAtRunTime_UsedByTheNextCheck()
    {
        var manager = Start(new LogManagerOptions { LogDirs = [DirA] });
        var log = manager.GetOrCreateLog(Orders0);
        log.Append(ProducerStateTests.Batch(7, 0, 0, timestamp: _time.NowMs));
        _time.Advance(1000);
        Assert.Equal(0, manager.RemoveExpiredProducersOnce());

        manager.ProducerIdExpirationMs = 1000;

        Assert.Equal(1, manager.RemoveExpiredProducersOnce());
    }
}

/// <summary>The log manager at scale: a thousand partitions on disk, an unclean stop, a full recovery (disk-heavy, so integration).</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class LogManagerScaleTests(ITestOutputHelper output) : IDisposable
{
    private static readonly LogConfig Config = new() { FileDeleteDelayMs = 0 };
    private readonly TempDir _dir = new();
    private readonly ListLogger _logger = new();
    private readonly List<LogManager> _managers = [];

    private string DirA => Path.Combine(_dir.Path, "a");

    private string DirB => Path.Combine(_dir.Path, "b");

    public void Dispose()
    {
        foreach (var manager in _managers)
        {
            manager.Dispose();
        }

        _dir.Dispose();
    }

    private List<string> LogMessages() => [.. _logger.Lines.Select(l => l.Message)];

    private LogManager Start(LogManagerOptions options, LogConfig config) => Start(out _, options, config);

    private LogManager Start(out LogManagerStartupSummary summary, LogManagerOptions options, LogConfig config)
    {
        var manager = new LogManager(options, config, _logger, new ManualTime());
        _managers.Add(manager);
        summary = manager.Startup();
        return manager;
    }

    [Fact]
    public void Startup_1000PartitionsAfterUncleanStop_RecoversAll()
    {
        const int Partitions = 1000;
        var options = new LogManagerOptions { LogDirs = [DirA, DirB] };
        var config = Config with { SegmentBytes = 1024, IndexIntervalBytes = 256 };
        var manager = Start(options, config);
        var stopwatch = Stopwatch.StartNew();
        for (var p = 0; p < Partitions; p++)
        {
            var log = manager.GetOrCreateLog(new TopicPartition("load", p), config);
            log.Append(Batches.Seq(Batches.Make(1 + (p % 7), valueSize: 40)));
            log.Append(Batches.Seq(Batches.Make(3, valueSize: 40)));
        }

        output.WriteLine($"created and filled {Partitions} partitions in {stopwatch.ElapsedMilliseconds} ms");
        manager.Shutdown();
        foreach (var dir in new[] { DirA, DirB })
        {
            // An unclean stop with no usable checkpoint: every partition is validated from its start.
            File.Delete(Path.Combine(dir, LogManager.CleanShutdownFileName));
            File.Delete(Path.Combine(dir, OffsetCheckpointFile.RecoveryPointFileName));
        }

        var restarted = Start(out var summary, options, config);

        output.WriteLine($"recovered {summary.PartitionsRecovered} partitions in {summary.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(Partitions, summary.PartitionsLoaded);
        Assert.Equal(Partitions, summary.PartitionsRecovered);
        for (var p = 0; p < Partitions; p++)
        {
            var log = restarted.GetLog(new TopicPartition("load", p))!;
            Assert.Equal(1 + (p % 7) + 3, log.LogEndOffset);
            Assert.Equal(0, log.RecoveryPoint); // validated, not yet flushed (as Kafka): a crash now validates it again
        }

        Assert.Empty(_logger.Warnings);
        Assert.Contains(LogMessages(), m => m.StartsWith("Loaded 1000 partition log(s) from 2 log dir(s)", StringComparison.Ordinal));
    }
}
