using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// The write path of offset commits, after Kafka's CoordinatorRuntime: the operation runs under the shard's lock and
/// produces its records in order; the records are appended to the shard's partition with the lock released, then
/// applied (in that same order, through <see cref="IOffsetStore.Apply"/> as replay does) and the request is answered.
/// One thread at a time drains the queue (the committer that found it idle). A write that still appends under the lock
/// (group metadata, consumer groups, transactional offsets, tombstones) first drains the queue itself
/// (<see cref="FlushQueuedWritesLocked"/>, reached through <see cref="OrderedRecordLog"/>), so the log and memory see
/// every write of the shard in one order.
/// </summary>
public sealed partial class GroupCoordinatorShard
{
    private readonly Queue<OffsetWrite> _writes = new();
    private bool _draining;
    private bool _flushing;

    private (OffsetWrite Write, bool Drain) EnqueueWriteLocked(string groupId, KeyValuePair<TopicPartition, CommittedOffset>[] offsets)
    {
        var write = new OffsetWrite(groupId, offsets);
        _writes.Enqueue(write);
        var drain = !_draining;
        _draining = true;
        return (write, drain);
    }

    /// <summary>Appends queued writes one at a time with the lock released, applying each under the lock once it is in the log.</summary>
    private void DrainWrites()
    {
        while (true)
        {
            OffsetWrite next;
            lock (_lock)
            {
                ApplyAppendedLocked();
                if (!_writes.TryPeek(out next!))
                {
                    _draining = false;
                    return;
                }

                next.Claimed = true;
            }

            next.Complete(AppendWrite(next));
            lock (_lock)
            {
                ApplyAppendedLocked();
            }
        }
    }

    /// <summary>
    /// Called under the lock before a write that appends under it: waits for the write the drainer is appending (its append
    /// needs no lock), appends the rest of the queue here, and applies everything, so the queue is empty and in the log first.
    /// </summary>
    internal void FlushQueuedWritesLocked()
    {
        if (_flushing || _writes.Count == 0)
        {
            return;
        }

        _flushing = true;
        try
        {
            foreach (var write in _writes)
            {
                if (write.Claimed)
                {
                    write.Appended.Wait();
                }
                else
                {
                    write.Claimed = true;
                    write.Complete(AppendWrite(write));
                }
            }

            ApplyAppendedLocked();
        }
        finally
        {
            _flushing = false;
        }
    }

    private void ApplyAppendedLocked()
    {
        while (_writes.TryPeek(out var head) && head.Result is { } result)
        {
            _writes.Dequeue();
            if (result == ErrorCode.None)
            {
                foreach (var (partition, offset) in head.Offsets)
                {
                    Offsets.Apply(head.GroupId, partition, offset);
                    OnOffsetCommitted(head.GroupId, partition);
                }
            }

            head.Done.TrySetResult(result);
        }
    }

    private ErrorCode AppendWrite(OffsetWrite write)
    {
        try
        {
            Offsets.Write(write.GroupId, write.Offsets);
            return ErrorCode.None;
        }
        catch (GroupRecordLogException e)
        {
            _log.LogWarning("Committing offsets of group {GroupId} failed: {Reason}", write.GroupId, e.Message);
            return e.Error;
        }
    }

    /// <summary>One OffsetCommit's offsets on their way to the log.</summary>
    private sealed class OffsetWrite(string groupId, KeyValuePair<TopicPartition, CommittedOffset>[] offsets)
    {
        private ErrorCode? _result;

        public string GroupId { get; } = groupId;

        public KeyValuePair<TopicPartition, CommittedOffset>[] Offsets { get; } = offsets;

        /// <summary>Someone (the drainer or a flush) appends it; set under the shard's lock.</summary>
        public bool Claimed { get; set; }

        /// <summary>Set, without the lock, once the append is done (a flush waits for it under the lock).</summary>
        public ManualResetEventSlim Appended { get; } = new();

        public ErrorCode? Result => Appended.IsSet ? _result : null;

        public TaskCompletionSource<ErrorCode> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Complete(ErrorCode result)
        {
            _result = result;
            Appended.Set();
        }
    }

    /// <summary>The shard's view of the log: a write under the shard's lock first flushes the queued offset commits.</summary>
    private sealed class OrderedRecordLog(GroupCoordinatorShard shard, IGroupRecordLog log) : IGroupRecordLog
    {
        public void Append(string groupId, IReadOnlyList<GroupRecord> records)
        {
            FlushIfLocked();
            log.Append(groupId, records);
        }

        public int AppendTransactional(string groupId, IReadOnlyList<GroupRecord> records, long producerId, short producerEpoch)
        {
            FlushIfLocked();
            return log.AppendTransactional(groupId, records, producerId, producerEpoch);
        }

        private void FlushIfLocked()
        {
            if (shard._lock.IsHeldByCurrentThread)
            {
                shard.FlushQueuedWritesLocked();
            }
        }
    }
}
