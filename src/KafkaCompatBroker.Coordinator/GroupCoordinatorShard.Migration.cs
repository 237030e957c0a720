using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>group.consumer.migration.policy: which online conversions between classic and consumer groups are allowed.</summary>
public enum ConsumerGroupMigrationPolicy
{
    Disabled,
    Upgrade,
    Downgrade,
    Bidirectional,
}

public sealed partial record GroupCoordinatorConfig
{
    /// <summary>group.consumer.migration.policy (Kafka's default: bidirectional).</summary>
    public ConsumerGroupMigrationPolicy ConsumerMigrationPolicy { get; init; } = ConsumerGroupMigrationPolicy.Bidirectional;
}

/// <summary>
/// KIP-848 online migration, as Kafka's GroupMetadataManager does it. A classic group with members becomes a
/// consumer group when a ConsumerGroupHeartbeat joins it (<see cref="ConvertToConsumerGroup"/>, Kafka's
/// ConsumerGroup.fromClassicGroup: the generation becomes the group and member epochs, the members' assignments
/// their current and target assignments); its classic members are then served through the consumer group state
/// machine: JoinGroup updates the member and answers at once with its epoch as the generation, SyncGroup returns its
/// assignment, Heartbeat answers REBALANCE_IN_PROGRESS while it has to rejoin, LeaveGroup removes it. When the last
/// member using the consumer protocol leaves, the group becomes a classic group again (<see cref="ConvertToClassicGroup"/>,
/// Kafka's ClassicGroup.fromConsumerGroup) and rebalances. Each conversion is written as the old type's tombstones
/// and the new type's records in one batch.
/// </summary>
public sealed partial class GroupCoordinatorShard
{
    private bool ValidateOnlineUpgrade(ClassicGroup classic)
    {
        if (_config.ConsumerMigrationPolicy is not (ConsumerGroupMigrationPolicy.Upgrade or ConsumerGroupMigrationPolicy.Bidirectional))
        {
            _log.LogInformation("Cannot upgrade classic group {GroupId} to consumer group because the online upgrade is disabled", classic.GroupId);
            return false;
        }

        if (classic.ProtocolType != ConsumerProtocolType)
        {
            _log.LogInformation("Cannot upgrade classic group {GroupId} to consumer group because it does not use the consumer embedded protocol", classic.GroupId);
            return false;
        }

        if (classic.Members.Count > _config.ConsumerMaxSize)
        {
            _log.LogInformation("Cannot upgrade classic group {GroupId} to consumer group because its size exceeds the consumer group maximum size", classic.GroupId);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Builds the consumer group of a classic group (the classic group itself is left as it is until the change
    /// commits). Throws GROUP_ID_NOT_FOUND when a member's embedded consumer protocol does not parse, as Kafka.
    /// </summary>
    private ConsumerGroup ConvertToConsumerGroup(ClassicGroup classic)
    {
        var group = new ConsumerGroup(classic.GroupId) { GroupEpoch = classic.GenerationId, AssignmentEpoch = classic.GenerationId };
        foreach (var source in classic.Members.Values)
        {
            var metadata = classic.ProtocolName is { } protocol ? source.MetadataFor(protocol) : source.Protocols.Count > 0 ? source.Protocols[0].Metadata : [];
            if (TryReadConsumerProtocol<ConsumerProtocolSubscription>(metadata, out var subscription, out _) is false
                || TryReadConsumerProtocol<ConsumerProtocolAssignment>(source.Assignment, out var assignment, out _, allowEmpty: true) is false)
            {
                throw new ConsumerGroupException(
                    ErrorCode.GroupIdNotFound, $"Cannot upgrade the classic group {classic.GroupId} to consumer group because the embedded consumer protocol is malformed.");
            }

            var assigned = new Dictionary<KafkaUuid, SortedSet<int>>();
            foreach (var topic in assignment?.AssignedPartitions ?? [])
            {
                if (TopicView.Topic(topic.Topic) is { } t && topic.Partitions.Count > 0)
                {
                    assigned.TryAdd(t.Id, []);
                    assigned[t.Id].UnionWith(topic.Partitions);
                }
            }

            var member = new ConsumerGroupMember(source.MemberId)
            {
                MemberEpoch = classic.GenerationId,
                PreviousMemberEpoch = classic.GenerationId,
                InstanceId = source.GroupInstanceId,
                RackId = subscription!.RackId,
                RebalanceTimeoutMs = source.RebalanceTimeoutMs,
                ClientId = source.ClientId,
                ClientHost = source.ClientHost,
                SubscribedTopicNames = [.. subscription.Topics.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)],
                Classic = new ClassicMemberMetadata(source.SessionTimeoutMs, source.Protocols),
            };
            member.SetAssignedPartitions(assigned);
            group.AddMember(member);
            group.TargetAssignment[member.MemberId] = PartitionMap.Copy(assigned);
        }

        group.MetadataHash = ComputeMetadataHash(group);
        return group;
    }

    /// <summary>The classic group gave way to a consumer group: its waiting requests learn of the new rebalance, its timers stop.</summary>
    private static void RetireClassicGroup(ClassicGroup classic)
    {
        classic.JoinTimer?.Dispose();
        classic.SyncTimer?.Dispose();
        foreach (var timer in classic.PendingMembers.Values)
        {
            timer.Dispose();
        }

        foreach (var member in classic.Members.Values)
        {
            member.SessionTimer?.Dispose();
            member.SessionTimer = null;
            member.AwaitingJoin?.TrySetResult(new JoinGroupResult(ErrorCode.RebalanceInProgress, member.MemberId));
            member.AwaitingJoin = null;
            member.AwaitingSync?.TrySetResult(new SyncGroupResult(ErrorCode.RebalanceInProgress, []));
            member.AwaitingSync = null;
        }
    }

    /// <summary>A classic group put back after a failed conversion: its members' sessions start again.</summary>
    private void RestoreClassicGroup(ClassicGroup classic)
    {
        foreach (var member in classic.Members.Values)
        {
            ResetSession(classic, member);
        }

        if (classic.State is ClassicGroupState.PreparingRebalance or ClassicGroupState.CompletingRebalance)
        {
            PrepareRebalance(classic, "restored after a failed conversion to a consumer group");
        }
    }

    /// <summary>
    /// Fences a leaving or expired member; when it is the last member using the consumer protocol and the policy
    /// allows a downgrade, the group becomes a classic group instead (Kafka's validateOnlineDowngradeWithFencedMember).
    /// </summary>
    private void FenceConsumerMemberOrDowngrade(ConsumerGroup group, ConsumerGroupMember member)
    {
        if (ValidateOnlineDowngrade(group, member.MemberId))
        {
            ConvertToClassicGroup(group, member.MemberId, rebalance: true);
            return;
        }

        FenceConsumerMember(group, member);
    }

    /// <param name="leavingMemberId">The member that leaves; null when a classic static member just replaced the last consumer-protocol one.</param>
    private bool ValidateOnlineDowngrade(ConsumerGroup group, string? leavingMemberId)
    {
        foreach (var other in group.Members.Values)
        {
            if (other.MemberId != leavingMemberId && !other.UsesClassicProtocol)
            {
                return false;
            }
        }

        if (leavingMemberId is not null && group.Members.Count <= 1)
        {
            return false;
        }

        if (_config.ConsumerMigrationPolicy is not (ConsumerGroupMigrationPolicy.Downgrade or ConsumerGroupMigrationPolicy.Bidirectional))
        {
            _log.LogInformation("Cannot downgrade consumer group {GroupId} to classic group because the online downgrade is disabled", group.GroupId);
            return false;
        }

        if (group.Members.Count - (leavingMemberId is null ? 0 : 1) > _config.MaxSize)
        {
            _log.LogInformation("Cannot downgrade consumer group {GroupId} to classic group because its size is greater than the classic group maximum size", group.GroupId);
            return false;
        }

        return true;
    }

    /// <summary>
    /// Replaces the consumer group by a Stable classic group of its classic members (generation = group epoch, each
    /// member's target assignment serialized in its subscription's version), which rebalances when a member left.
    /// </summary>
    private void ConvertToClassicGroup(ConsumerGroup group, string? leavingMemberId, bool rebalance)
    {
        var classic = new ClassicGroup(group.GroupId, _time) { GenerationId = group.GroupEpoch };
        foreach (var source in group.Members.Values)
        {
            if (source.MemberId == leavingMemberId || source.Classic is not { } metadata)
            {
                continue;
            }

            classic.Add(new ClassicGroupMember(source.MemberId, source.InstanceId)
            {
                ClientId = source.ClientId,
                ClientHost = source.ClientHost,
                SessionTimeoutMs = metadata.SessionTimeoutMs,
                RebalanceTimeoutMs = source.RebalanceTimeoutMs,
                ProtocolType = ConsumerProtocolType,
                Protocols = metadata.Protocols,
            });
        }

        classic.ProtocolName = classic.SelectProtocol();
        classic.SubscribedTopics = ComputeSubscribedTopics(classic);
        foreach (var member in classic.Members.Values)
        {
            TryReadConsumerProtocol<ConsumerProtocolSubscription>(member.MetadataFor(classic.ProtocolName), out _, out var version);
            member.Assignment = AssignmentBytes(group.TargetOf(member.MemberId), version);
        }

        classic.TransitionTo(ClassicGroupState.PreparingRebalance);
        classic.TransitionTo(ClassicGroupState.CompletingRebalance);
        classic.TransitionTo(ClassicGroupState.Stable);
        group.IsDead = true;
        DropConsumerGroup(group.GroupId);
        _groups[group.GroupId] = classic;
        _log.LogInformation("Converted consumer group {GroupId} to a classic group: its last member using the consumer protocol left", group.GroupId);
        foreach (var member in classic.Members.Values)
        {
            ResetSession(classic, member);
        }

        if (rebalance)
        {
            PrepareRebalance(classic, $"downgrade of group {group.GroupId} from consumer to classic");
        }
    }

    /// <summary>Reads an embedded consumer protocol message (int16 version, then the body); newer versions read as the newest we know.</summary>
    private static bool TryReadConsumerProtocol<T>(byte[] bytes, out T? message, out short version, bool allowEmpty = false)
        where T : IKafkaMessage, new()
    {
        message = default;
        version = 0;
        if (bytes.Length == 0 && allowEmpty)
        {
            return true;
        }

        if (bytes.Length < sizeof(short))
        {
            return false;
        }

        version = Math.Min((short)((bytes[0] << 8) | bytes[1]), ConsumerProtocolVersion);
        if (version < 0)
        {
            return false;
        }

        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, sizeof(short), bytes.Length - sizeof(short)));
        try
        {
            message = new T();
            message.Read(ref reader, version);
            return true;
        }
        catch (KafkaProtocolException)
        {
            return false;
        }
    }

