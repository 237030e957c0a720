using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// Offsets a partition log starts from, as the log manager's checkpoints remember them; <paramref name="HighWatermark"/>
/// is the replication-offset-checkpoint's (-1: none).
/// </summary>
public readonly record struct PartitionLogCheckpoint(long RecoveryPoint, long LogStartOffset, long HighWatermark = -1);

/// <summary>
/// The log of one partition: a directory of segments, of which the last is the active one that
/// takes appends. Writers (append, roll, truncate, retention, compaction's swap) serialize on a lock;
/// readers take an immutable snapshot of the segment list and never block or wait for writers.
/// </summary>
/// <summary>Receives one stored batch from <see cref="PartitionLog.ForEachBatch"/>.</summary>
public delegate void StoredBatchVisitor(ReadOnlySpan<byte> batch, in RecordBatchHeader header);

public sealed class PartitionLog : IDisposable
{
    private const string DeletedSuffix = ".deleted";
    private const string CleanedSuffix = ".cleaned";
    private const string SwapSuffix = ".swap";

    // Kafka streams a batch's decompression; this broker decompresses whole, so a client's batch whose records
    // decompress beyond the cleaner's bound is refused (MESSAGE_TOO_LARGE) instead of being buffered.
    private const int MaxDecompressedBatchBytes = 64 * 1024 * 1024;
    private static readonly ILogger NullLoggerInstance = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private readonly object _lock = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly byte[] _headerScratch = new byte[RecordBatchHeader.Size];
    private readonly List<ReadOnlyMemory<byte>> _gather = [];
    private LogSegment[] _segments;
    private long _logStartOffset;
    private long _highWatermark;
    private long _lastStableOffset;
    private long _recoveryPoint;
    private long _flushedOffset;
    private long _lastFlushMs;
    private bool _closed;

    // Set when files were created, renamed or deleted in the directory: the next flush fsyncs the
    // directory too, or a segment created by a roll could vanish on power loss with its data.
    private volatile bool _directoryDirty;

    // The fsyncs of rolled segments run in the background, one after another; closing waits for them
    // so that no file handle is still in use (or left unsynced) once Close returns.
    private Task _backgroundFlush = Task.CompletedTask;

    // The end of the records a flush was last asked for by flush.messages (under _lock): appends count their
    // unflushed messages from here, so appends made while that flush is pending do not each ask for another.
    private long _flushRequestedUpTo;

    // Set by the first failed fsync. The log then takes no more appends and fsyncs nothing more, as Kafka takes
    // a log dir offline: after a failed fsync the kernel may have dropped the dirty pages, so a later fsync
    // that succeeds would prove nothing.
    private volatile KafkaStorageException? _storageFailure;

    private PartitionLog(string directory, TopicPartition topicPartition, LogConfig config, LogSegment[] segments, long logStartOffset, LeaderEpochFileCache leaderEpochs, ILogger logger, TimeProvider time)
    {
        _leaderEpochs = leaderEpochs;
        Directory = directory;
        TopicPartition = topicPartition;
        Config = config;
        _segments = segments;
        _logStartOffset = logStartOffset;
        _logger = logger;
        _time = time;
        _lastFlushMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        ProducerSnapshots = new ProducerStateSnapshots(directory);
        _producerState = new ProducerStateManager(topicPartition);
        _groupFlusher = new GroupFlusher(this);
    }

    private readonly GroupFlusher _groupFlusher;

    private readonly ProducerStateManager _producerState;
    private readonly LeaderEpochFileCache _leaderEpochs;
    private KafkaUuid? _topicId;
    private readonly PooledBufferWriter _markerScratch = new();

    public string Directory { get; }

    public TopicPartition TopicPartition { get; }

    public LogConfig Config { get; private set; }

    public ProducerStateSnapshots ProducerSnapshots { get; }

    /// <summary>
    /// The id of the topic this log belongs to (KIP-516), from its partition.metadata; null for a log written before
    /// topic ids, until <see cref="AssignTopicId"/> records one.
    /// </summary>
    public KafkaUuid? TopicId
    {
        get
        {
            lock (_lock)
            {
                return _topicId;
            }
        }
    }

    /// <summary>
    /// Records the topic id of a log that has none yet in its partition.metadata (a new log, or one from before topic
    /// ids). A different id than the recorded one is refused: that directory belongs to another topic of the same name.
    /// </summary>
    public void AssignTopicId(KafkaUuid topicId)
    {
        lock (_lock)
        {
            if (_topicId is { } existing)
            {
                if (existing != topicId)
                {
                    throw new InvalidOperationException($"the log of {TopicPartition} belongs to topic id {existing}, not {topicId}");
                }

                return;
            }

            ThrowIfClosed();
            _topicId = topicId;
        }

        // Once per log (at its creation): written outside the lock, as the other partition files are.
        PartitionMetadataFile.Write(Directory, topicId);
    }

    /// <summary>The leader epochs of this log and where each starts (its leader-epoch-checkpoint).</summary>
    public LeaderEpochFileCache LeaderEpochCache => _leaderEpochs;

    public long LogStartOffset => Volatile.Read(ref _logStartOffset);

    /// <summary>The offset the next appended record gets.</summary>
    public long LogEndOffset => Volatile.Read(ref _segments)[^1].NextOffset;

    /// <summary>
    /// The high watermark the replication-offset-checkpoint held when the log opened, within [log start, log end]
    /// (-1: none): where a follower's high watermark restarts (Kafka's Partition initialises it from the checkpoint).
    /// </summary>
    public long CheckpointedHighWatermark { get; private set; } = -1;

    /// <summary>The offset below which records are committed and visible to consumers (set by the broker).</summary>
    public long HighWatermark => Volatile.Read(ref _highWatermark);

    /// <summary>
    /// The offset below which every transaction is decided (Kafka's last stable offset): the first offset of
    /// the oldest transaction still open (or decided above the high watermark), capped by the high watermark.
    /// read_committed consumers read up to it.
    /// </summary>
    public long LastStableOffset => Volatile.Read(ref _lastStableOffset);

    /// <summary>
    /// Everything below this offset is known to be on disk (fsynced) with its indexes; recovery after an unclean
    /// stop re-validates from the segment holding it. It may lag <see cref="FlushedOffset"/> inside the active segment.
    /// </summary>
    public long RecoveryPoint => Volatile.Read(ref _recoveryPoint);

    /// <summary>Every record below this offset is known to be on disk (fsynced); at least the recovery point.</summary>
    public long FlushedOffset => Math.Max(Volatile.Read(ref _flushedOffset), RecoveryPoint);

    /// <summary>Whether an fsync of this log failed: it then refuses appends (KAFKA_STORAGE_ERROR) until the broker restarts.</summary>
    public bool IsOffline => _storageFailure is not null;

    /// <summary>Runs before each flush's fsyncs; tests count, hold or fail flushes with it (an exception here is a failed fsync).</summary>
    internal Action? BeforeFsync { get; set; }

    /// <summary>Total bytes of all segments.</summary>
    public long Size => Volatile.Read(ref _segments).Sum(s => s.Size);

    public int SegmentCount => Volatile.Read(ref _segments).Length;

    internal IReadOnlyList<LogSegment> Segments => Volatile.Read(ref _segments);

    internal ILogger Logger => _logger;

    internal TimeProvider Time => _time;

    private long NowMs => _time.GetUtcNow().ToUnixTimeMilliseconds();

    // ------------------------------------------------------------------ open and recovery

