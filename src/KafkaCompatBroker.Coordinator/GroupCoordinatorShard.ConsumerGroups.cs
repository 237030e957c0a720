using System.Text;
using System.Text.RegularExpressions;
using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>A topic as the group coordinator needs it: name, id and partition count.</summary>
public readonly record struct GroupTopic(string Name, KafkaUuid Id, int Partitions);

/// <summary>The cluster's current topics, for consumer group assignments (implemented over the metadata image).</summary>
public interface IGroupTopicView
{
    GroupTopic? Topic(string name);

    GroupTopic? Topic(KafkaUuid id);

    /// <summary>Every topic, for regular expression subscriptions.</summary>
    IEnumerable<GroupTopic> AllTopics();
}

/// <summary>No topics (until the broker wires its metadata in).</summary>
public sealed class EmptyGroupTopicView : IGroupTopicView
{
    public static readonly EmptyGroupTopicView Instance = new();

    public GroupTopic? Topic(string name) => null;

    public GroupTopic? Topic(KafkaUuid id) => null;

    public IEnumerable<GroupTopic> AllTopics() => [];
}

/// <summary>The KIP-848 consumer group broker configs (Kafka's names and defaults).</summary>
public sealed partial record GroupCoordinatorConfig
{
    /// <summary>group.consumer.session.timeout.ms</summary>
    public int ConsumerSessionTimeoutMs { get; init; } = 45000;

    /// <summary>group.consumer.heartbeat.interval.ms</summary>
    public int ConsumerHeartbeatIntervalMs { get; init; } = 5000;

    /// <summary>group.consumer.max.size</summary>
    public int ConsumerMaxSize { get; init; } = int.MaxValue;

    /// <summary>group.consumer.assignors: the server assignors offered; the first is the default.</summary>
    public IReadOnlyList<string> ConsumerAssignors { get; init; } = ["uniform", "range"];
}

/// <summary>Partitions of one topic, by topic id (as ConsumerGroupHeartbeat carries them).</summary>
public sealed record OwnedTopicPartitions(KafkaUuid TopicId, IReadOnlyList<int> Partitions);

/// <summary>A ConsumerGroupHeartbeat request, independent of its version.</summary>
public sealed record ConsumerGroupHeartbeatParams
{
    public required string GroupId { get; init; }

    public string MemberId { get; init; } = "";

    public int MemberEpoch { get; init; }

    public string? InstanceId { get; init; }

    public string? RackId { get; init; }

    public int RebalanceTimeoutMs { get; init; } = -1;

    public IReadOnlyList<string>? SubscribedTopicNames { get; init; }

    public string? SubscribedTopicRegex { get; init; }

    public string? ServerAssignor { get; init; }

    public IReadOnlyList<OwnedTopicPartitions>? TopicPartitions { get; init; }

    public string ClientId { get; init; } = "";

    public string ClientHost { get; init; } = "";

    public short ApiVersion { get; init; } = 1;
}

public sealed record ConsumerGroupHeartbeatResult(
    ErrorCode Error,
    string? ErrorMessage,
    string? MemberId = null,
    int MemberEpoch = 0,
    int HeartbeatIntervalMs = 0,
    IReadOnlyDictionary<KafkaUuid, SortedSet<int>>? Assignment = null);

public sealed record ConsumerGroupMemberDescription(
    string MemberId,
    string? InstanceId,
    string? RackId,
    int MemberEpoch,
    string ClientId,
    string ClientHost,
    IReadOnlyList<string> SubscribedTopicNames,
    string? SubscribedTopicRegex,
    IReadOnlyDictionary<KafkaUuid, SortedSet<int>> Assignment,
    IReadOnlyDictionary<KafkaUuid, SortedSet<int>> TargetAssignment);

public sealed record ConsumerGroupDescription(
    string GroupId,
    ErrorCode Error,
    string? ErrorMessage,
    string State = "",
    int GroupEpoch = 0,
    int AssignmentEpoch = 0,
    string AssignorName = "",
    IReadOnlyList<ConsumerGroupMemberDescription>? Members = null);

