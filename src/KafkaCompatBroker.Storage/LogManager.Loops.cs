using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage;

// The background work: retention, flushes, checkpoints, producer expiration and compaction, and the loops that run it.
public sealed partial class LogManager
{
    // ------------------------------------------------------------------ the work the background loops do

    /// <summary>One pass of retention over every log (what log.retention.check.interval.ms schedules). Returns the segments deleted.</summary>
    public int RunRetentionOnce()
    {
        var deleted = 0;
        foreach (var log in _logs.Values)
        {
            try
            {
                deleted += log.ApplyRetention();
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Retention of {Partition} failed", log.TopicPartition);
            }
        }

        return deleted;
    }

    /// <summary>Flushes every log whose flush.ms has passed (what log.flush.scheduler.interval.ms schedules).</summary>
    public void FlushDueLogs()
    {
        foreach (var log in _logs.Values)
        {
            try
            {
                log.FlushIfDue();
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Flushing {Partition} failed", log.TopicPartition);
            }
        }
    }

    /// <summary>
    /// Writes every log dir's recovery-point-offset-checkpoint (what log.flush.offset.checkpoint.interval.ms schedules)
    /// and its replication-offset-checkpoint (the high watermarks; Kafka writes it on replica.high.watermark.checkpoint.interval.ms).
    /// </summary>
    public void CheckpointRecoveryPoints()
    {
        foreach (var dir in _dirs)
        {
            var logs = LogsIn(dir);
            dir.RecoveryPoints.Write(logs.Select(l => KeyValuePair.Create(l.TopicPartition, l.RecoveryPoint)));
            dir.HighWatermarks.Write(logs.Select(l => KeyValuePair.Create(l.TopicPartition, l.HighWatermark)));
        }
    }

    /// <summary>Writes every log dir's log-start-offset-checkpoint (what log.flush.start.offset.checkpoint.interval.ms schedules).</summary>
    public void CheckpointLogStartOffsets()
    {
        foreach (var dir in _dirs)
        {
            dir.LogStartOffsets.Write(LogsIn(dir).Select(l => KeyValuePair.Create(l.TopicPartition, l.LogStartOffset)));
        }
    }

    /// <summary>Writes every log dir's cleaner-offset-checkpoint.</summary>
    public void CheckpointCleanerOffsets()
    {
        foreach (var dir in _dirs)
        {
            WriteCleanerOffsets(dir);
        }
    }

    /// <summary>How far compaction has cleaned the log of <paramref name="topicPartition"/>, or null if it never has.</summary>
    public long? CleanerCheckpoint(TopicPartition topicPartition) =>
        _cleanedUpTo.TryGetValue(topicPartition, out var offset) ? offset : null;

    /// <summary>Drops expired producers from every log (what producer.id.expiration.check.interval.ms schedules); returns how many.</summary>
    public int RemoveExpiredProducersOnce()
    {
        var removed = 0;
        foreach (var log in _logs.Values)
        {
            removed += log.RemoveExpiredProducers(ProducerIdExpirationMs);
        }

        return removed;
    }

    /// <summary>
    /// One pass of the cleaner (what log.cleaner.backoff.ms schedules): calls <see cref="LogManagerOptions.Cleaner"/>
    /// for each log whose cleanup.policy includes compact, and checkpoints the offsets it returns.
    /// Returns the number of logs whose cleaned-up-to offset advanced.
    /// </summary>
    public int RunCleanerOnce(CancellationToken cancellationToken = default)
    {
        if (_options.Cleaner is not { } cleaner)
        {
            return 0;
        }

        var cleaned = new HashSet<string>(StringComparer.Ordinal);
        var count = 0;
        foreach (var log in _logs.Values)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var tp = log.TopicPartition;
            if (!log.Config.CleanupPolicy.HasFlag(CleanupPolicy.Compact) || _uncleanable.ContainsKey(tp))
            {
                continue;
            }

            var firstDirty = FirstDirtyOffset(log);
            long cleanedUpTo;
            try
            {
                cleanedUpTo = cleaner(log, firstDirty);
            }
            catch (Exception e)
            {
                if (IsCurrent(log))
                {
                    _uncleanable[tp] = 0;
                    _logger.LogError(e, "Compaction of {Partition} failed; it is not compacted again until the broker restarts", tp);
                }

                continue; // else the log was deleted underneath
            }

            if (cleanedUpTo > firstDirty && IsCurrent(log))
            {
                _cleanedUpTo[tp] = Math.Min(cleanedUpTo, log.LogEndOffset);
                cleaned.Add(Path.GetDirectoryName(log.Directory)!);
                count++;
            }
        }

        foreach (var dir in _dirs.Where(d => cleaned.Contains(d.Path)))
        {
            WriteCleanerOffsets(dir);
        }

