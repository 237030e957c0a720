using System.Buffers;
using System.Globalization;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage;

// Opening a log: leftovers of interrupted work, recovery after an unclean stop, and the state rebuilt from the
// segments (producer state, leader epochs).
public sealed partial class PartitionLog
{
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

        // The high watermark starts at the checkpointed one (Kafka's UnifiedLog): the broker's Partition moves it
        // when it hosts the log (ONE-REPLICA: as the whole ISR, to the log end).
        Volatile.Write(ref log._highWatermark, log.CheckpointedHighWatermark >= 0 ? log.CheckpointedHighWatermark : log.LogStartOffset);

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
}