/// <summary>
/// KIP-848 consumer groups (ConsumerGroupHeartbeat), as Kafka's GroupMetadataManager runs them: each
/// heartbeat creates or updates the member (bumping the group epoch when the subscriptions or the
/// subscribed topics change), recomputes the target assignment when the group epoch is ahead of the
/// assignment epoch, and reconciles the member towards it (CurrentAssignmentBuilder): partitions are
/// revoked before the next epoch, and a partition goes to its new owner only once the previous owner
/// has released it. Session and rebalance timeouts fence members. Group ids share one namespace with
/// the classic groups; an empty group of one type converts to the other.
/// </summary>
public sealed partial class GroupCoordinatorShard
{
    private const int LeaveGroupMemberEpoch = -1;
    private const int LeaveGroupStaticMemberEpoch = -2;
    private static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);

    private readonly Dictionary<string, ConsumerGroup> _consumerGroups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Regex> _regexes = new(StringComparer.Ordinal);

    private IGroupTopicView TopicView => _owner.TopicView;

    /// <summary>The state of a consumer group, or null when there is none with that id.</summary>
    public ConsumerGroupState? ConsumerGroupStateOf(string groupId)
    {
        lock (_lock)
        {
            return _consumerGroups.TryGetValue(groupId, out var group) ? group.State : null;
        }
    }

    /// <summary>Every consumer group and its state (ListGroups).</summary>
    public IReadOnlyList<(string GroupId, ConsumerGroupState State)> ListConsumerGroups()
    {
        lock (_lock)
        {
            return [.. _consumerGroups.Values.Select(g => (g.GroupId, g.State))];
        }
    }

    // ---------------------------------------------------------------- ConsumerGroupHeartbeat

    public ConsumerGroupHeartbeatResult ConsumerGroupHeartbeat(ConsumerGroupHeartbeatParams request)
    {
        lock (_lock)
        {
            try
            {
                ThrowIfHeartbeatInvalid(request);
                var change = BeginConsumerGroupChange(request.GroupId);
                var result = request.MemberEpoch is LeaveGroupMemberEpoch or LeaveGroupStaticMemberEpoch ? ConsumerGroupLeave(request) : ConsumerGroupJoinOrHeartbeat(request);

                // The records are in the log before the member hears of its new epoch or assignment.
                return CommitConsumerGroupChange(change) is { } failed ? new ConsumerGroupHeartbeatResult(failed.Error, failed.Message) : result;
            }
            catch (ConsumerGroupException e)
            {
                return new ConsumerGroupHeartbeatResult(e.Error, e.Message);
            }
        }
    }

    private void ThrowIfHeartbeatInvalid(ConsumerGroupHeartbeatParams request)
    {
        // v1+: the client generates its member id; before, only joins may omit it.
        if (request.ApiVersion >= 1 || request.MemberEpoch > 0 || request.MemberEpoch == LeaveGroupMemberEpoch)
        {
            ThrowIfEmptyString(request.MemberId, "MemberId can't be empty.");
        }

        ThrowIfEmptyString(request.GroupId, "GroupId can't be empty.");
        ThrowIfEmptyString(request.InstanceId, "InstanceId can't be empty.");
        ThrowIfEmptyString(request.RackId, "RackId can't be empty.");
        if (request.MemberEpoch == 0)
        {
            if (request.RebalanceTimeoutMs == -1)
            {
                throw new ConsumerGroupException(ErrorCode.InvalidRequest, "RebalanceTimeoutMs must be provided in first request.");
            }

            if (request.TopicPartitions is not { Count: 0 })
            {
                throw new ConsumerGroupException(ErrorCode.InvalidRequest, "TopicPartitions must be empty when (re-)joining.");
            }

            var hasNames = request.SubscribedTopicNames is { Count: > 0 };
            var hasRegex = !string.IsNullOrEmpty(request.SubscribedTopicRegex);
            if (!hasNames && !hasRegex)
            {
                throw new ConsumerGroupException(ErrorCode.InvalidRequest, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.");
            }
        }
        else if (request.MemberEpoch == LeaveGroupStaticMemberEpoch)
        {
            if (request.InstanceId is null)
            {
                throw new ConsumerGroupException(ErrorCode.InvalidRequest, "InstanceId can't be null.");
            }
        }
        else if (request.MemberEpoch < LeaveGroupStaticMemberEpoch)
        {
            throw new ConsumerGroupException(ErrorCode.InvalidRequest, "MemberEpoch is invalid.");
        }

        if (request.ServerAssignor is { } assignor && !_config.ConsumerAssignors.Any(a => ConsumerGroupAssignors.ByName(a)?.Name == assignor))
        {
            throw new ConsumerGroupException(
                ErrorCode.UnsupportedAssignor,
                $"ServerAssignor {assignor} is not supported. Supported assignors: {string.Join(", ", _config.ConsumerAssignors.Select(a => ConsumerGroupAssignors.ByName(a)?.Name ?? a))}.");
        }

        if (!string.IsNullOrEmpty(request.SubscribedTopicRegex))
        {
            CompiledRegex(request.SubscribedTopicRegex);
        }
    }

    /// <summary>Kafka's throwIfEmptyString: a set value that is blank after Java's trim.</summary>
    private static void ThrowIfEmptyString(string? value, string message)
    {
        if (value is not null && value.AsSpan().Trim("\0\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e\u000f\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f ").IsEmpty)
        {
            throw new ConsumerGroupException(ErrorCode.InvalidRequest, message);
        }
    }

    private Regex CompiledRegex(string pattern)
    {
        if (_regexes.TryGetValue(pattern, out var regex))
        {
            return regex;
        }

        try
        {
            // Kafka matches the whole topic name with RE2J (matches()): linear time, no backreferences or
            // lookarounds. NonBacktracking is the same kind of engine, so a pattern from the wire cannot make
            // matching every topic name backtrack exponentially under the coordinator's lock; the constructs
            // RE2J lacks are refused when it is built (NotSupportedException).
            regex = new Regex($@"\A(?:{pattern})\z", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, RegexTimeout);
            _ = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, RegexTimeout); // a pattern that only parses when wrapped is still invalid
        }
        catch (ArgumentException e)
        {
            var description = e is RegexParseException p ? p.Error.ToString() : e.Message;
            throw new ConsumerGroupException(ErrorCode.InvalidRegularExpression, $"SubscribedTopicRegex `{pattern}` is not a valid regular expression: {description}.");
        }
        catch (NotSupportedException e)
        {
            throw new ConsumerGroupException(ErrorCode.InvalidRegularExpression, $"SubscribedTopicRegex `{pattern}` is not a valid regular expression: {e.Message}");
        }

        if (_regexes.Count > 10_000)
        {
            _regexes.Clear();
        }

        _regexes[pattern] = regex;
        return regex;
    }

    private ConsumerGroupHeartbeatResult ConsumerGroupJoinOrHeartbeat(ConsumerGroupHeartbeatParams request)
    {
        var groupId = request.GroupId;
        var memberEpoch = request.MemberEpoch;
        var createIfNotExists = memberEpoch == 0;
        var group = GetOrMaybeCreateConsumerGroup(groupId, createIfNotExists, out var classicToDelete);
        var memberId = request.MemberId.Length == 0 ? KafkaUuid.NewRandom().ToString() : request.MemberId;
        if (group.Members.Count >= _config.ConsumerMaxSize && (request.MemberId.Length == 0 || !group.Members.ContainsKey(memberId)))
        {
            throw new ConsumerGroupException(ErrorCode.GroupMaxSizeReached, $"The consumer group has reached its maximum capacity of {_config.ConsumerMaxSize} members.");
        }

        // Find (or create) the member; nothing changes before every check has passed.
        ConsumerGroupMember member;
        ConsumerGroupMember? replaced = null;
        var isNew = false;
        if (request.InstanceId is null)
        {
            if (group.Members.TryGetValue(memberId, out var existing))
            {
                member = existing;
                ThrowIfMemberEpochInvalid(member, memberEpoch, request.TopicPartitions);
            }
            else if (!createIfNotExists)
            {
                throw new ConsumerGroupException(ErrorCode.UnknownMemberId, $"Member {memberId} is not a member of group {groupId}.");
            }
            else
            {
                member = new ConsumerGroupMember(memberId);
                isNew = true;
            }
        }
        else
        {
            var existingStatic = group.StaticMember(request.InstanceId);
            if (createIfNotExists)
            {
                if (existingStatic is null)
                {
                    isNew = !group.Members.TryGetValue(memberId, out var existing);
                    member = existing ?? new ConsumerGroupMember(memberId);
                }
                else
                {
                    if (existingStatic.MemberEpoch != LeaveGroupStaticMemberEpoch)
                    {
                        throw new ConsumerGroupException(
                            ErrorCode.UnreleasedInstanceId,
                            $"Static member {memberId} with instance id {request.InstanceId} cannot join the group because the instance id is owned by {existingStatic.MemberId} member.");
                    }

                    // The static member comes back: a copy under its new member id keeps its assignment.
                    replaced = existingStatic;
                    member = CopyMember(existingStatic, memberId);
                }
            }
            else
            {
                if (existingStatic is null)
                {
                    throw new ConsumerGroupException(ErrorCode.UnknownMemberId, $"Instance id {request.InstanceId} is unknown.");
                }

                if (existingStatic.MemberId != memberId)
                {
                    throw new ConsumerGroupException(
                        ErrorCode.FencedInstanceId,
                        $"Static member {memberId} with instance id {request.InstanceId} was fenced by member {existingStatic.MemberId}.");
                }

                ThrowIfMemberEpochInvalid(existingStatic, memberEpoch, request.TopicPartitions);
                member = existingStatic;
            }
        }

        // Every check passed: the group and the member are now committed.
        if (!_consumerGroups.ContainsKey(groupId))
        {
            if (classicToDelete)
            {
                RetireClassicGroup(_groups[groupId]);
                _groups.Remove(groupId);
                foreach (var converted in group.Members.Values)
                {
                    ScheduleConsumerSession(group, converted);
                }

                _log.LogInformation("Converted classic group {GroupId} to a consumer group", groupId);
            }

            _consumerGroups.Add(groupId, group);
        }

        if (replaced is not null)
        {
            var target = group.TargetOf(replaced.MemberId);
            group.RemoveMember(replaced);
            group.AddMember(member);
            group.TargetAssignment[member.MemberId] = target;
            _log.LogInformation("Static member with instance id {InstanceId} re-joins consumer group {GroupId} as member {MemberId}, replacing {OldMemberId}", request.InstanceId, groupId, memberId, replaced.MemberId);
        }
        else if (isNew)
        {
            group.AddMember(member);
            _log.LogInformation("Member {MemberId} joins consumer group {GroupId}", memberId, groupId);
        }

        // 1. Update the member; a changed subscription (or new member) bumps the group epoch.
        var subscriptionChanged = isNew;
        if (request.InstanceId is not null && member.InstanceId != request.InstanceId)
        {
            member.InstanceId = request.InstanceId;
            group.StaticMembers[request.InstanceId] = member.MemberId;
        }

        member.RackId = request.RackId ?? member.RackId;
        member.RebalanceTimeoutMs = request.RebalanceTimeoutMs != -1 ? request.RebalanceTimeoutMs : member.RebalanceTimeoutMs;
        member.ServerAssignor = request.ServerAssignor ?? member.ServerAssignor;
        member.ClientId = request.ClientId;
        member.ClientHost = request.ClientHost;
        if (request.SubscribedTopicNames is { } names)
        {
            var sorted = names.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
            subscriptionChanged |= !sorted.SequenceEqual(member.SubscribedTopicNames, StringComparer.Ordinal);
            member.SubscribedTopicNames = sorted;
        }

        if (request.SubscribedTopicRegex is { } regex && regex != (member.SubscribedTopicRegex ?? ""))
        {
            subscriptionChanged = true;
            member.SubscribedTopicRegex = regex.Length == 0 ? null : regex;
        }

        BumpGroupEpochIfChanged(group, subscriptionChanged);

        // 2. A newer group epoch needs a new target assignment.
        if (group.GroupEpoch > group.AssignmentEpoch)
        {
            ComputeTargetAssignment(group);
        }

        // 3. Reconcile the member towards its target.
        var previouslyAssigned = PartitionMap.Copy(member.AssignedPartitions);
        MaybeReconcile(group, member, request.TopicPartitions);
        ScheduleConsumerSession(group, member);

        // The assignment is sent on a full request (joining, or every field set) or when it changed.
        var isFullRequest = memberEpoch == 0 || (request.RebalanceTimeoutMs != -1 && request.SubscribedTopicNames is not null && request.TopicPartitions is not null);
        var assignment = isFullRequest || !PartitionMap.SetEquals(previouslyAssigned, member.AssignedPartitions) ? PartitionMap.Copy(member.AssignedPartitions) : null;
        return new ConsumerGroupHeartbeatResult(ErrorCode.None, null, member.MemberId, member.MemberEpoch, ConsumerHeartbeatIntervalMs(group.GroupId), assignment);
    }

    private ConsumerGroup GetOrMaybeCreateConsumerGroup(string groupId, bool createIfNotExists, out bool classicToDelete)
    {
        classicToDelete = false;
        if (_consumerGroups.TryGetValue(groupId, out var group))
        {
            return group;
        }

        if (_groups.TryGetValue(groupId, out var classic))
        {
            // An empty classic group (offsets only) becomes a consumer group; a live one is upgraded when the policy allows it.
            if (createIfNotExists && classic.State == ClassicGroupState.Empty)
            {
                classicToDelete = true;
                return new ConsumerGroup(groupId);
            }

            if (createIfNotExists && ValidateOnlineUpgrade(classic))
            {
                classicToDelete = true;
                return ConvertToConsumerGroup(classic);
            }

            throw new ConsumerGroupException(ErrorCode.GroupIdNotFound, $"Group {groupId} is not a consumer group.");
        }

        if (!createIfNotExists)
        {
            throw new ConsumerGroupException(ErrorCode.GroupIdNotFound, $"Consumer group {groupId} not found.");
        }

        return new ConsumerGroup(groupId);
    }

    private static void ThrowIfMemberEpochInvalid(ConsumerGroupMember member, int receivedEpoch, IReadOnlyList<OwnedTopicPartitions>? owned)
    {
        if (receivedEpoch > member.MemberEpoch)
        {
            throw new ConsumerGroupException(
                ErrorCode.FencedMemberEpoch,
                $"The consumer group member has a greater member epoch ({receivedEpoch}) than the one known by the group coordinator ({member.MemberEpoch}). The member must abandon all its partitions and rejoin.");
        }

        // The previous epoch with a subset of the assignment is accepted: the response with the new epoch may have been lost.
        if (receivedEpoch < member.MemberEpoch && (receivedEpoch != member.PreviousMemberEpoch || !IsSubset(owned, member.AssignedPartitions)))
        {
            throw new ConsumerGroupException(
                ErrorCode.FencedMemberEpoch,
                $"The consumer group member has a smaller member epoch ({receivedEpoch}) than the one known by the group coordinator ({member.MemberEpoch}). The member must abandon all its partitions and rejoin.");
        }
    }

    private static bool IsSubset(IReadOnlyList<OwnedTopicPartitions>? owned, Dictionary<KafkaUuid, SortedSet<int>> target)
    {
        if (owned is null)
        {
            return false;
        }

        foreach (var topic in owned)
        {
            if (!target.TryGetValue(topic.TopicId, out var partitions))
            {
                return false;
            }

            foreach (var p in topic.Partitions)
            {
                if (!partitions.Contains(p))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static ConsumerGroupMember CopyMember(ConsumerGroupMember source, string memberId) => new(memberId)
    {
        MemberEpoch = 0,
        PreviousMemberEpoch = 0,
        State = source.State,
        InstanceId = source.InstanceId,
        RackId = source.RackId,
        RebalanceTimeoutMs = source.RebalanceTimeoutMs,
        ClientId = source.ClientId,
        ClientHost = source.ClientHost,
        SubscribedTopicNames = source.SubscribedTopicNames,
        SubscribedTopicRegex = source.SubscribedTopicRegex,
        ServerAssignor = source.ServerAssignor,
        Classic = source.Classic,
        AssignedPartitions = PartitionMap.Copy(source.AssignedPartitions),
        PartitionsPendingRevocation = [],
    };

    /// <summary>The topics a member subscribes to that exist now: its names plus what its regex matches.</summary>
    private List<GroupTopic> SubscribedTopics(ConsumerGroupMember member)
    {
        var topics = new List<GroupTopic>();
        foreach (var name in member.SubscribedTopicNames)
        {
            if (TopicView.Topic(name) is { } topic)
            {
                topics.Add(topic);
            }
        }

        if (member.SubscribedTopicRegex is { } pattern)
        {
            var regex = CompiledRegex(pattern);
            foreach (var topic in TopicView.AllTopics())
            {
                if (!topics.Contains(topic) && Matches(regex, topic.Name))
                {
                    topics.Add(topic);
                }
            }
        }

        return topics;
    }

    private static bool Matches(Regex regex, string name)
    {
        try
        {
            return regex.IsMatch(name);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary>A hash of the ids and partition counts of every topic the group subscribes to (0: none): a change bumps the group epoch.</summary>
    private long ComputeMetadataHash(ConsumerGroup group)
    {
        var topics = new SortedDictionary<string, GroupTopic>(StringComparer.Ordinal);
        foreach (var member in group.Members.Values)
        {
            foreach (var topic in SubscribedTopics(member))
            {
                topics[topic.Name] = topic;
            }
        }

        var text = new StringBuilder();
        foreach (var topic in topics.Values)
        {
            text.Append(topic.Name).Append(':').Append(topic.Id).Append(':').Append(topic.Partitions).Append(';');
        }

        // FNV-1a: stable across restarts (it is stored in the group epoch record).
        var hash = text.Length == 0 ? 0 : unchecked((long)14695981039346656037UL);
        foreach (var b in Encoding.UTF8.GetBytes(text.ToString()))
        {
            hash = unchecked((hash ^ b) * 1099511628211L);
        }

        return hash;
    }

    private void ComputeTargetAssignment(ConsumerGroup group)
    {
        var topics = new SortedDictionary<string, AssignmentTopic>(StringComparer.Ordinal);
        var members = new List<AssignmentMember>(group.Members.Count);
        foreach (var member in group.Members.Values)
        {
            var ids = new HashSet<KafkaUuid>();
            foreach (var topic in SubscribedTopics(member))
            {
                ids.Add(topic.Id);
                topics[topic.Name] = new AssignmentTopic(topic.Id, topic.Name, topic.Partitions);
            }

            members.Add(new AssignmentMember(member.MemberId, member.InstanceId, member.RackId, ids, group.TargetOf(member.MemberId)));
        }

        var defaultAssignor = ConsumerGroupAssignors.ByName(_config.ConsumerAssignors[0])?.Name ?? "uniform";
        var assignor = ConsumerGroupAssignors.ByName(group.PreferredAssignor(defaultAssignor)) ?? UniformAssignor.Instance;
        var result = assignor.Assign(members, [.. topics.Values]);
        group.TargetAssignment.Clear();
        foreach (var (memberId, assignment) in result)
        {
            group.TargetAssignment[memberId] = assignment;
        }

        group.AssignmentEpoch = group.GroupEpoch;
        _log.LogInformation("Computed target assignment of consumer group {GroupId} for epoch {Epoch} with the {Assignor} assignor", group.GroupId, group.AssignmentEpoch, assignor.Name);
    }

    // ---------------------------------------------------------------- Reconciliation (Kafka's CurrentAssignmentBuilder)

    private void MaybeReconcile(ConsumerGroup group, ConsumerGroupMember member, IReadOnlyList<OwnedTopicPartitions>? owned)
    {
        if (member.IsReconciledTo(group.AssignmentEpoch) || member.MemberEpoch == LeaveGroupStaticMemberEpoch)
        {
            return;
        }

        var before = (member.MemberEpoch, member.State, PartitionMap.Count(member.AssignedPartitions), PartitionMap.Count(member.PartitionsPendingRevocation));
        var assignedBefore = PartitionMap.Copy(member.AssignedPartitions);
        group.RemovePartitionEpochs(member);
        switch (member.State)
        {
            case ConsumerMemberState.Stable:
                ComputeNextAssignment(group, member, owned);
                break;
            case ConsumerMemberState.UnrevokedPartitions:
                // Progress only once the member no longer reports the partitions it must revoke.
                if (!OwnsRevokedPartitions(owned, member.PartitionsPendingRevocation))
                {
                    ComputeNextAssignment(group, member, owned);
                }

                break;
            case ConsumerMemberState.UnreleasedPartitions:
                ComputeNextAssignment(group, member, owned);
                break;
        }

        group.AddPartitionEpochs(member);
        var after = (member.MemberEpoch, member.State, PartitionMap.Count(member.AssignedPartitions), PartitionMap.Count(member.PartitionsPendingRevocation));
        if (before == after && PartitionMap.SetEquals(assignedBefore, member.AssignedPartitions))
        {
            return;
        }

        _log.LogInformation(
            "Member {MemberId} of consumer group {GroupId} transitioned to epoch {Epoch} in state {State}", member.MemberId, group.GroupId, member.MemberEpoch, member.State);
        member.RebalanceTimer?.Dispose();
        member.RebalanceTimer = null;
        if (member.State == ConsumerMemberState.UnrevokedPartitions)
        {
            ScheduleConsumerRebalanceTimeout(group, member);
        }
    }

    /// <summary>The member has its rebalance timeout to revoke; after that it is fenced.</summary>
    private void ScheduleConsumerRebalanceTimeout(ConsumerGroup group, ConsumerGroupMember member)
    {
        var state = new ConsumerRebalanceTimeout(this, group, member, member.MemberEpoch);
        member.RebalanceTimer = _time.CreateTimer(
            static s => ((ConsumerRebalanceTimeout)s!).Fire(), state, TimeSpan.FromMilliseconds(Math.Max(member.RebalanceTimeoutMs, 0)), Timeout.InfiniteTimeSpan);
    }

    private static bool OwnsRevokedPartitions(IReadOnlyList<OwnedTopicPartitions>? owned, Dictionary<KafkaUuid, SortedSet<int>> pendingRevocation)
    {
        if (owned is null)
        {
            return true;
        }

        foreach (var topic in owned)
        {
            if (pendingRevocation.TryGetValue(topic.TopicId, out var partitions))
            {
                foreach (var p in topic.Partitions)
                {
                    if (partitions.Contains(p))
                    {
                        return true;
                    }
                }
            }
        }

        return false;
    }

    private void ComputeNextAssignment(ConsumerGroup group, ConsumerGroupMember member, IReadOnlyList<OwnedTopicPartitions>? owned)
    {
        var targetEpoch = group.AssignmentEpoch;
        var target = group.TargetOf(member.MemberId);
        var subscribed = new HashSet<KafkaUuid>(SubscribedTopics(member).Select(t => t.Id));
        var hasUnreleased = false;
        var newAssigned = new Dictionary<KafkaUuid, SortedSet<int>>();
        var newPendingRevocation = new Dictionary<KafkaUuid, SortedSet<int>>();
        var newPendingAssignment = new Dictionary<KafkaUuid, SortedSet<int>>();
        var topics = new HashSet<KafkaUuid>(target.Keys);
        topics.UnionWith(member.AssignedPartitions.Keys);
        foreach (var topic in topics)
        {
            var targetPartitions = subscribed.Contains(topic) && target.TryGetValue(topic, out var t) ? t : [];
            var current = member.AssignedPartitions.TryGetValue(topic, out var c) ? c : [];

            // Assigned = current ∩ target; pending revocation = current − assigned;
            // pending assignment = target − assigned − partitions other members have not released.
            var assigned = new SortedSet<int>(current.Where(targetPartitions.Contains));
            var revoke = new SortedSet<int>(current.Where(p => !assigned.Contains(p)));
            var pendingAssignment = new SortedSet<int>();
            foreach (var p in targetPartitions)
            {
                if (assigned.Contains(p))
                {
                    continue;
                }

                if (group.CurrentPartitionEpoch(topic, p) != -1 && !PartitionMap.Contains(member.PartitionsPendingRevocation, topic, p))
                {
                    hasUnreleased = true;
                }
                else
                {
                    pendingAssignment.Add(p);
                }
            }

            if (assigned.Count > 0)
            {
                newAssigned[topic] = assigned;
            }

            if (revoke.Count > 0)
            {
                newPendingRevocation[topic] = revoke;
            }

            if (pendingAssignment.Count > 0)
            {
                newPendingAssignment[topic] = pendingAssignment;
            }
        }

        if (newPendingRevocation.Count > 0 && OwnsRevokedPartitions(owned, newPendingRevocation))
        {
            // Revoke first: the member stays in its epoch until it acknowledges the revocation.
            member.State = ConsumerMemberState.UnrevokedPartitions;
            member.SetAssignedPartitions(newAssigned);
            member.PartitionsPendingRevocation = newPendingRevocation;
            return;
        }

        foreach (var (topic, partitions) in newPendingAssignment)
        {
            if (!newAssigned.TryGetValue(topic, out var set))
            {
                newAssigned[topic] = set = [];
            }

            set.UnionWith(partitions);
        }

        member.State = hasUnreleased ? ConsumerMemberState.UnreleasedPartitions : ConsumerMemberState.Stable;
        if (member.MemberEpoch != targetEpoch)
        {
            member.PreviousMemberEpoch = member.MemberEpoch;
            member.MemberEpoch = targetEpoch;
        }

        member.SetAssignedPartitions(newAssigned);
        member.PartitionsPendingRevocation = [];
    }
}
