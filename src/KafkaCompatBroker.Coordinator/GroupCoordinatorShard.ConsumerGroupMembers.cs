using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>KIP-848 consumer group members leaving and fenced, ConsumerGroupDescribe, offset checks and conversion helpers.</summary>
public sealed partial class GroupCoordinatorShard
{
    // ---------------------------------------------------------------- Leaving and fencing

    private ConsumerGroupHeartbeatResult ConsumerGroupLeave(ConsumerGroupHeartbeatParams request)
    {
        var group = ConsumerGroupOrThrow(request.GroupId);
        if (request.InstanceId is null)
        {
            if (!group.Members.TryGetValue(request.MemberId, out var member))
            {
                throw new ConsumerGroupException(ErrorCode.UnknownMemberId, $"Member {request.MemberId} is not a member of group {request.GroupId}.");
            }

            _log.LogInformation("Member {MemberId} left consumer group {GroupId}", request.MemberId, request.GroupId);
            FenceConsumerMemberOrDowngrade(group, member);
            return new ConsumerGroupHeartbeatResult(ErrorCode.None, null, request.MemberId, request.MemberEpoch);
        }

        var staticMember = group.StaticMember(request.InstanceId)
            ?? throw new ConsumerGroupException(ErrorCode.UnknownMemberId, $"Instance id {request.InstanceId} is unknown.");
        if (staticMember.MemberId != request.MemberId)
        {
            throw new ConsumerGroupException(
                ErrorCode.FencedInstanceId,
                $"Static member {request.MemberId} with instance id {request.InstanceId} was fenced by member {staticMember.MemberId}.");
        }

        if (request.MemberEpoch == LeaveGroupStaticMemberEpoch)
        {
            // A temporary leave: the member keeps its assignment for its session timeout, waiting to come back.
            _log.LogInformation("Static member {MemberId} with instance id {InstanceId} temporarily left consumer group {GroupId}", staticMember.MemberId, request.InstanceId, request.GroupId);
            group.RemovePartitionEpochs(staticMember);
            staticMember.MemberEpoch = LeaveGroupStaticMemberEpoch;
            staticMember.PartitionsPendingRevocation = [];
            staticMember.RebalanceTimer?.Dispose();
            staticMember.RebalanceTimer = null;
            group.AddPartitionEpochs(staticMember);
            return new ConsumerGroupHeartbeatResult(ErrorCode.None, null, staticMember.MemberId, LeaveGroupStaticMemberEpoch);
        }

        _log.LogInformation("Static member {MemberId} with instance id {InstanceId} left consumer group {GroupId}", staticMember.MemberId, request.InstanceId, request.GroupId);
        FenceConsumerMemberOrDowngrade(group, staticMember);
        return new ConsumerGroupHeartbeatResult(ErrorCode.None, null, request.MemberId, request.MemberEpoch);
    }

    private ConsumerGroup ConsumerGroupOrThrow(string groupId)
    {
        if (_consumerGroups.TryGetValue(groupId, out var group))
        {
            return group;
        }

        throw new ConsumerGroupException(
            ErrorCode.GroupIdNotFound, _groups.ContainsKey(groupId) ? $"Group {groupId} is not a consumer group." : $"Group {groupId} not found.");
    }

    /// <summary>Removes the member and bumps the group epoch, so the others get its partitions.</summary>
    private void FenceConsumerMember(ConsumerGroup group, ConsumerGroupMember member)
    {
        group.RemoveMember(member);
        group.GroupEpoch++;
        group.MetadataHash = ComputeMetadataHash(group);
        _log.LogInformation("Removed member {MemberId} from consumer group {GroupId}; group epoch is now {Epoch}", member.MemberId, group.GroupId, group.GroupEpoch);
    }

    /// <summary>A fencing by a timer: when the log refuses it, the group is restored and the member's timers start again.</summary>
    private void FenceConsumerMemberAndStore(ConsumerGroup group, ConsumerGroupMember member)
    {
        var change = BeginConsumerGroupChange(group.GroupId);
        FenceConsumerMemberOrDowngrade(group, member);
        CommitConsumerGroupChange(change);
    }

    /// <summary>
    /// A new group epoch when a member's subscription changed or the subscribed topics' metadata did (Kafka's
    /// GroupMetadataManager compares the group's metadata hash).
    /// </summary>
    private void BumpGroupEpochIfChanged(ConsumerGroup group, bool subscriptionChanged)
    {
        var metadataHash = ComputeMetadataHash(group);
        if (metadataHash != group.MetadataHash)
        {
            group.MetadataHash = metadataHash;
            subscriptionChanged = true;
        }

        if (subscriptionChanged)
        {
            group.GroupEpoch++;
            _log.LogInformation("Bumped consumer group {GroupId} epoch to {Epoch}", group.GroupId, group.GroupEpoch);
        }
    }

