using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage;

// Segments: roll, truncate, retention, the compaction swap, and flushes.
public sealed partial class PartitionLog
{
    private const string DeletedSuffix = ".deleted";
    private const string CleanedSuffix = ".cleaned";
    private const string SwapSuffix = ".swap";

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
}
