using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// The transaction coordinator's side of TxnOffsetCommit: that the group's <c>__consumer_offsets</c>
/// partition is part of the producer's ongoing transaction (added by AddOffsetsToTxn), or, with
/// transactions V2 (TxnOffsetCommit v5+, <c>addIfMissing</c>), adds it. NONE when it is.
/// </summary>
public interface ITransactionVerifier
{
    ErrorCode VerifyOffsetsPartition(string transactionalId, long producerId, short producerEpoch, string groupId, bool addIfMissing);
}

/// <summary>The group and member fields of a TxnOffsetCommit (generation -1 / "" / null before v3).</summary>
public readonly record struct TxnOffsetCommitParams(
    string GroupId, long ProducerId, short ProducerEpoch, int GenerationId, string MemberId, string? GroupInstanceId);

/// <summary>
/// Transactional offset commits, following Kafka's OffsetMetadataManager: TxnOffsetCommit writes the
/// offsets as one transactional batch of the producer to the group's <c>__consumer_offsets</c> partition
/// and keeps them pending (invisible to OffsetFetch) until a COMMIT or ABORT marker of that producer is
/// written to the same partition (<see cref="CompleteTransaction"/>). On COMMIT a pending offset becomes
/// the committed one unless a later write (a plain commit, or another transaction's offset written
/// after it) already holds the partition, so the result is the same live and after a replay of a
/// compacted log. OffsetFetch with require_stable answers UNSTABLE_OFFSET_COMMIT for partitions with
/// pending offsets; deletes (OffsetDelete, DeleteGroups) remove pending offsets too; retention keeps
/// offsets, and groups, that have pending offsets.
/// </summary>
public sealed partial class GroupCoordinatorShard
{
    // (__consumer_offsets partition, producer id) → that producer's pending offsets there.
    private readonly Dictionary<(int LogPartition, long ProducerId), Dictionary<(string GroupId, TopicPartition Partition), PendingOffset>> _pendingOffsets = [];

    // Group → partition → producers with a pending offset for it (Kafka's openTransactions).
    private readonly Dictionary<string, Dictionary<TopicPartition, HashSet<long>>> _openTransactions = new(StringComparer.Ordinal);

    // Write order of the committed offset of a partition while it has pending offsets: Kafka compares
    // record offsets; a counter advanced in log order (live and at replay) orders the same way.
    private readonly Dictionary<(string GroupId, TopicPartition Partition), long> _committedSequence = [];
    private long _offsetSequence;

    private readonly record struct PendingOffset(CommittedOffset Offset, long Sequence);

    /// <summary>
    /// Validates and writes a TxnOffsetCommit; one error per offset, in order. A group error (ILLEGAL_GENERATION,
    /// UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID, COORDINATOR_NOT_AVAILABLE) applies to every offset; metadata
    /// over offset.metadata.max.bytes is OFFSET_METADATA_TOO_LARGE for its partition; the others are written
    /// as one batch (the log's error for all of them when it fails) and stay pending until the marker.
    /// </summary>
    public ErrorCode[] TxnOffsetCommit(TxnOffsetCommitParams request, IReadOnlyList<OffsetToCommit> offsets)
    {
        var errors = new ErrorCode[offsets.Count];
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        lock (_lock)
        {
            FlushQueuedWritesLocked(); // reads committed offsets: queued commits first
            var groupError = ValidateTransactionalOffsetCommit(request);
            if (groupError != ErrorCode.None)
            {
                Array.Fill(errors, groupError);
                return errors;
            }

            var accepted = new List<int>(offsets.Count);
            var records = new List<GroupRecord>(offsets.Count);
            for (var i = 0; i < offsets.Count; i++)
            {
                var o = offsets[i];
                if (o.Metadata is { } metadata && metadata.Length > _config.OffsetMetadataMaxBytes)
                {
                    errors[i] = ErrorCode.OffsetMetadataTooLarge;
                    continue;
                }

                // KIP-1251: an older member epoch is judged per partition; Kafka fails the whole request then.
                if (ValidateConsumerCommitPartition(request.GroupId, request.MemberId, request.GenerationId, o.Partition.Topic, o.Partition.Partition) != ErrorCode.None)
                {
                    Array.Fill(errors, ErrorCode.IllegalGeneration);
                    return errors;
                }

                accepted.Add(i);
                records.Add(GroupRecords.OffsetCommit(request.GroupId, o.Partition, ToCommitted(o, now)));
            }

            if (accepted.Count == 0)
            {
                return errors;
            }

            int logPartition;
            try
            {
                logPartition = _records?.AppendTransactional(request.GroupId, records, request.ProducerId, request.ProducerEpoch) ?? 0;
            }
            catch (GroupRecordLogException e)
            {
                _log.LogWarning("Writing transactional offsets of group {GroupId} (producer {ProducerId}) failed: {Reason}", request.GroupId, request.ProducerId, e.Message);
                foreach (var i in accepted)
                {
                    errors[i] = e.Error;
                }

                return errors;
            }

            foreach (var i in accepted)
            {
                AddPendingOffset(logPartition, request.ProducerId, request.GroupId, offsets[i].Partition, ToCommitted(offsets[i], now));
            }

            return errors;
        }
    }

