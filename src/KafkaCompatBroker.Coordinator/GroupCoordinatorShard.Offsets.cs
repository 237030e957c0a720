using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>Offset commits of classic and consumer groups (Kafka's OffsetMetadataManager), shutdown and unloading.</summary>
public sealed partial class GroupCoordinatorShard
{
    // ---------------------------------------------------------------- Offsets

    /// <summary>
    /// Kafka's validation of a classic group's offset commit: a simple commit (generation -1, no
    /// member) is allowed for a group without members; otherwise the member and generation must match.
    /// A missing group is created for a simple commit, else ILLEGAL_GENERATION (GROUP_ID_NOT_FOUND from v9).
    /// </summary>
    public ErrorCode ValidateOffsetCommit(string groupId, int generationId, string memberId, string? groupInstanceId, bool groupIdNotFoundSupported)
    {
        lock (_lock)
        {
            return ValidateOffsetCommitLocked(groupId, generationId, memberId, groupInstanceId, groupIdNotFoundSupported);
        }
    }

    private ErrorCode ValidateOffsetCommitLocked(string groupId, int generationId, string memberId, string? groupInstanceId, bool groupIdNotFoundSupported)
    {
        if (_consumerGroups.TryGetValue(groupId, out var consumerGroup))
        {
            return ValidateConsumerOffsetCommit(consumerGroup, memberId, generationId, groupIdNotFoundSupported);
        }

        if (!_groups.TryGetValue(groupId, out var group))
        {
            if (generationId < 0)
            {
                _groups.Add(groupId, new ClassicGroup(groupId, _time));
                return ErrorCode.None;
            }

            return groupIdNotFoundSupported ? ErrorCode.GroupIdNotFound : ErrorCode.IllegalGeneration;
        }

        if (group.State == ClassicGroupState.Dead)
        {
            return ErrorCode.CoordinatorNotAvailable;
        }

        if (generationId < 0 && group.State == ClassicGroupState.Empty)
        {
            return ErrorCode.None;
        }

        if (generationId >= 0 || memberId.Length > 0 || groupInstanceId is not null)
        {
            var error = ValidateMember(group, memberId, groupInstanceId);
            if (error != ErrorCode.None)
            {
                return error;
            }

            if (generationId != group.GenerationId)
            {
                return ErrorCode.IllegalGeneration;
            }
        }
        else if (group.State != ClassicGroupState.Empty)
        {
            return ErrorCode.UnknownMemberId;
        }

        if (group.State == ClassicGroupState.CompletingRebalance)
        {
            return ErrorCode.RebalanceInProgress;
        }

        if (group.Members.TryGetValue(memberId, out var member))
        {
            ResetSession(group, member);
        }

        return ErrorCode.None;
    }

    /// <summary>Test seam: runs after an OffsetCommit's checks, under the shard's lock, before its write.</summary>
    internal Action? OffsetCommitValidated { get; set; }

    /// <summary>
    /// An OffsetCommit as one operation under the shard's lock: the group/member checks, the per-partition checks
    /// (offset.metadata.max.bytes; KIP-1251 epochs for consumer groups from v9) and the write of what passed.
    /// </summary>
    public async ValueTask<ErrorCode[]> CommitOffsetsAsync(OffsetCommitParams request, IReadOnlyList<OffsetToCommit> offsets)
    {
        var errors = new ErrorCode[offsets.Count];
        OffsetWrite write;
        bool drain;
        lock (_lock)
        {
            var groupError = ValidateOffsetCommitLocked(
                request.GroupId, request.GenerationIdOrMemberEpoch, request.MemberId, request.GroupInstanceId, request.GroupIdNotFoundSupported);
            if (groupError != ErrorCode.None)
            {
                Array.Fill(errors, groupError);
                return errors;
            }

            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var toCommit = new List<KeyValuePair<TopicPartition, CommittedOffset>>(offsets.Count);
            for (var i = 0; i < offsets.Count; i++)
            {
                var offset = offsets[i];
                errors[i] = offset.Metadata is { } metadata && metadata.Length > _config.OffsetMetadataMaxBytes
                    ? ErrorCode.OffsetMetadataTooLarge
                    : request.ValidatePartitionEpochs
                        ? ValidateConsumerCommitPartitionLocked(request.GroupId, request.MemberId, request.GenerationIdOrMemberEpoch, offset.Partition.Topic, offset.Partition.Partition)
                        : ErrorCode.None;
                if (errors[i] == ErrorCode.None)
                {
                    toCommit.Add(KeyValuePair.Create(offset.Partition, new CommittedOffset(offset.Offset, offset.LeaderEpoch, offset.Metadata ?? "", now)));
                }
            }

            OffsetCommitValidated?.Invoke();
            if (toCommit.Count == 0)
            {
                return errors;
            }

            // The records are ordered now; they are appended outside the lock and applied in this order when they are.
            (write, drain) = EnqueueWriteLocked(request.GroupId, [.. toCommit]);
        }

        if (drain)
        {
            DrainWrites();
        }

        var commitError = await write.Done.Task.ConfigureAwait(false);
        if (commitError != ErrorCode.None)
        {
            for (var i = 0; i < errors.Length; i++)
            {
                if (errors[i] == ErrorCode.None)
                {
                    errors[i] = commitError;
                }
            }
        }

        return errors;
    }

    /// <summary>Commits validated offsets of one group (one record batch); the error when they could not be persisted.</summary>
    public ErrorCode CommitOffsets(string groupId, IReadOnlyList<OffsetToCommit> offsets)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var committed = new KeyValuePair<TopicPartition, CommittedOffset>[offsets.Count];
        for (var i = 0; i < offsets.Count; i++)
        {
            var o = offsets[i];
            committed[i] = KeyValuePair.Create(o.Partition, new CommittedOffset(o.Offset, o.LeaderEpoch, o.Metadata ?? "", now));
        }

        lock (_lock)
        {
            try
            {
                Offsets.CommitAll(groupId, committed);
                foreach (var (partition, _) in committed)
                {
                    OnOffsetCommitted(groupId, partition);
                }

                return ErrorCode.None;
            }
            catch (GroupRecordLogException e)
            {
                _log.LogWarning("Committing offsets of group {GroupId} failed: {Reason}", groupId, e.Message);
                return e.Error;
            }
        }
    }

    /// <summary>
    /// The broker is stopping: JoinGroup and SyncGroup requests waiting for a rebalance phase are answered
    /// NOT_COORDINATOR now, and later ones at once, so shutdown does not wait up to a rebalance timeout for them
    /// (what Kafka answers waiting members when it unloads a group: GroupCoordinator.onGroupUnloaded). The groups
    /// stay as they are until <see cref="Dispose"/>.
    /// </summary>
    public void BeginShutdown()
    {
        lock (_lock)
        {
            _shuttingDown = true;
            foreach (var group in _groups.Values)
            {
                foreach (var member in group.Members.Values)
                {
                    member.AwaitingJoin?.TrySetResult(new JoinGroupResult(ErrorCode.NotCoordinator, member.MemberId));
                    member.AwaitingSync?.TrySetResult(new SyncGroupResult(ErrorCode.NotCoordinator, []));
                }
            }
        }
    }

    public void Dispose() => Unload(ErrorCode.CoordinatorNotAvailable);

    /// <summary>
    /// Drops the shard's state (Kafka's GroupCoordinator.onGroupUnloaded for each group): timers stop and waiting
    /// JoinGroup/SyncGroup requests are answered with <paramref name="error"/> (NOT_COORDINATOR when the partition moves).
    /// Later calls on this instance answer at once; the runtime routes nothing to it any more.
    /// </summary>
    internal void Unload(ErrorCode error)
    {
        lock (_lock)
        {
            _shuttingDown = true;
            foreach (var group in _groups.Values)
            {
                group.JoinTimer?.Dispose();
                group.SyncTimer?.Dispose();
                foreach (var timer in group.PendingMembers.Values)
                {
                    timer.Dispose();
                }

                foreach (var member in group.Members.Values)
                {
                    member.SessionTimer?.Dispose();
                    member.AwaitingJoin?.TrySetResult(new JoinGroupResult(error, member.MemberId));
                    member.AwaitingSync?.TrySetResult(new SyncGroupResult(error, []));
                }
            }

            _groups.Clear();
            DisposeConsumerGroups();
        }
    }
}