        return count;
    }

    /// <summary>Whether <paramref name="log"/> is still this manager's log of its partition (not deleted, nor deleted and re-created).</summary>
    private bool IsCurrent(PartitionLog log) => _logs.TryGetValue(log.TopicPartition, out var current) && current == log;

    /// <summary>Where compaction of <paramref name="log"/> resumes: its checkpoint, unless that is outside [log start, log end] (as Kafka's cleaner manager does).</summary>
    private long FirstDirtyOffset(PartitionLog log)
    {
        var start = log.LogStartOffset;
        if (!_cleanedUpTo.TryGetValue(log.TopicPartition, out var checkpoint) || checkpoint < start)
        {
            return start;
        }

        if (checkpoint > log.LogEndOffset)
        {
            _logger.LogWarning(
                "The cleaner checkpoint {Checkpoint} of {Partition} is past its log end offset {End}; cleaning again from the log start offset {Start}",
                checkpoint, log.TopicPartition, log.LogEndOffset, start);
            return start;
        }

        return checkpoint;
    }

    private void WriteCleanerOffsets(LogDir dir) =>
        dir.CleanerOffsets.Write(LogsIn(dir)
            .Where(l => _cleanedUpTo.ContainsKey(l.TopicPartition))
            .Select(l => KeyValuePair.Create(l.TopicPartition, _cleanedUpTo[l.TopicPartition])));

    private void WriteCheckpoints(LogDir dir)
    {
        var logs = LogsIn(dir);
        dir.RecoveryPoints.Write(logs.Select(l => KeyValuePair.Create(l.TopicPartition, l.RecoveryPoint)));
        dir.HighWatermarks.Write(logs.Select(l => KeyValuePair.Create(l.TopicPartition, l.HighWatermark)));
        dir.LogStartOffsets.Write(logs.Select(l => KeyValuePair.Create(l.TopicPartition, l.LogStartOffset)));
        WriteCleanerOffsets(dir);
    }

    private List<PartitionLog> LogsIn(LogDir dir) =>
        [.. _logs.Values.Where(l => string.Equals(Path.GetDirectoryName(l.Directory), dir.Path, StringComparison.Ordinal))];

    // ------------------------------------------------------------------ background loops

    private void StartLoops()
    {
        var token = _stopping.Token;
        StartLoop("retention check (log.retention.check.interval.ms)", _options.LogRetentionCheckIntervalMs, () => RunRetentionOnce(), token);
        StartLoop("flush scheduler (log.flush.scheduler.interval.ms)", _options.LogFlushSchedulerIntervalMs, FlushDueLogs, token);
        StartLoop("recovery point checkpoint (log.flush.offset.checkpoint.interval.ms)", _options.LogFlushOffsetCheckpointIntervalMs, CheckpointRecoveryPoints, token);
        StartLoop("log start offset checkpoint (log.flush.start.offset.checkpoint.interval.ms)", _options.LogFlushStartOffsetCheckpointIntervalMs, CheckpointLogStartOffsets, token);
        StartLoop("producer expiration (producer.id.expiration.check.interval.ms)", _options.ProducerIdExpirationCheckIntervalMs, () => RemoveExpiredProducersOnce(), token);
        if (_options.Cleaner is null || !_options.LogCleanerEnable)
        {
            _logger.LogInformation("Log compaction is off: {Reason}", _options.Cleaner is null ? "no cleaner is configured" : "log.cleaner.enable is false");
        }
        else
        {
            _cleanerTimer = StartLoop("log cleaner (log.cleaner.backoff.ms)", CleanerBackoffMs, () => RunCleanerOnce(token), token);
        }
    }

    /// <summary>Starts a loop running <paramref name="work"/> every <paramref name="intervalMs"/>; returns its timer (null: the loop is off).</summary>
    private PeriodicTimer? StartLoop(string name, long intervalMs, Action work, CancellationToken token)
    {
        if (intervalMs <= 0 || intervalMs > MaxTimerIntervalMs)
        {
            _logger.LogDebug("The {Loop} loop is off (interval {Interval} ms)", name, intervalMs);
            return null;
        }

        var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(intervalMs), _time);
        _loops.Add(Task.Run(() => RunLoopAsync(name, timer, work, token), CancellationToken.None));
        return timer;
    }

    private async Task RunLoopAsync(string name, PeriodicTimer timer, Action work, CancellationToken token)
    {
        _logger.LogDebug("The {Loop} loop runs every {Interval} ms", name, (long)timer.Period.TotalMilliseconds);
        string reason;
        try
        {
            using var owned = timer;
            while (await timer.WaitForNextTickAsync(token).ConfigureAwait(false))
            {
                try
                {
                    work();
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception e)
                {
                    _logger.LogError(e, "The {Loop} loop failed a pass; it runs again in {Interval} ms", name, (long)timer.Period.TotalMilliseconds);
                }
            }

            reason = "its timer was disposed";
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            reason = "the log manager is shutting down";
        }
        catch (Exception e)
        {
            reason = $"it failed: {e.Message}";
            _logger.LogError(e, "The {Loop} loop failed", name);
        }

        if (token.IsCancellationRequested)
        {
            _logger.LogDebug("The {Loop} loop stopped: {Reason}", name, reason);
        }
        else
        {
            _logger.LogWarning("The {Loop} loop stopped: {Reason}", name, reason);
        }
    }
}