    private static CommittedOffset ToCommitted(OffsetToCommit o, long now) => new(o.Offset, o.LeaderEpoch, o.Metadata ?? "", now);

    /// <summary>
    /// Kafka's validateTransactionalOffsetCommit: a missing group is created as an empty ("simple") classic
    /// group when the generation is negative, else ILLEGAL_GENERATION. A classic group accepts a commit
    /// without generation/member/instance from anyone (older TxnOffsetCommit versions have none); otherwise
    /// the member and generation must match, in any state (no REBALANCE_IN_PROGRESS for transactions). A
    /// consumer group follows its offset-commit rules, a stale member epoch being ILLEGAL_GENERATION.
    /// </summary>
    private ErrorCode ValidateTransactionalOffsetCommit(TxnOffsetCommitParams request)
    {
        if (_consumerGroups.TryGetValue(request.GroupId, out var consumerGroup) && !consumerGroup.IsDead)
        {
            var error = ValidateConsumerOffsetCommit(consumerGroup, request.MemberId, request.GenerationId, isV9OrLater: true);
            return error == ErrorCode.StaleMemberEpoch ? ErrorCode.IllegalGeneration : error;
        }

        if (!_groups.TryGetValue(request.GroupId, out var group))
        {
            if (request.GenerationId >= 0)
            {
                return ErrorCode.IllegalGeneration;
            }

            _groups.Add(request.GroupId, new ClassicGroup(request.GroupId, _time));
            return ErrorCode.None;
        }

        if (group.State == ClassicGroupState.Dead)
        {
            return ErrorCode.CoordinatorNotAvailable;
        }

        if (request.GenerationId < 0 && group.State == ClassicGroupState.Empty)
        {
            return ErrorCode.None;
        }

        if (request.GenerationId >= 0 || request.MemberId.Length > 0 || request.GroupInstanceId is not null)
        {
            var error = ValidateMember(group, request.MemberId, request.GroupInstanceId);
            if (error != ErrorCode.None)
            {
                return error;
            }

            if (request.GenerationId != group.GenerationId)
            {
                return ErrorCode.IllegalGeneration;
            }
        }

        return ErrorCode.None;
    }

    /// <summary>
    /// A COMMIT or ABORT marker of <paramref name="producerId"/> was written to <c>__consumer_offsets</c>
    /// partition <paramref name="logPartition"/> (or replayed from it): the producer's pending offsets of the
    /// groups in that partition become committed (unless a later write holds the partition) or are dropped.
    /// </summary>
    public void CompleteTransaction(long producerId, bool commit, int logPartition)
    {
        lock (_lock)
        {
            FlushQueuedWritesLocked(); // reads committed offsets: queued commits first
            if (!_pendingOffsets.Remove((logPartition, producerId), out var pending))
            {
                return;
            }

            var materialized = 0;
            foreach (var ((groupId, partition), offset) in pending)
            {
                var othersOpen = RemoveOpenTransaction(groupId, partition, producerId);
                if (commit && (!_committedSequence.TryGetValue((groupId, partition), out var committedSequence) || offset.Sequence > committedSequence))
                {
                    Offsets.Apply(groupId, partition, offset.Offset);
                    materialized++;
                    if (othersOpen)
                    {
                        _committedSequence[(groupId, partition)] = offset.Sequence;
                    }
                }

                if (!othersOpen)
                {
                    _committedSequence.Remove((groupId, partition));
                }
            }

            _log.LogDebug(
                "{Result} transactional offsets of producer {ProducerId} in {Partition}: {Materialized} of {Count} committed",
                commit ? "Committed" : "Aborted", producerId, logPartition, materialized, pending.Count);
        }
    }

    /// <summary>True when a transaction has a pending offset for the partition (OffsetFetch require_stable).</summary>
    public bool HasPendingTransactionalOffset(string groupId, TopicPartition partition)
    {
        lock (_lock)
        {
            return _openTransactions.TryGetValue(groupId, out var partitions) && partitions.ContainsKey(partition);
        }
    }

    /// <summary>True when any transaction has a pending offset in the group.</summary>
    public bool HasPendingTransactionalOffsets(string groupId)
    {
        lock (_lock)
        {
            return _openTransactions.ContainsKey(groupId);
        }
    }