    /// <summary>
    /// Opens (or creates) the log in <paramref name="directory"/>. After a clean shutdown the segments are
    /// trusted (indexes are still sanity-checked). Otherwise every segment from the one holding the
    /// recovery point onwards is validated batch by batch; a torn or corrupt batch and everything after
    /// it is dropped, with a warning naming the offsets lost.
    /// </summary>
    public static PartitionLog Open(
        string directory,
        TopicPartition topicPartition,
        LogConfig config,
        PartitionLogCheckpoint checkpoint,
        bool cleanShutdown,
        ILogger logger,
        TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        if (!System.IO.Directory.Exists(directory))
        {
            System.IO.Directory.CreateDirectory(directory);
            FileSync.FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(directory))!);
        }

        RemoveLeftovers(directory, logger);
        CompleteInterruptedSwaps(directory, config, logger);

        var baseOffsets = System.IO.Directory.EnumerateFiles(directory, "*" + LogSegment.LogSuffix)
            .Select(p => long.TryParse(Path.GetFileNameWithoutExtension(p), NumberStyles.None, CultureInfo.InvariantCulture, out var o) ? o : -1)
            .Where(o => o >= 0)
            .Order()
            .ToList();
        var recoverFrom = baseOffsets.LastOrDefault(o => o <= checkpoint.RecoveryPoint, baseOffsets.Count > 0 ? baseOffsets[0] : 0);

        var segments = new List<LogSegment>();
        for (var i = 0; i < baseOffsets.Count; i++)
        {
            var trust = cleanShutdown || baseOffsets[i] < recoverFrom;
            var segment = LogSegment.Open(directory, baseOffsets[i], config, trust, logger, out var recovery);
            segments.Add(segment);
            if (recovery.Truncated && i + 1 < baseOffsets.Count)
            {
                // Data after a corrupt batch cannot be trusted to continue the log: drop the later segments too,
                // and say how far the lost range went (the last segment's end, read from its headers).
                long lostUpTo;
                using (var last = LogSegment.Open(directory, baseOffsets[^1], config, trustContents: true, NullLoggerInstance, out _))
                {
                    lostUpTo = last.NextOffset - 1;
                }

                for (var j = i + 1; j < baseOffsets.Count; j++)
                {
                    logger.LogWarning("Recovery of {Partition} deletes segment {BaseOffset}, which follows a corrupt batch", topicPartition, baseOffsets[j]);
                    foreach (var suffix in new[] { LogSegment.LogSuffix, LogSegment.IndexSuffix, LogSegment.TimeIndexSuffix, LogSegment.TxnIndexSuffix })
                    {
                        File.Delete(LogSegment.FilePath(directory, baseOffsets[j], suffix));
                    }
                }

                logger.LogWarning("Recovery of {Partition} lost offsets {First} to {Last} in all", topicPartition, segment.NextOffset, lostUpTo);

                break;
            }
        }

        var logStartOffset = Math.Max(checkpoint.LogStartOffset, segments.Count > 0 ? segments[0].BaseOffset : 0);
        if (segments.Count == 0)
        {
            segments.Add(LogSegment.Create(directory, logStartOffset, config, time.GetUtcNow().ToUnixTimeMilliseconds()));
        }

        if (!PartitionMetadataFile.TryRead(directory, out var topicId, out var metadataProblem))
        {
            throw new KafkaStorageException($"the {PartitionMetadataFile.FileName} of {topicPartition} in {directory} is unreadable: {metadataProblem}");
        }

        var epochsLoaded = LeaderEpochFileCache.TryLoad(directory, out var leaderEpochs, out var epochProblem);
        var log = new PartitionLog(directory, topicPartition, config, [.. segments], logStartOffset, leaderEpochs, logger, time)
        {
            _topicId = topicId,
        };
        if (log.LogStartOffset > log.LogEndOffset)
        {
            // The checkpointed start is past the data (e.g. everything was deleted): start empty there.
            log.TruncateFullyAndStartAt(log.LogStartOffset);
        }

        // After a crash the recovery point stays where the validated data began, as in Kafka: the data is
        // not fsynced here (that would write back whatever the killed process left in the page cache
        // before the broker can serve), so a crash before the next flush validates it again, and the
        // next flush (e.g. flush.messages) covers it.
        var durableUpTo = cleanShutdown ? log.LogEndOffset : Math.Min(recoverFrom, log.LogEndOffset);
        Volatile.Write(ref log._recoveryPoint, durableUpTo);
        Volatile.Write(ref log._flushedOffset, durableUpTo);
        log.CheckpointedHighWatermark = checkpoint.HighWatermark < 0 ? -1 : Math.Clamp(checkpoint.HighWatermark, log.LogStartOffset, log.LogEndOffset);

        // ONE-REPLICA: this broker is the whole ISR, so the high watermark is the log end; a follower would start from
        // the checkpointed one instead.
        Volatile.Write(ref log._highWatermark, log.LogEndOffset);

        // After a crash, snapshots above the validated data may describe batches (or index entries) that did not reach the disk.
        lock (log._lock)
        {
            log.LoadProducerStateLocked(cleanShutdown ? log.LogEndOffset : Math.Min(recoverFrom, log.LogEndOffset));
            log.LoadLeaderEpochsLocked(epochsLoaded ? (cleanShutdown ? log.LogEndOffset : Math.Min(recoverFrom, log.LogEndOffset)) : log.LogStartOffset, epochsLoaded ? null : epochProblem);
        }

        log.WriteLeaderEpochCheckpoint();
        return log;
    }

    private static void RemoveLeftovers(string directory, ILogger logger)
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(directory))
        {
            if (file.EndsWith(DeletedSuffix, StringComparison.Ordinal) || file.EndsWith(CleanedSuffix, StringComparison.Ordinal) || file.EndsWith(".tmp", StringComparison.Ordinal))
            {
                logger.LogInformation("Removing leftover file {File}", file);
                File.Delete(file);
            }
            else if ((file.EndsWith(LogSegment.IndexSuffix, StringComparison.Ordinal) || file.EndsWith(LogSegment.TimeIndexSuffix, StringComparison.Ordinal)
                      || file.EndsWith(LogSegment.TxnIndexSuffix, StringComparison.Ordinal))
                     && !File.Exists(Path.ChangeExtension(file, LogSegment.LogSuffix)))
            {
                File.Delete(file); // an index without its log
            }
        }
    }

    /// <summary>
    /// A ".swap" segment is a complete replacement (written and synced by compaction) whose swap was
    /// interrupted: it replaces every old segment inside its offset range.
    /// </summary>
    private static void CompleteInterruptedSwaps(string directory, LogConfig config, ILogger logger)
    {
        foreach (var swapLog in System.IO.Directory.EnumerateFiles(directory, "*" + LogSegment.LogSuffix + SwapSuffix).Order(StringComparer.Ordinal).ToList())
        {
            var name = Path.GetFileName(swapLog);
            var baseOffset = long.Parse(name[..name.IndexOf('.', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
            long next;
            using (var swap = LogSegment.Open(directory, baseOffset, config, trustContents: false, logger, out _, SwapSuffix))
            {
                next = swap.NextOffset;
            }

            foreach (var old in System.IO.Directory.EnumerateFiles(directory, "*" + LogSegment.LogSuffix).ToList())
            {
                if (long.TryParse(Path.GetFileNameWithoutExtension(old), NumberStyles.None, CultureInfo.InvariantCulture, out var oldBase) && oldBase >= baseOffset && oldBase < next)
                {
                    foreach (var suffix in new[] { LogSegment.LogSuffix, LogSegment.IndexSuffix, LogSegment.TimeIndexSuffix, LogSegment.TxnIndexSuffix })
                    {
                        File.Delete(LogSegment.FilePath(directory, oldBase, suffix));
                    }
                }
            }

            foreach (var suffix in new[] { LogSegment.LogSuffix, LogSegment.IndexSuffix, LogSegment.TimeIndexSuffix, LogSegment.TxnIndexSuffix })
            {
                var from = LogSegment.FilePath(directory, baseOffset, suffix + SwapSuffix);
                if (File.Exists(from))
                {
                    File.Move(from, LogSegment.FilePath(directory, baseOffset, suffix), overwrite: true);
                }
            }

            logger.LogInformation("Completed an interrupted compaction swap of segment {BaseOffset} in {Directory}", baseOffset, directory);
        }
    }

    // ------------------------------------------------------------------ append

    /// <summary>
    /// Appends the record batches in <paramref name="records"/> (e.g. a Produce request's records,
    /// still in the network buffer). Every batch is validated before any is written; the batch bytes
    /// are written as they came except the header fields the log owns (base offset, leader epoch, and
    /// for LogAppendTime the timestamp), patched in a copy of the 61-byte header. When flush.messages asks
    /// for a flush, it runs before this returns (outside the lock, so other appends do not wait for it).
    /// </summary>
    public LogAppendResult Append(in ReadOnlySequence<byte> records, int leaderEpoch = -1, AppendOrigin origin = AppendOrigin.Client)
    {
        var result = AppendWithoutFlush(records, leaderEpoch, origin);
        if (result.FlushRequired)
        {
            FlushUpTo(result.LastOffset + 1, dataOnly: true);
        }

        return result;
    }

    /// <summary>
    /// <see cref="Append"/> without the flush: when the result says <see cref="LogAppendResult.FlushRequired"/>,
    /// the records are in the page cache only, and must not be acknowledged (or shown to consumers) before
    /// <see cref="WaitForFlushAsync"/> for their end completes.
    /// </summary>
    public LogAppendResult AppendWithoutFlush(in ReadOnlySequence<byte> records, int leaderEpoch = -1, AppendOrigin origin = AppendOrigin.Client)
    {
        // The checks read only the records (and max.message.bytes): CRCs and decompression run before the lock, so
        // appends to the partition do not queue behind them.
        var (batchCount, recordCount) = ValidateForAppend(records, origin, Config);
        if (origin == AppendOrigin.Client)
        {
            ValidateRecords(records);
        }

        var epochChanged = false;
        try
        {
            return AppendLocked(records, leaderEpoch, origin, batchCount, recordCount, ref epochChanged);
        }
        finally
        {
            if (epochChanged)
            {
                WriteLeaderEpochCheckpoint();
            }
        }
    }

    private LogAppendResult AppendLocked(in ReadOnlySequence<byte> records, int leaderEpoch, AppendOrigin origin, int batchCount, long recordCount, ref bool epochChanged)
    {
        lock (_lock)
        {
            ThrowIfClosed();
            var config = Config;
            if (AnalyzeProducerState(records, origin) is { } duplicate)
            {
                // A producer's retry of a batch already written: answer with the original offsets, write nothing;
                // but not before the original is on disk when a flush was asked for it (it may still be pending).
                var flushPending = duplicate.LastOffset < _flushRequestedUpTo && duplicate.LastOffset >= FlushedOffset;
                return new LogAppendResult(duplicate.FirstOffset, duplicate.LastOffset, duplicate.Timestamp, duplicate.LastOffset, duplicate.Timestamp, LogStartOffset, batchCount, recordCount, 0, Duplicate: true, FlushRequired: flushPending);
            }

            var now = NowMs;
            var first = -1L;
            var maxTimestamp = -1L;
            var offsetOfMaxTimestamp = -1L;
            var stampLogAppendTime = origin != AppendOrigin.Replication && config.MessageTimestampType == TimestampType.LogAppendTime;
            var next = LogEndOffset;
            var bytes = 0;
            foreach (var slice in RecordBatches.Enumerate(records))
            {
                var headerBytes = _headerScratch.AsSpan();
                slice.Bytes.Slice(0, RecordBatchHeader.Size).CopyTo(headerBytes);
                var rest = slice.Bytes.Slice(RecordBatchHeader.Size);
                if (origin != AppendOrigin.Replication)
                {
                    BinaryPrimitives.WriteInt64BigEndian(headerBytes, next);
                    BinaryPrimitives.WriteInt32BigEndian(headerBytes[12..], leaderEpoch);
                    if (stampLogAppendTime)
                    {
                        RecordBatch.SetMaxTimestamp(headerBytes, rest, TimestampType.LogAppendTime, now);
                    }
                }

                var header = RecordBatchHeader.Read(headerBytes);
                if (origin == AppendOrigin.Replication && header.BaseOffset < next)
                {
                    throw new LogAppendException(ErrorCode.UnknownServerError, $"replicated batch at offset {header.BaseOffset} is below the log end offset {next} of {TopicPartition}");
                }

                var active = MaybeRoll(header, now);
                active.Append(header, _headerScratch, rest, _gather);
                if (header.PartitionLeaderEpoch > _leaderEpochs.LatestEpoch)
                {
                    // A new leader's first batch (Kafka's UnifiedLog.append assigns it the same way).
                    epochChanged |= _leaderEpochs.Assign(header.PartitionLeaderEpoch, header.BaseOffset);
                }

                first = first < 0 ? header.BaseOffset : first;
                if (header.MaxTimestamp > maxTimestamp)
                {
                    (maxTimestamp, offsetOfMaxTimestamp) = (header.MaxTimestamp, header.LastOffset);
                }

                next = header.NextOffset;
                bytes += header.TotalSize;
            }

            CommitProducerStateLocked(next);

            // Kafka's "unflushed messages >= flush.messages": counted from the last flush asked for, not the last one
            // done, since with group commit the flush runs later (see GroupFlusher).
            var flushRequired = next - Math.Max(FlushedOffset, _flushRequestedUpTo) >= config.FlushMessages;
            if (flushRequired)
            {
                _flushRequestedUpTo = next;
            }

            return new LogAppendResult(first, next - 1, maxTimestamp, offsetOfMaxTimestamp, stampLogAppendTime ? now : -1, LogStartOffset, batchCount, recordCount, bytes, FlushRequired: flushRequired);
        }
    }

    /// <summary>
    /// Checks every producer batch of the record set against the producer state (epochs, sequences,
    /// transactions; Kafka's analyzeAndValidateProducerState) and stages the changes, before anything is
    /// written. Returns the original batch when a client's batch is a duplicate (a retry).
    /// </summary>
    private ProducerBatchMetadata? AnalyzeProducerState(in ReadOnlySequence<byte> records, AppendOrigin origin)
    {
        _producerState.BeginAppend();
        var next = LogEndOffset;
        var enumerator = RecordBatches.Enumerate(records);
        while (enumerator.MoveNext())
        {
            var slice = enumerator.Current;
            var header = slice.Header;
            var baseOffset = origin == AppendOrigin.Replication ? header.BaseOffset : next;
            next = baseOffset + header.LastOffsetDelta + 1;
            if (header.ProducerId < 0)
            {
                continue;
            }

            if (origin == AppendOrigin.Client && _producerState.FindDuplicate(header) is { } duplicate)
            {
                return duplicate;
            }

            EndTransactionMarker? marker = null;
            if (header.IsControl && header.RecordsCount > 0)
            {
                marker = ReadMarker(slice.Bytes, origin);
            }

            _producerState.Apply(header, baseOffset, origin, marker);
        }

        return null;
    }

    /// <summary>The end-transaction marker of a control batch (null for other control records).</summary>
    private EndTransactionMarker? ReadMarker(in ReadOnlySequence<byte> batch, AppendOrigin origin)
    {
        var bytes = ArrayPool<byte>.Shared.Rent((int)batch.Length);
        try
        {
            batch.CopyTo(bytes);
            _markerScratch.Clear();
            foreach (var record in RecordBatch.ReadRecords(bytes.AsSpan(0, (int)batch.Length), _markerScratch, Config.MaxMessageBytes))
            {
                var type = ControlRecords.ReadType(record.Key);
                return type is ControlRecordType.Commit or ControlRecordType.Abort ? ControlRecords.ReadEndTransactionMarker(record) : null;
            }

            return null;
        }
        catch (RecordsException e) when (origin != AppendOrigin.Replication)
        {
            throw new LogAppendException(ErrorCode.InvalidRecord, $"invalid control batch: {e.Message}");
        }
        catch (RecordsException)
        {
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>
    /// Makes the staged producer state real once the batches are written up to <paramref name="next"/>: an
    /// aborted transaction goes to the transaction index of the segment its marker is in, with the LSO of that moment.
    /// </summary>
    private void CommitProducerStateLocked(long next)
    {
        var completed = _producerState.CommitAppend(next);
        foreach (var txn in completed)
        {
            var lastStable = _producerState.LastStableOffsetAfter(txn);
            if (txn.IsAborted)
            {
                var segment = _segments[FloorSegment(_segments, txn.LastOffset)];
                if (!segment.TxnIndex.Contains(txn.ProducerId, txn.FirstOffset, txn.LastOffset))
                {
                    segment.TxnIndex.Append(new AbortedTxn(txn.ProducerId, txn.FirstOffset, txn.LastOffset, lastStable));
                }
            }

            _producerState.CompleteTxn(txn);
        }

        completed.Clear();
        _producerState.OnHighWatermarkUpdated(HighWatermark);
        RefreshLastStableOffsetLocked();
    }

    /// <summary>LSO = the first unstable offset (at least the log start) capped by the high watermark.</summary>
    private void RefreshLastStableOffsetLocked()
    {
        var highWatermark = HighWatermark;
        var firstUnstable = _producerState.FirstUnstableOffset;
        Volatile.Write(ref _lastStableOffset, firstUnstable < 0 ? highWatermark : Math.Min(Math.Max(firstUnstable, LogStartOffset), highWatermark));
    }

    /// <summary>
    /// Rebuilds the producer state: the newest snapshot at or below <paramref name="snapshotLimit"/>, then
    /// the batches after it (headers, plus the marker of control batches), as Kafka's log loading does.
    /// Transaction index entries missing for the replayed markers (a re-validated segment) are re-added.
    /// </summary>
    private void LoadProducerStateLocked(long snapshotLimit)
    {
        var start = LogStartOffset;
        var from = start;
        var snapshot = ProducerSnapshots.Latest(snapshotLimit);
        if (snapshot is { } s && _producerState.LoadSnapshot(s.Content))
        {
            from = Math.Max(s.Offset, start);
        }
        else
        {
            if (snapshot is { } bad)
            {
                _logger.LogWarning("Producer state snapshot {Offset} of {Partition} is unreadable: replaying the log from {Start}", bad.Offset, TopicPartition, start);
            }

            _producerState.Clear(start);
        }

        StoredBatchVisitor replay = (ReadOnlySpan<byte> batch, in RecordBatchHeader header) =>
        {
            if (header.ProducerId >= 0)
            {
                _producerState.BeginAppend();
                EndTransactionMarker? marker = header.IsControl && header.RecordsCount > 0
                    ? ReadMarker(new ReadOnlySequence<byte>(batch.ToArray()), AppendOrigin.Replication)
                    : null;
                _producerState.Apply(header, header.BaseOffset, AppendOrigin.Replication, marker);
            }

            CommitProducerStateLocked(header.NextOffset);
        };
        foreach (var segment in _segments)
        {
            if (segment.NextOffset <= from)
            {
                continue;
            }

            // A range that recovery has just read and found without producer batches changes no producer
            // state: moving past it is what replaying its batches one by one would do (Kafka replays the
            // batches while it recovers a segment, for the same reason: to read the data once).
            if (from < segment.ProducerFreeUntil)
            {
                from = Math.Min(segment.ProducerFreeUntil, segment.NextOffset);
                CommitProducerStateLocked(from);
            }

            if (from < segment.NextOffset)
            {
                ForEachBatch(from, segment.NextOffset, replay);
                from = segment.NextOffset;
            }
        }

        _producerState.MapEndOffset = LogEndOffset;
        _producerState.OnHighWatermarkUpdated(HighWatermark);
        RefreshLastStableOffsetLocked();
    }

    /// <summary>
    /// Brings the leader-epoch cache in line with the log once it is open (as Kafka's log loading does): the entries
    /// from <paramref name="scanFrom"/> on (the data recovery re-validated, or the whole log when the checkpoint was
    /// missing or corrupt, <paramref name="problem"/>) are derived again from the batches' partition leader epochs, and
    /// entries past the log end or before the log start go.
    /// </summary>
    private void LoadLeaderEpochsLocked(long scanFrom, string? problem)
    {
        _leaderEpochs.TruncateFromEnd(scanFrom);
        if (scanFrom < LogEndOffset)
        {
            AssignEpochsFromBatches(scanFrom);
        }

        _leaderEpochs.TruncateFromEnd(LogEndOffset);
        _leaderEpochs.TruncateFromStart(LogStartOffset);
        if (problem is not null && LogEndOffset > LogStartOffset)
        {
            _leaderEpochs.MarkDirty();
            _logger.LogInformation(
                "Rebuilt the leader epochs of {Partition} from its batches because {Problem}: {Count} epoch(s)",
                TopicPartition, problem, _leaderEpochs.Entries.Count);
        }
    }

    /// <summary>Assigns the partition leader epoch of each batch from the one holding <paramref name="from"/> on, reading only batch headers.</summary>
    private void AssignEpochsFromBatches(long from)
    {
        var segments = _segments;
        for (var i = FloorSegment(segments, from); i < segments.Length; i++)
        {
            var segment = segments[i];
            long position = 0;
            if (segment.BaseOffset < from)
            {
                if (segment.FindBatch(from) is not var (found, _))
                {
                    continue;
                }

                position = found;
            }

            while (segment.TryReadHeader(position, out var header))
            {
                if (header.PartitionLeaderEpoch > _leaderEpochs.LatestEpoch)
                {
                    _leaderEpochs.Assign(header.PartitionLeaderEpoch, header.BaseOffset);
                }

                position += header.TotalSize;
            }
        }
    }

    /// <summary>
    /// Writes the leader-epoch-checkpoint when the cache changed; called once the operation that changed it has left
    /// the lock (epochs change rarely: a new leader, a truncation). A failure is logged and retried at the next flush.
    /// </summary>
    private void WriteLeaderEpochCheckpoint()
    {
        if (!_leaderEpochs.IsDirty)
        {
            return;
        }

        try
        {
            _leaderEpochs.WriteIfDirty();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogError(e, "Writing the leader-epoch-checkpoint of {Partition} failed; the next flush retries it", TopicPartition);
        }
    }

    /// <summary>Writes a producer-state snapshot at the log end when the state is exactly there (a roll, a clean close).</summary>
    private void TakeProducerSnapshotLocked()
    {
        if (_producerState.MapEndOffset == LogEndOffset)
        {
            ProducerSnapshots.Write(LogEndOffset, _producerState.SerializeSnapshot());
        }
    }

    private static (int Batches, long Records) ValidateForAppend(in ReadOnlySequence<byte> records, AppendOrigin origin, LogConfig config)
    {
        var mode = origin == AppendOrigin.Client ? RecordBatchValidation.Produce : RecordBatchValidation.Stored;
        var enumerator = RecordBatches.Enumerate(records);
        var batches = 0;
        var count = 0L;
        while (enumerator.MoveNext())
        {
            var slice = enumerator.Current;
            if (origin == AppendOrigin.Client && slice.Header.TotalSize > config.MaxMessageBytes)
            {
                throw new LogAppendException(ErrorCode.MessageTooLarge, $"record batch of {slice.Header.TotalSize} bytes exceeds max.message.bytes ({config.MaxMessageBytes})");
            }

            var error = slice.TryValidate(out var message, mode);
            if (error != RecordBatchError.None)
            {
                throw new LogAppendException((ErrorCode)error.ToKafkaErrorCode(), message ?? error.ToString());
            }

            batches++;
            count += slice.Header.LastOffsetDelta + 1L;
        }

        if (enumerator.Status != RecordBatchSequenceStatus.Complete)
        {
            throw new LogAppendException(ErrorCode.CorruptMessage, $"the record set ends in {(enumerator.Status == RecordBatchSequenceStatus.PartialBatch ? "a partial batch" : "an invalid batch length")}");
        }

        if (batches == 0)
        {
            throw new LogAppendException(ErrorCode.InvalidRecord, "the record set holds no batches");
        }

        return (batches, count);
    }

    /// <summary>
    /// Reads every record of a client's batches, decompressing them, as Kafka's LogValidator does: a batch whose
    /// CRC holds but whose compressed data or records are corrupt is refused, not stored for readers (ListOffsets
    /// by timestamp, the cleaner, consumers) to fail on. Uncompressed batches are read in place without allocating.
    /// </summary>
    private static void ValidateRecords(in ReadOnlySequence<byte> records)
    {
        PooledBufferWriter? scratch = null;
        try
        {
            foreach (var slice in RecordBatches.Enumerate(records))
            {
                var size = slice.Header.TotalSize;
                if (slice.Header.CompressionType == CompressionType.None && !slice.Bytes.IsSingleSegment)
                {
                    ValidateRecordsAcrossBuffers(slice.Header, slice.Bytes.Slice(RecordBatchHeader.Size, size - RecordBatchHeader.Size));
                    continue;
                }

                var copy = slice.Bytes.IsSingleSegment ? null : ArrayPool<byte>.Shared.Rent(size);
                try
                {
                    ReadOnlySpan<byte> batch;
                    if (copy is null)
                    {
                        batch = slice.Bytes.FirstSpan[..size];
                    }
                    else
                    {
                        slice.Bytes.Slice(0, size).CopyTo(copy);
                        batch = copy.AsSpan(0, size);
                    }

                    var reader = slice.Header.CompressionType == CompressionType.None
                        ? new RecordReader(slice.Header, batch[RecordBatchHeader.Size..])
                        : RecordBatch.ReadRecords(batch, scratch ??= new PooledBufferWriter(), MaxDecompressedBatchBytes);
                    while (reader.MoveNext())
                    {
                    }
                }
                finally
                {
                    if (copy is not null)
                    {
                        ArrayPool<byte>.Shared.Return(copy);
                    }
                }
            }
        }
        catch (RecordsException e)
        {
            throw new LogAppendException((ErrorCode)e.ErrorCode, $"invalid records in the batch: {e.Message}");
        }
        finally
        {
            scratch?.Dispose();
        }
    }

    /// <summary>
    /// The records of an uncompressed batch that spans receive buffers, checked one by one by <see cref="RecordReader"/>
    /// where they lie: a record that straddles two buffers is copied, the batch is not (a 1 MB batch spans sixteen).
    /// </summary>
    private static void ValidateRecordsAcrossBuffers(in RecordBatchHeader header, ReadOnlySequence<byte> records)
    {
        if (header.RecordsCount < 0)
        {
            throw new RecordsException(RecordBatchError.InvalidRecordCount, $"invalid recordsCount {header.RecordsCount}");
        }

        var reader = new SequenceReader<byte>(records);
        Span<byte> prefix = stackalloc byte[VarInt.MaxVarIntBytes];
        byte[]? straddling = null;
        try
        {
            for (var i = 0; i < header.RecordsCount; i++)
            {
                var peek = prefix[..(int)Math.Min(prefix.Length, reader.Remaining)];
                if (peek.IsEmpty)
                {
                    throw new RecordsException(RecordBatchError.InvalidRecord, $"the batch ends after {i} of its {header.RecordsCount} records");
                }

                reader.TryCopyTo(peek);
                var prefixLength = 0;
                var length = VarInt.ReadVarInt(peek, ref prefixLength);
                if (length < 0 || length > reader.Remaining - prefixLength)
                {
                    throw new RecordsException(RecordBatchError.InvalidRecord, $"record length {length} does not fit the {reader.Remaining - prefixLength} remaining bytes");
                }

                var size = prefixLength + length;
                ReadOnlySpan<byte> record;
                if (reader.UnreadSpan.Length >= size)
                {
                    record = reader.UnreadSpan[..size];
                }
                else
                {
                    if (straddling is null || straddling.Length < size)
                    {
                        if (straddling is not null)
                        {
                            ArrayPool<byte>.Shared.Return(straddling);
                        }

                        straddling = ArrayPool<byte>.Shared.Rent(size);
                    }

                    reader.Sequence.Slice(reader.Position, size).CopyTo(straddling);
                    record = straddling.AsSpan(0, size);
                }

                var one = new RecordReader(record, 1, header.BaseOffset, header.BaseTimestamp);
                while (one.MoveNext())
                {
                }

                reader.Advance(size);
            }

            if (reader.Remaining != 0)
            {
                throw new RecordsException(RecordBatchError.InvalidRecord, $"{reader.Remaining} bytes remain after the declared records");
            }
        }
        finally
        {
            if (straddling is not null)
            {
                ArrayPool<byte>.Shared.Return(straddling);
            }
        }
    }

    /// <summary>The segment the batch goes to, rolling a new one when the active segment is full or old.</summary>
    private LogSegment MaybeRoll(in RecordBatchHeader header, long now)
    {
        var active = _segments[^1];
        var timeInSegment = active.FirstBatchTimestamp >= 0 ? header.MaxTimestamp - active.FirstBatchTimestamp : now - active.CreatedMs;
        if (!active.CanHold(header.TotalSize, header.LastOffset, Config) || (!active.IsEmpty && timeInSegment > Config.SegmentMs))
        {
            return RollLocked(header.BaseOffset);
        }

        return active;
    }

    /// <summary>Starts a new active segment at the log end offset (e.g. before deleting everything older).</summary>
    public void Roll()
    {
        lock (_lock)
        {
            ThrowIfClosed();
            if (!_segments[^1].IsEmpty)
            {
                RollLocked(LogEndOffset);
            }
        }
    }

    private LogSegment RollLocked(long baseOffset)
    {
        var old = _segments[^1];
        old.OnRolled();
        TakeProducerSnapshotLocked();
        var segment = LogSegment.Create(Directory, baseOffset, Config, NowMs);
        _directoryDirty = true;
        Volatile.Write(ref _segments, [.. _segments, segment]);
        // The rolled segment is complete: make it durable without holding up appends.
        _backgroundFlush = _backgroundFlush.ContinueWith(_ => FlushInBackground(baseOffset), TaskScheduler.Default);
        return segment;
    }

    // ------------------------------------------------------------------ reads and lookups

    /// <summary>
    /// Batches from <paramref name="startOffset"/> (the whole batch holding it), below
    /// <paramref name="maxOffset"/> (exclusive, e.g. the high watermark), within <paramref name="maxBytes"/>;
    /// with <paramref name="minOneBatch"/> the first batch is returned whole even if larger.
    /// </summary>
    public LogReadResult Read(long startOffset, int maxBytes, long maxOffset, bool minOneBatch)
    {
        var segments = Volatile.Read(ref _segments);
        var logStart = LogStartOffset;
        var logEnd = segments[^1].NextOffset;
        var highWatermark = HighWatermark;
        if (startOffset < logStart || startOffset > logEnd)
        {
            throw new OffsetOutOfRangeException($"offset {startOffset} is outside the range [{logStart}, {logEnd}] of {TopicPartition}");
        }

        if (startOffset < Math.Min(maxOffset, logEnd))
        {
            for (var i = FloorSegment(segments, startOffset); i < segments.Length; i++)
            {
                if (segments[i].Read(startOffset, maxBytes, maxOffset, minOneBatch, out var first) is { } region)
                {
                    // The returned batches end before the next segment (or the log end): the bound for aborted transactions.
                    var upperBound = Math.Min(i + 1 < segments.Length ? segments[i + 1].BaseOffset : logEnd, maxOffset);
                    return new LogReadResult(region, first.BaseOffset, highWatermark, logStart, logEnd, upperBound);
                }
            }
        }

        return new LogReadResult(null, -1, highWatermark, logStart, logEnd);
    }

    /// <summary>
    /// Visits every stored batch (whole, with its header) from the one holding <paramref name="from"/> to
    /// the log end, in offset order: how the internal topics (cluster metadata, <c>__consumer_offsets</c>)
    /// are replayed at start-up. Not for the fetch path: it copies each region into a buffer (the span a
    /// visitor gets is only valid during the call).
    /// </summary>
    public void ForEachBatch(long from, StoredBatchVisitor visit) => ForEachBatch(from, LogEndOffset, visit);

    /// <summary>As <see cref="ForEachBatch(long, StoredBatchVisitor)"/>, up to the batch holding <paramref name="end"/> (exclusive).</summary>
    private void ForEachBatch(long from, long end, StoredBatchVisitor visit)
    {
        var next = from;
        var bytes = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            while (next < end)
            {
                var read = Read(next, 1 << 20, end, minOneBatch: true);
                if (read.Region is not { } region)
                {
                    break;
                }

                if (bytes.Length < region.Length)
                {
                    ArrayPool<byte>.Shared.Return(bytes);
                    bytes = ArrayPool<byte>.Shared.Rent(region.Length);
                }

                region.CopyTo(bytes.AsSpan(0, region.Length));
                var batches = RecordBatches.Enumerate(new ReadOnlySequence<byte>(bytes, 0, region.Length));
                var progressed = false;
                while (batches.MoveNext())
                {
                    var header = batches.Current.Header;
                    visit(bytes.AsSpan((int)batches.Current.Position, header.TotalSize), header);
                    next = Math.Max(next, header.NextOffset);
                    progressed = true;
                }

                if (!progressed)
                {
                    break;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>
    /// The aborted transactions overlapping [<paramref name="startOffset"/>, <paramref name="upperBoundOffset"/>)
    /// from the .txnindex of the segment holding the start offset and, while needed, the following ones
    /// (Kafka's collectAbortedTransactions): what a read_committed fetch returns with its data. They are
    /// added to <paramref name="into"/> when given (a caller's reused list), else to a new list.
    /// </summary>
    public List<AbortedTxn> CollectAbortedTransactions(long startOffset, long upperBoundOffset, List<AbortedTxn>? into = null)
    {
        var segments = Volatile.Read(ref _segments);
        var result = into ?? new List<AbortedTxn>();
        for (var i = FloorSegment(segments, startOffset); i < segments.Length; i++)
        {
            if (segments[i].TxnIndex.Collect(startOffset, upperBoundOffset, result))
            {
                break;
            }
        }

        return result;
    }

    /// <summary>The producers this partition knows (copies of their state), for DescribeProducers.</summary>
    public List<ProducerStateEntry> ActiveProducers()
    {
        lock (_lock)
        {
            return _producerState.ActiveProducers();
        }
    }

    /// <summary>Forgets producers idle for producer.id.expiration.ms that have no open transaction; returns how many.</summary>
    public int RemoveExpiredProducers(long expirationMs)
    {
        lock (_lock)
        {
            return _closed ? 0 : _producerState.RemoveExpired(NowMs, expirationMs);
        }
    }

    /// <summary>The first record with timestamp ≥ <paramref name="timestamp"/> at or after the log start offset, or null.</summary>
    public TimestampAndOffset? FindOffsetByTimestamp(long timestamp)
    {
        var segments = Volatile.Read(ref _segments);
        using var scratch = new PooledBufferWriter();
        foreach (var segment in segments)
        {
            if (segment.LargestTimestamp >= timestamp && segment.FindOffsetByTimestamp(timestamp, scratch, int.MaxValue) is var (offset, ts))
            {
                return new TimestampAndOffset(ts, Math.Max(offset, LogStartOffset));
            }
        }

        return null;
    }

    /// <summary>The record with the largest timestamp (the first one, if several share it); null for an empty log.</summary>
    public TimestampAndOffset? MaxTimestampAndOffset()
    {
        var max = -1L;
        foreach (var segment in Volatile.Read(ref _segments))
        {
            max = Math.Max(max, segment.LargestTimestamp);
        }

        return max < 0 ? null : FindOffsetByTimestamp(max);
    }

    /// <summary>The index of the last segment whose base offset is at most <paramref name="offset"/> (0 when none is).</summary>
    internal static int FloorSegment(IReadOnlyList<LogSegment> segments, long offset)
    {
        int lo = 0, hi = segments.Count - 1, found = 0;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (segments[mid].BaseOffset <= offset)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }

    // ------------------------------------------------------------------ offsets the broker moves

    /// <summary>
    /// Moves the high watermark up to <paramref name="offset"/> (clamped to [log start, log end]); never down, since
    /// appends publish their ends concurrently and in any order (truncation lowers it itself).
    /// </summary>
    public void UpdateHighWatermark(long offset)
    {
        lock (_lock)
        {
            Volatile.Write(ref _highWatermark, Math.Clamp(Math.Max(offset, HighWatermark), LogStartOffset, LogEndOffset));
            _producerState.OnHighWatermarkUpdated(HighWatermark);
            RefreshLastStableOffsetLocked();
        }
    }

    /// <summary>
    /// DeleteRecords: moves the log start offset up to <paramref name="offset"/> (at most the high
    /// watermark) and deletes the segments that lie wholly below it. Returns the new log start offset.
    /// </summary>
    public long DeleteRecordsBefore(long offset)
    {
        lock (_lock)
        {
            ThrowIfClosed();
            if (offset > HighWatermark || offset < 0)
            {
                throw new OffsetOutOfRangeException($"cannot delete records before {offset}: it is outside [0, high watermark {HighWatermark}] of {TopicPartition}");
            }

            if (offset > LogStartOffset)
            {
                Volatile.Write(ref _logStartOffset, offset);
                _leaderEpochs.TruncateFromStart(offset);
                DeleteSegmentsLocked(static (log, segment, next) => next is not null && next.BaseOffset <= log.LogStartOffset, "below the log start offset", rollIfAllQualify: false);
                RefreshLastStableOffsetLocked();
            }
        }

        WriteLeaderEpochCheckpoint();
        return LogStartOffset;
    }

    /// <summary>
    /// Removes every batch from the one holding <paramref name="offset"/> onwards (a follower that
    /// diverged from its leader). Returns the new log end offset.
    /// </summary>
    public long TruncateTo(long offset)
    {
        lock (_lock)
        {
            ThrowIfClosed();
            if (offset >= LogEndOffset)
            {
                return LogEndOffset;
            }

            TruncateLocked(offset);
        }

        WriteLeaderEpochCheckpoint();
        return LogEndOffset;
    }

    private void TruncateLocked(long offset)
    {
        if (offset <= _segments[0].BaseOffset)
        {
            TruncateFullyAndStartAtLocked(offset);
        }
        else
        {
            var keep = _segments.Where(s => s.BaseOffset < offset).ToArray();
            var drop = _segments.Where(s => s.BaseOffset >= offset).ToArray();
            Volatile.Write(ref _segments, keep);
            ScheduleDeletion(drop);
            keep[^1].TruncateTo(offset);
        }

        var end = LogEndOffset;
        Volatile.Write(ref _highWatermark, Math.Min(HighWatermark, end));
        Volatile.Write(ref _recoveryPoint, Math.Min(RecoveryPoint, end));
        Volatile.Write(ref _flushedOffset, Math.Min(Volatile.Read(ref _flushedOffset), end));
        _flushRequestedUpTo = Math.Min(_flushRequestedUpTo, end);
        ProducerSnapshots.DeleteAfter(end);
        LoadProducerStateLocked(end);
        _leaderEpochs.TruncateFromEnd(end);
        _logger.LogInformation("Truncated {Partition} to offset {Offset}: log end offset is now {End}", TopicPartition, offset, end);
    }

    /// <summary>Deletes all data and starts an empty log at <paramref name="offset"/>.</summary>
    public void TruncateFullyAndStartAt(long offset)
    {
        TruncateFullyAndStartAtLocked(offset);
        WriteLeaderEpochCheckpoint();
    }

    private void TruncateFullyAndStartAtLocked(long offset)
    {
        lock (_lock)
        {
            // Old files are renamed away first: the new segment may reuse a base offset.
            ScheduleDeletion(_segments);
            Volatile.Write(ref _segments, [LogSegment.Create(Directory, offset, Config, NowMs)]);
            _directoryDirty = true;
            Volatile.Write(ref _logStartOffset, offset);
            Volatile.Write(ref _highWatermark, offset);
            Volatile.Write(ref _recoveryPoint, offset);
            Volatile.Write(ref _flushedOffset, offset);
            _flushRequestedUpTo = offset;
            // Nothing of the old log's producer state applies to the new, empty one.
            ProducerSnapshots.DeleteAfter(offset - 1);
            ProducerSnapshots.DeleteBefore(offset);
            _producerState.Clear(offset);
            _leaderEpochs.Clear();
            RefreshLastStableOffsetLocked();
        }
    }

    // ------------------------------------------------------------------ retention

    /// <summary>
    /// Deletes segments by retention.ms (newest record older than the limit), retention.bytes (oldest
    /// first while the log is over the limit) and the log start offset. Only under cleanup.policy
    /// delete for the first two. Returns the number of segments deleted.
    /// </summary>
    public int ApplyRetention()
    {
        try
        {
            return ApplyRetentionLocked();
        }
        finally
        {
            WriteLeaderEpochCheckpoint();
        }
    }

    private int ApplyRetentionLocked()
    {
        lock (_lock)
        {
            if (_closed)
            {
                return 0;
            }

            var deleted = DeleteSegmentsLocked(static (log, segment, _) => segment.BaseOffset < log.LogStartOffset && segment.NextOffset <= log.LogStartOffset, "below the log start offset", rollIfAllQualify: false);
            if (!Config.CleanupPolicy.HasFlag(CleanupPolicy.Delete))
            {
                return deleted;
            }

            if (Config.RetentionMs >= 0)
            {
                var cutoff = NowMs - Config.RetentionMs;
                deleted += DeleteSegmentsLocked(
                    (log, segment, _) => !segment.IsEmpty && segment.NextOffset <= log.HighWatermark && segment.LargestTimestampOrModified < cutoff,
                    $"past retention.ms ({Config.RetentionMs})",
                    rollIfAllQualify: true);
            }

            if (Config.RetentionBytes >= 0)
            {
                var excess = Size - Config.RetentionBytes;
                deleted += DeleteSegmentsLocked(
                    (log, segment, next) =>
                    {
                        if (next is null || segment.NextOffset > log.HighWatermark || excess - segment.Size < 0)
                        {
                            return false;
                        }

                        excess -= segment.Size;
                        return true;
                    },
                    $"past retention.bytes ({Config.RetentionBytes})",
                    rollIfAllQualify: false);
            }

            return deleted;
        }
    }

    /// <summary>
    /// Deletes the oldest segments while <paramref name="shouldDelete"/> holds (segment, next segment or
    /// null for the active one). The active segment goes only with <paramref name="rollIfAllQualify"/>:
    /// a new empty active segment replaces it. The log start offset moves to the first kept segment.
    /// </summary>
    private int DeleteSegmentsLocked(Func<PartitionLog, LogSegment, LogSegment?, bool> shouldDelete, string reason, bool rollIfAllQualify)
    {
        var segments = _segments;
        var count = 0;
        while (count < segments.Length && shouldDelete(this, segments[count], count + 1 < segments.Length ? segments[count + 1] : null))
        {
            count++;
        }

        if (count == segments.Length)
        {
            if (!rollIfAllQualify || segments[^1].IsEmpty)
            {
                count--;
            }
            else
            {
                RollLocked(LogEndOffset);
                segments = _segments;
            }
        }

        if (count <= 0)
        {
            return 0;
        }

        var doomed = segments[..count];
        Volatile.Write(ref _segments, segments[count..]);
        var newStart = Math.Max(LogStartOffset, _segments[0].BaseOffset);
        Volatile.Write(ref _logStartOffset, newStart);
        Volatile.Write(ref _highWatermark, Math.Max(HighWatermark, newStart));
        _leaderEpochs.TruncateFromStart(newStart);
        ProducerSnapshots.DeleteBefore(_segments[0].BaseOffset);
        RefreshLastStableOffsetLocked();
        _logger.LogInformation(
            "Deleting {Count} segment(s) of {Partition} {Reason}: offsets {First} to {Last}; log start offset is now {Start}",
            count, TopicPartition, reason, doomed[0].BaseOffset, doomed[^1].NextOffset - 1, newStart);
        ScheduleDeletion(doomed);
        return count;
    }

    /// <summary>Renames segments to ".deleted" now and removes them after file.delete.delay.ms, so in-flight reads finish.</summary>
    private void ScheduleDeletion(IEnumerable<LogSegment> segments)
    {
        var doomed = segments.ToList();
        foreach (var segment in doomed)
        {
            segment.ChangeSuffix(DeletedSuffix);
        }

        _directoryDirty = true;

        var delay = Config.FileDeleteDelayMs;
        if (delay <= 0)
        {
            doomed.ForEach(s => s.DeleteFiles());
            return;
        }

        _ = Task.Delay(TimeSpan.FromMilliseconds(delay), _time).ContinueWith(_ => doomed.ForEach(s => s.DeleteFiles()), TaskScheduler.Default);
    }

    // ------------------------------------------------------------------ compaction support

    /// <summary>
    /// Replaces <paramref name="oldSegments"/> (consecutive, not the active one) with
    /// <paramref name="cleaned"/>, a finished and synced segment written with the ".cleaned" suffix and
    /// the base offset of the first old segment. The swap is crash-safe: ".cleaned" becomes ".swap"
    /// (which recovery completes), the old segments are deleted, then ".swap" becomes the segment.
    /// Returns false (and deletes <paramref name="cleaned"/>) when the log changed underneath.
    /// </summary>
    internal bool ReplaceSegments(IReadOnlyList<LogSegment> oldSegments, LogSegment cleaned)
    {
        lock (_lock)
        {
            var segments = _segments;
            var start = Array.IndexOf(segments, oldSegments[0]);
            if (_closed || start < 0 || start + oldSegments.Count >= segments.Length
                || !oldSegments.Select((s, i) => segments[start + i] == s).All(same => same))
            {
                cleaned.DeleteFiles();
                return false;
            }

            // The cleaned segment keeps the aborted transactions of its range (fetches still need them).
            foreach (var old in oldSegments)
            {
                foreach (var txn in old.TxnIndex.Entries)
                {
                    cleaned.TxnIndex.Append(txn);
                }
            }

            cleaned.Flush();
            cleaned.ChangeSuffix(SwapSuffix);
            FileSync.FsyncDirectory(Directory);
            var remaining = segments[..start].Concat(segments[(start + oldSegments.Count)..]).ToList();
            // The old first segment shares the cleaned one's base offset: move it out of the way first.
            ScheduleDeletion(oldSegments);
            cleaned.ChangeSuffix("");
            FileSync.FsyncDirectory(Directory);
            remaining.Insert(start, cleaned);
            Volatile.Write(ref _segments, [.. remaining]);
            return true;
        }
    }

    internal static string CleanedSuffixValue => CleanedSuffix;

    // ------------------------------------------------------------------ durability

    /// <summary>fsyncs every segment that holds data not yet known to be on disk, and moves the recovery point to the log end.</summary>
    public void Flush() => FlushUpTo(LogEndOffset);

    /// <summary>Flushes when flush.ms has passed since the last flush and there is unflushed data.</summary>
    public void FlushIfDue()
    {
        if (!IsOffline && FlushedOffset < LogEndOffset && NowMs - Volatile.Read(ref _lastFlushMs) >= Config.FlushMs)
        {
            Flush();
        }
    }

    /// <summary>
    /// Completes once a flush that started after this call covers everything appended so far, in particular
    /// the records below <paramref name="offset"/> (group commit: concurrent callers share one fsync; see
    /// <see cref="GroupFlusher"/>). Fails with <see cref="KafkaStorageException"/> when that flush fails.
    /// </summary>
    public ValueTask WaitForFlushAsync(long offset) => _groupFlusher.WaitForAsync(offset);

    /// <summary>
    /// fsyncs the segments holding data at or above the recovery point and below <paramref name="offset"/>, then
    /// moves the recovery point there. <paramref name="dataOnly"/> (the flushes flush.messages asks for) leaves out
    /// the active segment's offset and time indexes, a third of the fsyncs: recovery rebuilds the indexes of the
    /// segment holding the recovery point, so the recovery point then stays inside that segment (below its end,
    /// which a roll would make the next segment's start) until a full flush (roll, flush.ms, close) syncs them.
    /// </summary>
    internal void FlushUpTo(long offset, bool dataOnly = false)
    {
        if (_storageFailure is { } failure)
        {
            throw failure;
        }

        var recoveryPoint = RecoveryPoint;
        if (offset <= (dataOnly ? FlushedOffset : recoveryPoint))
        {
            return;
        }

        var newRecoveryPoint = offset;
        try
        {
            BeforeFsync?.Invoke();
            var segments = Volatile.Read(ref _segments);
            for (var i = 0; i < segments.Length; i++)
            {
                var segment = segments[i];
                if (segment.BaseOffset < offset && segment.NextOffset > recoveryPoint)
                {
                    try
                    {
                        if (dataOnly && i == segments.Length - 1)
                        {
                            segment.FlushData();
                            newRecoveryPoint = Math.Min(offset, Math.Max(segment.BaseOffset, segment.NextOffset - 1));
                        }
                        else
                        {
                            segment.Flush();
                        }
                    }
                    catch (ObjectDisposedException)
                    {
                        return; // deleted or closed meanwhile: nothing left to make durable
                    }
                }
            }

            if (_directoryDirty)
            {
                _directoryDirty = false;
                FileSync.FsyncDirectory(Directory);
            }
        }
        catch (Exception e) when (e is IOException or KafkaStorageException)
        {
            var failed = new KafkaStorageException($"fsync of the log of {TopicPartition} failed: {e.Message}", e);
            if (Interlocked.CompareExchange(ref _storageFailure, failed, null) is null)
            {
                _logger.LogError(e, "fsync of {Partition} failed: the log takes no more appends until the broker restarts", TopicPartition);
            }

            throw _storageFailure!;
        }

        lock (_lock)
        {
            if (newRecoveryPoint > RecoveryPoint)
            {
                Volatile.Write(ref _recoveryPoint, newRecoveryPoint);
            }

            if (offset > Volatile.Read(ref _flushedOffset))
            {
                Volatile.Write(ref _flushedOffset, offset);
            }

            Volatile.Write(ref _lastFlushMs, NowMs);
        }

        WriteLeaderEpochCheckpoint();
    }

    /// <summary>Applies new topic configs (e.g. from AlterConfigs) to future appends, rolls and retention.</summary>
    public void UpdateConfig(LogConfig config)
    {
        lock (_lock)
        {
            Config = config;
        }
    }

    private void FlushInBackground(long offset)
    {
        try
        {
            FlushUpTo(offset);
        }
        catch (Exception e)
        {
            _logger.LogError(e, "Background flush of {Partition} up to offset {Offset} failed", TopicPartition, offset);
        }
    }

    /// <summary>Waits (outside the lock, which the flush takes at its end) for background flushes in flight.</summary>
    private void WaitForBackgroundFlush()
    {
        Task pending;
        lock (_lock)
        {
            pending = _backgroundFlush;
        }

        pending.Wait();
    }

    /// <summary>
    /// Flushes everything and closes the files (a clean shutdown of this log). A log whose fsync failed is closed
    /// without flushing and throws that failure, so that its log dir gets no clean-shutdown marker.
    /// </summary>
    public void Close()
    {
        WaitForBackgroundFlush();
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            try
            {
                if (_storageFailure is null)
                {
                    _segments[^1].OnRolled();
                    Flush();
                    TakeProducerSnapshotLocked();
                    WriteLeaderEpochCheckpoint();
                }
            }
            finally
            {
                _closed = true;
                foreach (var segment in _segments)
                {
                    segment.Dispose();
                }
            }

            if (_storageFailure is { } failure)
            {
                throw failure;
            }
        }
    }

    /// <summary>Closes the files without flushing them: the log is about to be deleted (its directory renamed and removed).</summary>
    internal void CloseWithoutFlush()
    {
        WaitForBackgroundFlush();
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            foreach (var segment in _segments)
            {
                segment.Dispose();
            }
        }
    }

    /// <summary>Closes the log and removes its directory (the topic was deleted).</summary>
    public void DeleteFromDisk()
    {
        WaitForBackgroundFlush();
        lock (_lock)
        {
            _closed = true;
            foreach (var segment in _segments)
            {
                segment.Dispose();
            }

            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }

    public void Dispose() => Close();

    private void ThrowIfClosed()
    {
        if (_closed)
        {
            throw new KafkaStorageException($"the log of {TopicPartition} is closed");
        }

        if (_storageFailure is { } failure)
        {
            throw failure;
        }
    }

    public override string ToString() => $"{TopicPartition}: [{LogStartOffset}, {LogEndOffset}) in {SegmentCount} segment(s)";
}