    /// <summary>A classic member keeps its own JoinGroup session timeout; a consumer member gets the group's.</summary>
    private int SessionTimeoutMsOf(ConsumerGroup group, ConsumerGroupMember member) =>
        member.Classic?.SessionTimeoutMs ?? ConsumerSessionTimeoutMs(group.GroupId);

    private void ScheduleConsumerSession(ConsumerGroup group, ConsumerGroupMember member)
    {
        var due = TimeSpan.FromMilliseconds(SessionTimeoutMsOf(group, member));
        member.SessionDeadlineMs = NowMs() + (long)due.TotalMilliseconds;
        if (member.SessionTimer is { } timer)
        {
            timer.Change(due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            member.SessionTimer = _time.CreateTimer(static s => ((ConsumerSessionTimeout)s!).Fire(), new ConsumerSessionTimeout(this, group, member), due, Timeout.InfiniteTimeSpan);
        }
    }

    private bool IsCurrent(ConsumerGroup group, ConsumerGroupMember member) =>
        _consumerGroups.TryGetValue(group.GroupId, out var current) && current == group
        && group.Members.TryGetValue(member.MemberId, out var m) && m == member;

    private sealed class ConsumerSessionTimeout(GroupCoordinatorShard coordinator, ConsumerGroup group, ConsumerGroupMember member)
    {
        public void Fire()
        {
            lock (coordinator._lock)
            {
                if (coordinator.IsCurrent(group, member) && !coordinator.SessionStillRunning(member.SessionTimer, member.SessionDeadlineMs))
                {
                    coordinator._log.LogInformation(
                        "Member {MemberId} of consumer group {GroupId} has failed (session timeout {SessionTimeoutMs} ms): fencing it",
                        member.MemberId,
                        group.GroupId,
                        coordinator.SessionTimeoutMsOf(group, member));
                    coordinator.FenceConsumerMemberAndStore(group, member);
                }
            }
        }
    }

    private sealed class ConsumerRebalanceTimeout(GroupCoordinatorShard coordinator, ConsumerGroup group, ConsumerGroupMember member, int epoch)
    {
        public void Fire()
        {
            lock (coordinator._lock)
            {
                if (coordinator.IsCurrent(group, member) && member.MemberEpoch == epoch && member.State == ConsumerMemberState.UnrevokedPartitions)
                {
                    coordinator._log.LogInformation(
                        "Member {MemberId} of consumer group {GroupId} did not revoke its partitions within its rebalance timeout ({RebalanceTimeoutMs} ms): fencing it",
                        member.MemberId,
                        group.GroupId,
                        member.RebalanceTimeoutMs);
                    coordinator.FenceConsumerMemberAndStore(group, member);
                }
            }
        }
    }

    // ---------------------------------------------------------------- ConsumerGroupDescribe

    public IReadOnlyList<ConsumerGroupDescription> DescribeConsumerGroups(IReadOnlyList<string> groupIds)
    {
        lock (_lock)
        {
            var result = new List<ConsumerGroupDescription>(groupIds.Count);
            var defaultAssignor = ConsumerGroupAssignors.ByName(_config.ConsumerAssignors[0])?.Name ?? "uniform";
            foreach (var groupId in groupIds)
            {
                if (!_consumerGroups.TryGetValue(groupId, out var group))
                {
                    var message = _groups.ContainsKey(groupId) ? $"Group {groupId} is not a consumer group." : $"Group {groupId} not found.";
                    result.Add(new ConsumerGroupDescription(groupId, ErrorCode.GroupIdNotFound, message));
                    continue;
                }

                var members = new List<ConsumerGroupMemberDescription>(group.Members.Count);
                foreach (var m in group.Members.Values)
                {
                    members.Add(new ConsumerGroupMemberDescription(
                        m.MemberId,
                        m.InstanceId,
                        m.RackId,
                        m.MemberEpoch,
                        m.ClientId,
                        m.ClientHost,
                        m.SubscribedTopicNames,
                        m.SubscribedTopicRegex,
                        PartitionMap.Copy(m.AssignedPartitions),
                        PartitionMap.Copy(group.TargetOf(m.MemberId))));
                }

                result.Add(new ConsumerGroupDescription(
                    groupId, ErrorCode.None, null, group.State.ToString(), group.GroupEpoch, group.AssignmentEpoch, group.PreferredAssignor(defaultAssignor), members));
            }

            return result;
        }
    }

    // ---------------------------------------------------------------- Offsets and conversion (called from GroupCoordinatorShard.cs)

    /// <summary>
    /// Kafka's ConsumerGroup.validateOffsetCommit: with epoch -1 and no members anyone may commit;
    /// otherwise the member must exist (UNKNOWN_MEMBER_ID), use OffsetCommit v9+ (UNSUPPORTED_VERSION)
    /// and send its current epoch (STALE_MEMBER_EPOCH).
    /// </summary>
    private static ErrorCode ValidateConsumerOffsetCommit(ConsumerGroup group, string memberId, int memberEpoch, bool isV9OrLater)
    {
        if (memberEpoch < 0 && group.IsEmpty)
        {
            return ErrorCode.None;
        }

        if (!group.Members.TryGetValue(memberId, out var member))
        {
            return ErrorCode.UnknownMemberId;
        }

        // A classic member commits with its generation, which is its member epoch (Kafka's ConsumerGroup.validateOffsetCommit).
        if (member.UsesClassicProtocol)
        {
            return memberEpoch == member.MemberEpoch ? ErrorCode.None : ErrorCode.IllegalGeneration;
        }

        if (!isV9OrLater)
        {
            return ErrorCode.UnsupportedVersion;
        }

        // KIP-1251 (Kafka 4.3): an older epoch is judged per partition by ValidateConsumerCommitPartition.
        return memberEpoch <= member.MemberEpoch ? ErrorCode.None : ErrorCode.StaleMemberEpoch;
    }

    /// <summary>
    /// KIP-1251's per-partition rule for a consumer group member committing with an epoch older than its
    /// current one: accepted only for a partition assigned to it at or before that epoch
    /// (assignment epoch ≤ request epoch ≤ member epoch), else STALE_MEMBER_EPOCH, so a zombie commit for a
    /// partition that moved on is fenced while a commit racing the member's own epoch bump is not.
    /// </summary>
    public ErrorCode ValidateConsumerCommitPartition(string groupId, string memberId, int memberEpoch, string topic, int partition)
    {
        lock (_lock)
        {
            return ValidateConsumerCommitPartitionLocked(groupId, memberId, memberEpoch, topic, partition);
        }
    }

    private ErrorCode ValidateConsumerCommitPartitionLocked(string groupId, string memberId, int memberEpoch, string topic, int partition)
    {
        if (memberEpoch < 0 || !_consumerGroups.TryGetValue(groupId, out var group) || !group.Members.TryGetValue(memberId, out var member)
            || memberEpoch == member.MemberEpoch)
        {
            return ErrorCode.None;
        }

        return TopicView.Topic(topic) is { } t && member.AssignmentEpochs.TryGetValue((t.Id, partition), out var assignedAt) && assignedAt <= memberEpoch
            ? ErrorCode.None
            : ErrorCode.StaleMemberEpoch;
    }

    /// <summary>
    /// OffsetFetch v9+ member checks (Kafka's ConsumerGroup.validateOffsetFetch): epoch -1 (admin) is
    /// always served; otherwise the member must exist and send its current epoch. Classic and unknown
    /// groups are served as before.
    /// </summary>
    public ErrorCode ValidateOffsetFetch(string groupId, string? memberId, int memberEpoch)
    {
        lock (_lock)
        {
            if (!_consumerGroups.TryGetValue(groupId, out var group) || memberEpoch < 0)
            {
                return ErrorCode.None;
            }

            if (memberId is null || !group.Members.TryGetValue(memberId, out var member))
            {
                return ErrorCode.UnknownMemberId;
            }

            return memberEpoch == member.MemberEpoch ? ErrorCode.None : ErrorCode.StaleMemberEpoch;
        }
    }

    /// <summary>
    /// Before a JoinGroup (under the lock): an empty consumer group becomes a classic group (its records
    /// are deleted); INCONSISTENT_GROUP_PROTOCOL when a consumer group with members holds the id, or the
    /// log's error when the tombstones cannot be written.
    /// </summary>
    private ErrorCode MaybeConvertConsumerGroupForJoin(string groupId)
    {
        if (!_consumerGroups.TryGetValue(groupId, out var group))
        {
            return ErrorCode.None;
        }

        if (!group.IsEmpty)
        {
            return ErrorCode.None; // served by ClassicJoinToConsumerGroup
        }

        var change = BeginConsumerGroupChange(groupId);
        DropConsumerGroup(groupId);
        if (CommitConsumerGroupChange(change) is { } failed)
        {
            return failed.Error;
        }

        _log.LogInformation("Converted empty consumer group {GroupId} to a classic group", groupId);
        return ErrorCode.None;
    }

    private void DisposeConsumerGroups()
    {
        foreach (var group in _consumerGroups.Values)
        {
            foreach (var member in group.Members.Values)
            {
                member.DisposeTimers();
            }
        }

        _consumerGroups.Clear();
    }

    private sealed class ConsumerGroupException(ErrorCode error, string message) : Exception(message)
    {
        public ErrorCode Error { get; } = error;
    }
}