    /// <summary>
    /// Replays one offset record of <c>__consumer_offsets</c> partition <paramref name="logPartition"/> at
    /// start-up, in log order: a tombstone removes the committed and the pending offsets of the partition;
    /// a record of a transactional batch (<paramref name="producerId"/> ≥ 0) is pending until its marker;
    /// any other record is the committed offset.
    /// </summary>
    public void ReplayOffsetRecord(int logPartition, long producerId, string groupId, TopicPartition partition, CommittedOffset? offset)
    {
        lock (_lock)
        {
            if (offset is not { } value)
            {
                Offsets.Apply(groupId, partition, null);
                ClearPendingOffsets(groupId, partition);
            }
            else if (producerId < 0)
            {
                Offsets.Apply(groupId, partition, value);
                OnOffsetCommitted(groupId, partition);
            }
            else
            {
                AddPendingOffset(logPartition, producerId, groupId, partition, value);
            }
        }
    }

    /// <summary>Groups known only from pending transactional offsets (after a restart) exist as empty classic groups, as in Kafka.</summary>
    public void RestorePendingOffsetOnlyGroups()
    {
        lock (_lock)
        {
            foreach (var groupId in _openTransactions.Keys)
            {
                if (!_groups.ContainsKey(groupId) && !_consumerGroups.ContainsKey(groupId))
                {
                    _groups.Add(groupId, new ClassicGroup(groupId, _time) { StateTimestampMs = -1 });
                }
            }
        }
    }

    /// <summary>Under the lock, after a plain offset commit: orders it against the partition's pending offsets.</summary>
    private void OnOffsetCommitted(string groupId, TopicPartition partition)
    {
        var sequence = ++_offsetSequence;
        if (_openTransactions.TryGetValue(groupId, out var partitions) && partitions.ContainsKey(partition))
        {
            _committedSequence[(groupId, partition)] = sequence;
        }
    }

    private void AddPendingOffset(int logPartition, long producerId, string groupId, TopicPartition partition, CommittedOffset offset)
    {
        if (!_pendingOffsets.TryGetValue((logPartition, producerId), out var pending))
        {
            pending = [];
            _pendingOffsets.Add((logPartition, producerId), pending);
        }

        pending[(groupId, partition)] = new PendingOffset(offset, ++_offsetSequence);
        if (!_openTransactions.TryGetValue(groupId, out var partitions))
        {
            partitions = [];
            _openTransactions.Add(groupId, partitions);
        }

        if (!partitions.TryGetValue(partition, out var producers))
        {
            producers = [];
            partitions.Add(partition, producers);
        }

        producers.Add(producerId);
    }

    /// <summary>Removes the producer from the partition's open transactions; true when other producers remain.</summary>
    private bool RemoveOpenTransaction(string groupId, TopicPartition partition, long producerId)
    {
        if (!_openTransactions.TryGetValue(groupId, out var partitions) || !partitions.TryGetValue(partition, out var producers))
        {
            return false;
        }

        producers.Remove(producerId);
        if (producers.Count > 0)
        {
            return true;
        }

        partitions.Remove(partition);
        if (partitions.Count == 0)
        {
            _openTransactions.Remove(groupId);
        }

        return false;
    }

    /// <summary>Drops every pending offset of the partition (its tombstone was written or replayed).</summary>
    private void ClearPendingOffsets(string groupId, TopicPartition partition)
    {
        _committedSequence.Remove((groupId, partition));
        if (!_openTransactions.TryGetValue(groupId, out var partitions) || !partitions.Remove(partition, out var producers))
        {
            return;
        }

        if (partitions.Count == 0)
        {
            _openTransactions.Remove(groupId);
        }

        foreach (var ((_, producerId), pending) in _pendingOffsets)
        {
            if (producers.Contains(producerId))
            {
                pending.Remove((groupId, partition));
            }
        }
    }

    /// <summary>
    /// Under the lock, before a partition's committed offset is deleted (OffsetDelete): when only pending
    /// offsets exist, Kafka still writes a tombstone, which drops them. False when nothing was pending.
    /// Throws <see cref="GroupRecordLogException"/> when the tombstone cannot be written.
    /// </summary>
    private bool DeletePendingOffsets(string groupId, TopicPartition partition)
    {
        if (!_openTransactions.TryGetValue(groupId, out var partitions) || !partitions.ContainsKey(partition))
        {
            return false;
        }

        if (!Offsets.TryGet(groupId, partition, out _))
        {
            _records?.Append(groupId, [GroupRecords.OffsetTombstone(groupId, partition)]);
        }

        ClearPendingOffsets(groupId, partition);
        return true;
    }

    /// <summary>Under the lock, when a group is deleted: tombstones for the partitions that only have pending offsets, then drops them all.</summary>
    private void DeleteAllPendingOffsets(string groupId)
    {
        if (!_openTransactions.TryGetValue(groupId, out var partitions))
        {
            return;
        }

        var tombstones = new List<GroupRecord>();
        foreach (var partition in partitions.Keys)
        {
            if (!Offsets.TryGet(groupId, partition, out _))
            {
                tombstones.Add(GroupRecords.OffsetTombstone(groupId, partition));
            }
        }

        if (tombstones.Count > 0)
        {
            _records?.Append(groupId, tombstones);
        }

        foreach (var partition in partitions.Keys.ToList())
        {
            ClearPendingOffsets(groupId, partition);
        }
    }
}
