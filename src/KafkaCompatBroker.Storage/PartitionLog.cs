using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// Offsets a partition log starts from, as the log manager's checkpoints remember them; <paramref name="HighWatermark"/>
/// is the replication-offset-checkpoint's (-1: none).
/// </summary>
public readonly record struct PartitionLogCheckpoint(long RecoveryPoint, long LogStartOffset, long HighWatermark = -1);

/// <summary>Receives one stored batch from <see cref="PartitionLog.ForEachBatch(long, StoredBatchVisitor)"/>.</summary>
public delegate void StoredBatchVisitor(ReadOnlySpan<byte> batch, in RecordBatchHeader header);

/// <summary>
/// The log of one partition: a directory of segments, of which the last is the active one that
/// takes appends. Writers (append, roll, truncate, retention, compaction's swap) serialize on a lock;
/// readers take an immutable snapshot of the segment list and never block or wait for writers.
/// </summary>
public sealed partial class PartitionLog : IDisposable
{
    private static readonly ILogger NullLoggerInstance = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    private readonly Lock _lock = new();
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
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

    /// <summary>Applies new topic configs (e.g. from AlterConfigs) to future appends, rolls and retention.</summary>
    public void UpdateConfig(LogConfig config)
    {
        lock (_lock)
        {
            Config = config;
        }
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