    // ---------------------------------------------------------------- Classic members of a consumer group

    /// <summary>Kafka's classicGroupJoinToConsumerGroup: the member is updated and answered at once with its epoch as the generation.</summary>
    private JoinGroupResult ClassicJoinToConsumerGroup(ConsumerGroup group, JoinGroupParams request)
    {
        var isUnknownMember = request.MemberId.Length == 0;
        var memberId = isUnknownMember ? KafkaUuid.NewRandom().ToString() : request.MemberId;
        try
        {
            if (group.Members.Count >= _config.ConsumerMaxSize && !group.Members.ContainsKey(memberId))
            {
                throw new ConsumerGroupException(ErrorCode.GroupMaxSizeReached, $"The consumer group has reached its maximum capacity of {_config.ConsumerMaxSize} members.");
            }

            if (!SupportsClassicProtocols(group, request.ProtocolType, request.Protocols))
            {
                throw new ConsumerGroupException(ErrorCode.InconsistentGroupProtocol, $"Member {memberId}'s protocols are not supported.");
            }

            if (isUnknownMember && request.GroupInstanceId is null && request.RequireKnownMemberId)
            {
                return new JoinGroupResult(ErrorCode.MemberIdRequired, memberId);
            }

            if (!TryReadConsumerProtocol<ConsumerProtocolSubscription>(request.Protocols[0].Metadata, out var subscription, out _))
            {
                throw new ConsumerGroupException(ErrorCode.InconsistentGroupProtocol, $"Member {memberId}'s subscription is malformed.");
            }

            var change = BeginConsumerGroupChange(group.GroupId);
            var member = ClassicMemberOf(group, memberId, request.GroupInstanceId, isUnknownMember, out var isNew, out var replaced);
            if (replaced is not null)
            {
                var target = group.TargetOf(replaced.MemberId);
                group.RemoveMember(replaced);
                group.AddMember(member);
                group.TargetAssignment[member.MemberId] = target;
            }
            else if (isNew)
            {
                group.AddMember(member);
                _log.LogInformation("Member {MemberId} joins consumer group {GroupId} with the classic protocol", memberId, group.GroupId);
            }

            var topics = subscription!.Topics.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            var subscriptionChanged = isNew || !topics.SequenceEqual(member.SubscribedTopicNames, StringComparer.Ordinal);
            member.SubscribedTopicNames = topics;
            member.InstanceId = request.GroupInstanceId ?? member.InstanceId;
            member.RackId = subscription.RackId ?? member.RackId;
            member.RebalanceTimeoutMs = request.RebalanceTimeoutMs;
            member.ClientId = request.ClientId;
            member.ClientHost = request.ClientHost;
            member.Classic = new ClassicMemberMetadata(request.SessionTimeoutMs, request.Protocols);
            BumpGroupEpochIfChanged(group, subscriptionChanged);

            if (group.GroupEpoch > group.AssignmentEpoch)
            {
                ComputeTargetAssignment(group);
            }

            // The subscription's owned partitions are what the member still holds (none for an eager member that revoked all).
            MaybeReconcile(group, member, OwnedPartitions(subscription));
            member.ClassicTimer?.Dispose();
            member.ClassicTimer = null;
            if (replaced is { UsesClassicProtocol: false } && ValidateOnlineDowngrade(group, leavingMemberId: null))
            {
                // The last member using the consumer protocol was a static member now replaced by a classic one
                // (Kafka's validateOnlineDowngradeWithReplacedMemberId): the group becomes classic, without a rebalance.
                ConvertToClassicGroup(group, leavingMemberId: null, rebalance: false);
            }
            else
            {
                ScheduleConsumerSession(group, member);
                ScheduleClassicTimer(group, member, ClassicTimeoutKind.Sync);
            }

            if (CommitConsumerGroupChange(change) is { } failed)
            {
                return new JoinGroupResult(failed.Error, memberId);
            }

            return new JoinGroupResult(ErrorCode.None, member.MemberId, member.MemberEpoch, ConsumerProtocolType, member.Classic.Protocols[0].Name, "");
        }
        catch (ConsumerGroupException e)
        {
            return new JoinGroupResult(e.Error, memberId);
        }
    }

