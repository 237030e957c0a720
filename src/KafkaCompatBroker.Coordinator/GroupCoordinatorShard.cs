using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// One shard of the group coordinator: the classic and consumer groups, and the committed offsets, of the groups
/// that live in one <c>__consumer_offsets</c> partition (Kafka's GroupCoordinatorShard). The classic protocol
/// (JoinGroup/SyncGroup/Heartbeat/LeaveGroup) follows Kafka's ClassicGroup state machine: Empty → PreparingRebalance →
/// CompletingRebalance → Stable. JoinGroup and SyncGroup complete asynchronously when the rebalance
/// phase they wait for ends (no thread is held). All timers (session, rebalance, initial delay,
/// pending sync) run on the injected <see cref="TimeProvider"/>, so tests drive them with a fake clock.
/// The shard's lock guards its groups only; waiters are completed with continuations run asynchronously, so no
/// client continuation runs under it. Records are appended to the shard's partition under the shard's lock (see
/// ARCHITECTURE.md, "Locks and their order", for what still does I/O under it).
/// </summary>
public sealed partial class GroupCoordinatorShard : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ClassicGroup> _groups = new(StringComparer.Ordinal);
    private readonly GroupCoordinator _owner;
    private readonly GroupCoordinatorConfig _config;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly IGroupRecordLog? _records;

    // Set by BeginShutdown and Unload: JoinGroup and SyncGroup are answered at once instead of waiting for a rebalance.
    private bool _shuttingDown;

    internal GroupCoordinatorShard(GroupCoordinator owner, int partition, Func<IGroupRecordLog?, IOffsetStore> offsetStores)
    {
        _owner = owner;
        Partition = partition;
        _config = owner.Config;
        _time = owner.Time;
        _log = owner.Log;
        _records = owner.Records is { } records ? new OrderedRecordLog(this, records) : null;
        Offsets = offsetStores(_records);
    }

    /// <summary>The <c>__consumer_offsets</c> partition whose groups this shard holds.</summary>
    public int Partition { get; }

    public IOffsetStore Offsets { get; }

    /// <summary>Called under the lock when a group is removed for good (DeleteGroups, expiry), to persist its removal.</summary>
    partial void OnGroupDeleted(string groupId);

    public GroupCoordinatorConfig Config => _config;

    /// <summary>The state of a group, or null when the coordinator does not know it.</summary>
    public ClassicGroupState? GroupState(string groupId)
    {
        lock (_lock)
        {
            return _groups.TryGetValue(groupId, out var group) ? group.State : null;
        }
    }

    /// <summary>The current generation, leader and members of a group (for tests and DescribeGroups).</summary>
    public (int GenerationId, string? Leader, string? ProtocolName, IReadOnlyList<string> MemberIds)? Describe(string groupId)
    {
        lock (_lock)
        {
            return _groups.TryGetValue(groupId, out var g) ? (g.GenerationId, g.LeaderId, g.ProtocolName, [.. g.Members.Keys]) : null;
        }
    }

    // ---------------------------------------------------------------- JoinGroup

    public ValueTask<JoinGroupResult> JoinGroupAsync(JoinGroupParams request)
    {
        lock (_lock)
        {
            return _shuttingDown ? Fail(ErrorCode.NotCoordinator, request.MemberId) : Join(request);
        }
    }

    private ValueTask<JoinGroupResult> Join(JoinGroupParams request)
    {
        var memberId = request.MemberId;
        if (request.GroupId.Length == 0)
        {
            return Fail(ErrorCode.InvalidGroupId, memberId);
        }

        if (request.SessionTimeoutMs < _config.MinSessionTimeoutMs || request.SessionTimeoutMs > _config.MaxSessionTimeoutMs)
        {
            return Fail(ErrorCode.InvalidSessionTimeout, memberId);
        }

        if (MaybeConvertConsumerGroupForJoin(request.GroupId) is not ErrorCode.None and var convertError)
        {
            return Fail(convertError, memberId);
        }

        if (_consumerGroups.TryGetValue(request.GroupId, out var consumerGroup))
        {
            return new ValueTask<JoinGroupResult>(ClassicJoinToConsumerGroup(consumerGroup, request));
        }

        var isUnknownMember = memberId.Length == 0;
        if (!_groups.TryGetValue(request.GroupId, out var group))
        {
            if (!isUnknownMember)
            {
                return Fail(ErrorCode.UnknownMemberId, memberId);
            }

            group = new ClassicGroup(request.GroupId, _time);
            _groups.Add(request.GroupId, group);
        }

        if (!AcceptJoiningMember(group, memberId))
        {
            return Fail(ErrorCode.GroupMaxSizeReached, memberId);
        }

        return isUnknownMember ? JoinNewMember(group, request) : JoinExistingMember(group, request);
    }

    private bool AcceptJoiningMember(ClassicGroup group, string memberId) => group.State switch
    {
        ClassicGroupState.Empty or ClassicGroupState.Dead => true,
        ClassicGroupState.PreparingRebalance =>
            (group.Members.TryGetValue(memberId, out var m) && m.AwaitingJoin is not null) || group.AwaitingJoinCount < _config.MaxSize,
        _ => group.Members.ContainsKey(memberId) || group.Members.Count < _config.MaxSize,
    };

    private ValueTask<JoinGroupResult> JoinNewMember(ClassicGroup group, JoinGroupParams request)
    {
        if (group.State == ClassicGroupState.Dead)
        {
            return Fail(ErrorCode.CoordinatorNotAvailable, "");
        }

        if (!group.SupportsProtocols(request.ProtocolType, request.Protocols))
        {
            return Fail(ErrorCode.InconsistentGroupProtocol, "");
        }

        var newMemberId = NewMemberId(request.ClientId);
        if (request.GroupInstanceId is { } instanceId)
        {
            if (group.StaticMemberId(instanceId) is { } oldMemberId)
            {
                return UpdateStaticMember(group, request, oldMemberId, newMemberId);
            }

            return AddMemberThenRebalanceOrCompleteJoin(group, request, newMemberId);
        }

        if (request.RequireKnownMemberId)
        {
            // KIP-394: hand out the id first; the member joins again with it.
            var pendingTimer = _time.CreateTimer(
                static state => ((PendingTimeout)state!).Fire(), new PendingTimeout(this, group, newMemberId), TimeSpan.FromMilliseconds(request.SessionTimeoutMs), Timeout.InfiniteTimeSpan);
            group.PendingMembers[newMemberId] = pendingTimer;
            return Fail(ErrorCode.MemberIdRequired, newMemberId);
        }

        return AddMemberThenRebalanceOrCompleteJoin(group, request, newMemberId);
    }

    private ValueTask<JoinGroupResult> JoinExistingMember(ClassicGroup group, JoinGroupParams request)
    {
        var memberId = request.MemberId;
        if (group.State == ClassicGroupState.Dead)
        {
            return Fail(ErrorCode.CoordinatorNotAvailable, memberId);
        }

        if (!group.SupportsProtocols(request.ProtocolType, request.Protocols))
        {
            return Fail(ErrorCode.InconsistentGroupProtocol, memberId);
        }

        if (group.PendingMembers.Remove(memberId, out var pendingTimer))
        {
            pendingTimer.Dispose();
            return AddMemberThenRebalanceOrCompleteJoin(group, request, memberId);
        }

        var error = ValidateMember(group, memberId, request.GroupInstanceId);
        if (error != ErrorCode.None)
        {
            return Fail(error, memberId);
        }

        var member = group.Members[memberId];
        switch (group.State)
        {
            case ClassicGroupState.PreparingRebalance:
                return UpdateMemberThenRebalanceOrCompleteJoin(group, member, request);
            case ClassicGroupState.CompletingRebalance:
                if (member.Matches(request.Protocols))
                {
                    // The member lost its JoinGroup response: send it again.
                    ResetSession(group, member);
                    return new ValueTask<JoinGroupResult>(CurrentJoinResult(group, memberId, includeMembers: group.LeaderId == memberId, skipAssignment: false));
                }

                return UpdateMemberThenRebalanceOrCompleteJoin(group, member, request);
            case ClassicGroupState.Stable:
                if (group.LeaderId == memberId || !member.Matches(request.Protocols))
                {
                    return UpdateMemberThenRebalanceOrCompleteJoin(group, member, request);
                }

                ResetSession(group, member);
                return new ValueTask<JoinGroupResult>(CurrentJoinResult(group, memberId, includeMembers: false, skipAssignment: false));
            default:
                return Fail(ErrorCode.UnknownMemberId, memberId);
        }
    }

    /// <summary>
    /// A known static member joins with a new member id (Kafka's updateStaticMemberThenRebalanceOrCompleteJoin).
    /// In a Stable group it keeps the generation unless the group's selected protocol would change; below
    /// JoinGroup v9 it is answered as a follower with the old leader id (so even a restarting leader does not
    /// run the assignor), from v9 a leader gets the members and SkipAssignment.
    /// </summary>
    private ValueTask<JoinGroupResult> UpdateStaticMember(ClassicGroup group, JoinGroupParams request, string oldMemberId, string newMemberId)
    {
        var member = group.Members[oldMemberId];
        var previousLeader = group.LeaderId ?? "";
        ReplaceStaticMember(group, member, request.GroupInstanceId!, oldMemberId, newMemberId);
        _log.LogInformation("Static member {InstanceId} of group {GroupId} rejoined: member id {OldMemberId} replaced by {NewMemberId}", request.GroupInstanceId, group.GroupId, oldMemberId, newMemberId);
        switch (group.State)
        {
            case ClassicGroupState.Stable:
                var previous = (member.Protocols, member.RebalanceTimeoutMs, member.SessionTimeoutMs, member.ClientId, member.ClientHost);
                UpdateMember(member, request);
                if (group.SelectProtocol() != group.ProtocolName)
                {
                    return UpdateMemberThenRebalanceOrCompleteJoin(group, member, request);
                }

                ResetSession(group, member);
                if (TryStoreGroup(group) is { } storeError)
                {
                    // Kafka reverts the replacement when the new member id could not be persisted.
                    (member.Protocols, member.RebalanceTimeoutMs, member.SessionTimeoutMs, member.ClientId, member.ClientHost) = previous;
                    ReplaceStaticMember(group, member, request.GroupInstanceId!, newMemberId, oldMemberId);
                    ResetSession(group, member);
                    return new ValueTask<JoinGroupResult>(new JoinGroupResult(
                        storeError, "", group.GenerationId, group.ProtocolType, group.ProtocolName, previousLeader));
                }

                if (request.SupportsSkipAssignment)
                {
                    var isLeader = group.LeaderId == newMemberId;
                    return new ValueTask<JoinGroupResult>(CurrentJoinResult(group, newMemberId, includeMembers: isLeader, skipAssignment: isLeader));
                }

                return new ValueTask<JoinGroupResult>(new JoinGroupResult(
                    ErrorCode.None, newMemberId, group.GenerationId, group.ProtocolType, group.ProtocolName, previousLeader));
            default:
                // CompletingRebalance: the leader may already hold the old member id for its assignment, so only
                // a new rebalance is safe (Kafka); PreparingRebalance: the member joins the rebalance.
                return UpdateMemberThenRebalanceOrCompleteJoin(group, member, request);
        }
    }

    /// <summary>
    /// Moves a static member to a new member id (Kafka's replaceStaticMember): requests still waiting under the
    /// old id are fenced, and the leadership, pending sync and session follow the member.
    /// </summary>
    private void ReplaceStaticMember(ClassicGroup group, ClassicGroupMember member, string instanceId, string oldMemberId, string newMemberId)
    {
        // The member keeps its place in the join order (which picks leaders and breaks protocol ties).
        var index = group.Members.IndexOf(oldMemberId);
        group.Members.RemoveAt(index);
        group.Members.Insert(index, newMemberId, member);
        member.AwaitingJoin?.TrySetResult(new JoinGroupResult(ErrorCode.FencedInstanceId, oldMemberId));
        member.AwaitingJoin = null;
        member.AwaitingSync?.TrySetResult(new SyncGroupResult(ErrorCode.FencedInstanceId, []));
        member.AwaitingSync = null;
        member.MemberId = newMemberId;
        group.StaticMembers[instanceId] = newMemberId;
        if (group.LeaderId == oldMemberId)
        {
            group.LeaderId = newMemberId;
        }

        if (group.PendingSyncMembers.Remove(oldMemberId))
        {
            group.PendingSyncMembers.Add(newMemberId);
        }
    }

    private ValueTask<JoinGroupResult> AddMemberThenRebalanceOrCompleteJoin(ClassicGroup group, JoinGroupParams request, string memberId)
    {
        var member = new ClassicGroupMember(memberId, request.GroupInstanceId) { IsNew = true };
        UpdateMember(member, request);
        group.Add(member);
        group.NewMemberAdded = true;
        return AwaitJoin(group, member, $"adding new member {memberId}");
    }

    private ValueTask<JoinGroupResult> UpdateMemberThenRebalanceOrCompleteJoin(ClassicGroup group, ClassicGroupMember member, JoinGroupParams request)
    {
        UpdateMember(member, request);
        member.AwaitingJoin?.TrySetResult(new JoinGroupResult(ErrorCode.UnknownMemberId, member.MemberId));
        return AwaitJoin(group, member, $"updating metadata of member {member.MemberId}");
    }

    /// <summary>Parks the member's join until the rebalance completes: joins the one in progress, or starts one for <paramref name="reason"/>.</summary>
    private ValueTask<JoinGroupResult> AwaitJoin(ClassicGroup group, ClassicGroupMember member, string reason)
    {
        var waiter = new TaskCompletionSource<JoinGroupResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        member.AwaitingJoin = waiter;
        ResetSession(group, member);
        if (group.State is ClassicGroupState.PreparingRebalance)
        {
            MaybeCompleteJoin(group);
        }
        else
        {
            PrepareRebalance(group, reason);
        }

        return new ValueTask<JoinGroupResult>(waiter.Task);
    }

    private static void UpdateMember(ClassicGroupMember member, JoinGroupParams request)
    {
        member.ClientId = request.ClientId;
        member.ClientHost = request.ClientHost;
        member.SessionTimeoutMs = request.SessionTimeoutMs;
        member.RebalanceTimeoutMs = request.RebalanceTimeoutMs < 0 ? request.SessionTimeoutMs : request.RebalanceTimeoutMs;
        member.ProtocolType = request.ProtocolType;
        member.Protocols = request.Protocols;
    }

    private void PrepareRebalance(ClassicGroup group, string reason)
    {
        if (group.State == ClassicGroupState.CompletingRebalance)
        {
            // The assignment of the generation being synced is void.
            foreach (var member in group.Members.Values)
            {
                member.Assignment = [];
                member.AwaitingSync?.TrySetResult(new SyncGroupResult(ErrorCode.RebalanceInProgress, []));
                member.AwaitingSync = null;
            }
        }

        group.SyncTimer?.Dispose();
        group.SyncTimer = null;
        group.PendingSyncMembers.Clear();
        group.JoinTimer?.Dispose();
        var initial = group.State == ClassicGroupState.Empty;
        group.TransitionTo(ClassicGroupState.PreparingRebalance);
        int delayMs;
        if (initial)
        {
            // A new group: give the other members time to join before the first generation.
            var rebalanceTimeout = group.MaxRebalanceTimeoutMs;
            delayMs = Math.Min(_config.InitialRebalanceDelayMs, rebalanceTimeout);
            group.InitialRebalanceRemainingMs = Math.Max(rebalanceTimeout - _config.InitialRebalanceDelayMs, 0);
            group.IsInitialRebalance = true;
            group.NewMemberAdded = false;
        }
        else
        {
            delayMs = group.MaxRebalanceTimeoutMs;
            group.IsInitialRebalance = false;
        }

        group.JoinTimer = CreateGroupTimer(group, GroupTimerKind.Join, delayMs);
        _log.LogInformation("Preparing to rebalance group {GroupId} in state PreparingRebalance with old generation {Generation} (reason: {Reason})", group.GroupId, group.GenerationId, reason);

        // As Kafka does: when every member has already rejoined (or none is left), the rebalance completes now.
        MaybeCompleteJoin(group);
    }

    private void MaybeCompleteJoin(ClassicGroup group)
    {
        if (group.State == ClassicGroupState.PreparingRebalance && !group.IsInitialRebalance && group.HasAllMembersJoined)
        {
            CompleteJoin(group);
        }
    }

    private void OnJoinTimer(ClassicGroup group)
    {
        if (group.IsInitialRebalance && group.NewMemberAdded && group.InitialRebalanceRemainingMs > 0)
        {
            var delay = Math.Min(_config.InitialRebalanceDelayMs, group.InitialRebalanceRemainingMs);
            group.InitialRebalanceRemainingMs -= delay;
            group.NewMemberAdded = false;
            group.JoinTimer?.Dispose();
            group.JoinTimer = CreateGroupTimer(group, GroupTimerKind.Join, delay);
            return;
        }

        CompleteJoin(group);
    }

    private void CompleteJoin(ClassicGroup group)
    {
        group.JoinTimer?.Dispose();
        group.JoinTimer = null;
        group.IsInitialRebalance = false;

        // Members that did not rejoin within the rebalance timeout are dropped.
        List<string>? gone = null;
        foreach (var member in group.Members.Values)
        {
            if (member.AwaitingJoin is null)
            {
                (gone ??= []).Add(member.MemberId);
            }
        }

        if (gone is not null)
        {
            foreach (var id in gone)
            {
                _log.LogInformation("Member {MemberId} of group {GroupId} did not rejoin in time: removed", id, group.GroupId);
                group.Remove(id);
            }
        }

        group.GenerationId++;
        if (group.IsEmpty)
        {
            group.ProtocolName = null;
            group.SubscribedTopics = ComputeSubscribedTopics(group);
            group.TransitionTo(ClassicGroupState.Empty);
            _log.LogInformation("Group {GroupId} with generation {Generation} is now empty", group.GroupId, group.GenerationId);
            TryStoreGroup(group);
            return;
        }

        group.ProtocolName = group.SelectProtocol();
        group.SubscribedTopics = ComputeSubscribedTopics(group);
        if (group.LeaderId is null || !group.Members.ContainsKey(group.LeaderId))
        {
            group.LeaderId = group.Members.GetAt(0).Key;
        }

        group.TransitionTo(ClassicGroupState.CompletingRebalance);
        _log.LogInformation("Stabilized group {GroupId} generation {Generation} with {Members} members", group.GroupId, group.GenerationId, group.Members.Count);
        var allMembers = group.CurrentMembers();
        foreach (var member in group.Members.Values)
        {
            var isLeader = member.MemberId == group.LeaderId;
            var result = new JoinGroupResult(
                ErrorCode.None, member.MemberId, group.GenerationId, group.ProtocolType, group.ProtocolName, group.LeaderId, false, isLeader ? allMembers : []);
            member.AwaitingJoin?.TrySetResult(result);
            member.AwaitingJoin = null;
            member.IsNew = false;
            group.PendingSyncMembers.Add(member.MemberId);
            ResetSession(group, member);
        }

        group.SyncTimer = CreateGroupTimer(group, GroupTimerKind.Sync, group.MaxRebalanceTimeoutMs);
    }

    private void OnSyncTimer(ClassicGroup group)
    {
        group.SyncTimer = null;
        if (group.PendingSyncMembers.Count == 0 || group.State is not (ClassicGroupState.CompletingRebalance or ClassicGroupState.Stable))
        {
            return;
        }

        foreach (var id in group.PendingSyncMembers.ToList())
        {
            _log.LogInformation("Member {MemberId} of group {GroupId} did not sync in time: removed", id, group.GroupId);
            group.Remove(id);
        }

        PrepareRebalance(group, "members did not sync in time");
    }

    private JoinGroupResult CurrentJoinResult(ClassicGroup group, string memberId, bool includeMembers, bool skipAssignment) =>
        new(ErrorCode.None, memberId, group.GenerationId, group.ProtocolType, group.ProtocolName, group.LeaderId ?? "", skipAssignment, includeMembers ? group.CurrentMembers() : []);

    private static ValueTask<JoinGroupResult> Fail(ErrorCode error, string memberId) => new(new JoinGroupResult(error, memberId));

    private static string NewMemberId(string clientId) => $"{clientId}-{Guid.NewGuid():D}";

    private static ErrorCode ValidateMember(ClassicGroup group, string memberId, string? groupInstanceId)
    {
        if (groupInstanceId is not null)
        {
            var existing = group.StaticMemberId(groupInstanceId);
            if (existing is null)
            {
                return ErrorCode.UnknownMemberId;
            }

            return existing == memberId ? ErrorCode.None : ErrorCode.FencedInstanceId;
        }

        return group.Members.ContainsKey(memberId) ? ErrorCode.None : ErrorCode.UnknownMemberId;
    }

    // ---------------------------------------------------------------- SyncGroup

    public ValueTask<SyncGroupResult> SyncGroupAsync(
        string groupId, int generationId, string memberId, string? groupInstanceId, string? protocolType, string? protocolName, IReadOnlyList<KeyValuePair<string, byte[]>> assignments)
    {
        lock (_lock)
        {
            if (_shuttingDown)
            {
                return SyncFail(ErrorCode.NotCoordinator);
            }

            if (_consumerGroups.TryGetValue(groupId, out var consumerGroup) && !consumerGroup.IsEmpty)
            {
                return new ValueTask<SyncGroupResult>(ClassicSyncToConsumerGroup(consumerGroup, generationId, memberId, groupInstanceId, protocolType, protocolName));
            }

            if (!_groups.TryGetValue(groupId, out var group))
            {
                return SyncFail(ErrorCode.UnknownMemberId);
            }

            if (group.State == ClassicGroupState.Dead)
            {
                return SyncFail(ErrorCode.CoordinatorNotAvailable);
            }

            var error = ValidateMember(group, memberId, groupInstanceId);
            if (error != ErrorCode.None)
            {
                return SyncFail(error);
            }

            if (generationId != group.GenerationId)
            {
                return SyncFail(ErrorCode.IllegalGeneration);
            }

            if ((protocolType is not null && protocolType != group.ProtocolType) || (protocolName is not null && protocolName != group.ProtocolName))
            {
                return SyncFail(ErrorCode.InconsistentGroupProtocol);
            }

            var member = group.Members[memberId];
            switch (group.State)
            {
                case ClassicGroupState.PreparingRebalance:
                    return SyncFail(ErrorCode.RebalanceInProgress);
                case ClassicGroupState.CompletingRebalance:
                    group.PendingSyncMembers.Remove(memberId);
                    member.AwaitingSync?.TrySetResult(new SyncGroupResult(ErrorCode.RebalanceInProgress, []));
                    var waiter = new TaskCompletionSource<SyncGroupResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                    member.AwaitingSync = waiter;
                    ResetSession(group, member);
                    if (memberId == group.LeaderId)
                    {
                        foreach (var m in group.Members.Values)
                        {
                            m.Assignment = [];
                        }

                        foreach (var (id, assignment) in assignments)
                        {
                            if (group.Members.TryGetValue(id, out var target))
                            {
                                target.Assignment = assignment;
                            }
                        }

                        // The assignment is persisted before anyone learns it; if that fails every member is told and the group rebalances.
                        if (TryStoreGroup(group) is { } storeError)
                        {
                            foreach (var m in group.Members.Values)
                            {
                                m.Assignment = [];
                                m.AwaitingSync?.TrySetResult(new SyncGroupResult(storeError, []));
                                m.AwaitingSync = null;
                            }

                            PrepareRebalance(group, $"error {storeError} when storing the group assignment during SyncGroup");
                            return new ValueTask<SyncGroupResult>(waiter.Task);
                        }

                        group.TransitionTo(ClassicGroupState.Stable);
                        foreach (var m in group.Members.Values)
                        {
                            m.AwaitingSync?.TrySetResult(new SyncGroupResult(ErrorCode.None, m.Assignment, group.ProtocolType, group.ProtocolName));
                            m.AwaitingSync = null;
                        }

                        if (group.PendingSyncMembers.Count > 0 && group.SyncTimer is null)
                        {
                            group.SyncTimer = CreateGroupTimer(group, GroupTimerKind.Sync, group.MaxRebalanceTimeoutMs);
                        }
                    }

                    return new ValueTask<SyncGroupResult>(waiter.Task);
                case ClassicGroupState.Stable:
                    group.PendingSyncMembers.Remove(memberId);
                    ResetSession(group, member);
                    return new ValueTask<SyncGroupResult>(new SyncGroupResult(ErrorCode.None, member.Assignment, group.ProtocolType, group.ProtocolName));
                default:
                    return SyncFail(ErrorCode.UnknownMemberId);
            }
        }
    }

    private static ValueTask<SyncGroupResult> SyncFail(ErrorCode error) => new(new SyncGroupResult(error, []));
}