    /// <summary>Kafka's ConsumerGroup.supportsClassicProtocols: the consumer protocol type and a protocol every classic member supports.</summary>
    private static bool SupportsClassicProtocols(ConsumerGroup group, string protocolType, IReadOnlyList<GroupProtocol> protocols)
    {
        if (protocolType != ConsumerProtocolType || protocols.Count == 0)
        {
            return false;
        }

        foreach (var protocol in protocols)
        {
            var all = true;
            foreach (var member in group.Members.Values)
            {
                if (member.Classic is { } classic && !classic.Protocols.Any(p => p.Name == protocol.Name))
                {
                    all = false;
                    break;
                }
            }

            if (all)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The member a classic JoinGroup names (Kafka's getOrMaybeSubscribe{Dynamic,Static}ConsumerGroupMember); nothing changes yet.</summary>
    private static ConsumerGroupMember ClassicMemberOf(ConsumerGroup group, string memberId, string? instanceId, bool isUnknownMember, out bool isNew, out ConsumerGroupMember? replaced)
    {
        replaced = null;
        isNew = false;
        if (instanceId is null)
        {
            if (group.Members.TryGetValue(memberId, out var existing))
            {
                return existing.UsesClassicProtocol
                    ? existing
                    : throw new ConsumerGroupException(ErrorCode.UnknownMemberId, $"Member {memberId} does not use the classic protocol.");
            }

            // As Kafka, a member id the group does not know (e.g. handed out with MEMBER_ID_REQUIRED) joins as a new member.
            isNew = true;
            return new ConsumerGroupMember(memberId);
        }

        var existingStatic = group.StaticMember(instanceId);
        if (existingStatic is null)
        {
            isNew = true;
            return new ConsumerGroupMember(memberId) { InstanceId = instanceId };
        }

        if (isUnknownMember)
        {
            // A static member restarting under a new member id takes over the old one's assignment.
            replaced = existingStatic;
            var copy = CopyMember(existingStatic, memberId);
            copy.MemberEpoch = existingStatic.MemberEpoch;
            copy.PreviousMemberEpoch = existingStatic.PreviousMemberEpoch;
            return copy;
        }

        if (existingStatic.MemberId != memberId)
        {
            throw new ConsumerGroupException(ErrorCode.FencedInstanceId, $"Static member {memberId} with instance id {instanceId} was fenced by member {existingStatic.MemberId}.");
        }

        return existingStatic;
    }

    private List<OwnedTopicPartitions> OwnedPartitions(ConsumerProtocolSubscription subscription)
    {
        var owned = new List<OwnedTopicPartitions>();
        foreach (var topic in subscription.OwnedPartitions)
        {
            if (TopicView.Topic(topic.Topic) is { } t)
            {
                owned.Add(new OwnedTopicPartitions(t.Id, topic.Partitions));
            }
        }

        return owned;
    }

    /// <summary>Kafka's classicGroupSyncToConsumerGroup: the member's current assignment, once it has caught up with the group epoch.</summary>
    private SyncGroupResult ClassicSyncToConsumerGroup(ConsumerGroup group, int generationId, string memberId, string? instanceId, string? protocolType, string? protocolName)
    {
        try
        {
            var member = ClassicMemberForRequest(group, memberId, instanceId, generationId);
            if ((protocolType is not null && protocolType != ConsumerProtocolType) || (protocolName is not null && protocolName != member.Classic!.Protocols[0].Name))
            {
                return new SyncGroupResult(ErrorCode.InconsistentGroupProtocol, []);
            }

            if (group.GroupEpoch > member.MemberEpoch && member.State != ConsumerMemberState.UnrevokedPartitions)
            {
                ScheduleClassicTimer(group, member, ClassicTimeoutKind.Join);
                return new SyncGroupResult(ErrorCode.RebalanceInProgress, []);
            }

            member.ClassicTimer?.Dispose();
            member.ClassicTimer = null;
            ScheduleConsumerSession(group, member);
            return new SyncGroupResult(ErrorCode.None, AssignmentBytes(member.AssignedPartitions, ConsumerProtocolVersion), protocolType, protocolName);
        }
        catch (ConsumerGroupException e)
        {
            return new SyncGroupResult(e.Error, []);
        }
    }

    /// <summary>
    /// Kafka's classicGroupHeartbeatToConsumerGroup: REBALANCE_IN_PROGRESS while the member is behind the group epoch,
    /// must revoke partitions, or waits for partitions that are now free (then it must rejoin within its rebalance timeout).
    /// </summary>
    private ErrorCode ClassicHeartbeatToConsumerGroup(ConsumerGroup group, int generationId, string memberId, string? instanceId)
    {
        try
        {
            var member = ClassicMemberForRequest(group, memberId, instanceId, generationId);
            ScheduleConsumerSession(group, member);
            if (member.MemberEpoch < group.GroupEpoch
                || member.State == ConsumerMemberState.UnrevokedPartitions
                || (member.State == ConsumerMemberState.UnreleasedPartitions && !WaitsOnUnreleasedPartition(group, member)))
            {
                ScheduleClassicTimer(group, member, ClassicTimeoutKind.Join);
                return ErrorCode.RebalanceInProgress;
            }

            return ErrorCode.None;
        }
        catch (ConsumerGroupException e)
        {
            return e.Error;
        }
    }

    /// <summary>Kafka's classicGroupLeaveToConsumerGroup: every named classic member is removed; the group epoch moves on.</summary>
    private LeaveGroupResult ClassicLeaveToConsumerGroup(ConsumerGroup group, IReadOnlyList<LeavingMember> members)
    {
        var change = BeginConsumerGroupChange(group.GroupId);
        var results = new List<(LeavingMember, ErrorCode)>(members.Count);
        foreach (var leaving in members)
        {
            try
            {
                var member = ClassicMemberForRequest(group, leaving.MemberId, leaving.GroupInstanceId, generationId: null);
                _log.LogInformation("Member {MemberId} left consumer group {GroupId} (classic protocol)", member.MemberId, group.GroupId);
                FenceConsumerMember(group, member);
                results.Add((leaving, ErrorCode.None));
            }
            catch (ConsumerGroupException e)
            {
                results.Add((leaving, e.Error));
            }
        }

        return CommitConsumerGroupChange(change) is { } failed ? new LeaveGroupResult(failed.Error, []) : new LeaveGroupResult(ErrorCode.None, results);
    }

    /// <summary>The classic member a SyncGroup/Heartbeat/LeaveGroup names, checked as Kafka's validateConsumerGroupMember does.</summary>
    private static ConsumerGroupMember ClassicMemberForRequest(ConsumerGroup group, string memberId, string? instanceId, int? generationId)
    {
        ConsumerGroupMember member;
        if (instanceId is null)
        {
            member = group.Members.GetValueOrDefault(memberId)
                ?? throw new ConsumerGroupException(ErrorCode.UnknownMemberId, $"Member {memberId} is not a member of group {group.GroupId}.");
        }
        else
        {
            member = group.StaticMember(instanceId)
                ?? throw new ConsumerGroupException(ErrorCode.UnknownMemberId, $"Member with instance id {instanceId} is not a member of group {group.GroupId}.");
            if (memberId.Length > 0 && member.MemberId != memberId)
            {
                throw new ConsumerGroupException(ErrorCode.FencedInstanceId, $"Static member {memberId} with instance id {instanceId} was fenced by member {member.MemberId}.");
            }
        }

        if (!member.UsesClassicProtocol)
        {
            throw new ConsumerGroupException(ErrorCode.UnknownMemberId, $"Member {member.MemberId} does not use the classic protocol.");
        }

        if (generationId is { } generation && generation != member.MemberEpoch)
        {
            throw new ConsumerGroupException(ErrorCode.IllegalGeneration, $"The request generation id {generation} is not equal to the member epoch {member.MemberEpoch}.");
        }

        return member;
    }

    /// <summary>Kafka's waitingOnUnreleasedPartition: a partition of the member's target is still owned by another member.</summary>
    private static bool WaitsOnUnreleasedPartition(ConsumerGroup group, ConsumerGroupMember member)
    {
        foreach (var (topic, partitions) in group.TargetOf(member.MemberId))
        {
            foreach (var partition in partitions)
            {
                if (!PartitionMap.Contains(member.AssignedPartitions, topic, partition)
                    && group.PartitionEpochs.TryGetValue((topic, partition), out var owner) && owner.MemberId != member.MemberId)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private enum ClassicTimeoutKind
    {
        Join,
        Sync,
    }

    /// <summary>
    /// A classic member must send SyncGroup after its JoinGroup (Sync), or JoinGroup after being told to rejoin (Join),
    /// within its rebalance timeout, else it is fenced (Kafka's consumer group sync and join timeouts). A pending join
    /// timeout is not pushed back by later heartbeats.
    /// </summary>
    private void ScheduleClassicTimer(ConsumerGroup group, ConsumerGroupMember member, ClassicTimeoutKind kind)
    {
        if (kind == ClassicTimeoutKind.Join && member.ClassicTimer is not null)
        {
            return;
        }

        member.ClassicTimer?.Dispose();
        var timeout = new ClassicMemberTimeout(this, group, member, kind);
        member.ClassicTimer = timeout.Timer = _time.CreateTimer(
            static s => ((ClassicMemberTimeout)s!).Fire(), timeout, TimeSpan.FromMilliseconds(Math.Max(member.RebalanceTimeoutMs, 0)), Timeout.InfiniteTimeSpan);
    }

    private sealed class ClassicMemberTimeout(GroupCoordinatorShard coordinator, ConsumerGroup group, ConsumerGroupMember member, ClassicTimeoutKind kind)
    {
        /// <summary>This timeout's timer: a callback that ran late, after the member's timer was replaced or cleared, does nothing.</summary>
        public ITimer? Timer { get; set; }

        public void Fire()
        {
            lock (coordinator._lock)
            {
                if (coordinator.IsCurrent(group, member) && member.ClassicTimer == Timer)
                {
                    coordinator._log.LogInformation(
                        "Member {MemberId} of consumer group {GroupId} did not send {Request} within its rebalance timeout ({RebalanceTimeoutMs} ms): fencing it",
                        member.MemberId,
                        group.GroupId,
                        kind == ClassicTimeoutKind.Join ? "JoinGroup" : "SyncGroup",
                        member.RebalanceTimeoutMs);
                    coordinator.FenceConsumerMemberAndStore(group, member);
                }
            }
        }
    }
}
