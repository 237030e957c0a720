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

    internal GroupCoordinatorShard(GroupCoordinator owner, int partition, IOffsetStore offsets)
    {
        _owner = owner;
        Partition = partition;
        _config = owner.Config;
        Offsets = offsets;
        _time = owner.Time;
        _log = owner.Log;
        _records = owner.Records;
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
        var waiter = new TaskCompletionSource<JoinGroupResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        member.AwaitingJoin = waiter;
        ResetSession(group, member);
        if (group.State is ClassicGroupState.PreparingRebalance)
        {
            MaybeCompleteJoin(group);
        }
        else
        {
            PrepareRebalance(group, $"adding new member {memberId}");
        }

        return new ValueTask<JoinGroupResult>(waiter.Task);
    }

    private ValueTask<JoinGroupResult> UpdateMemberThenRebalanceOrCompleteJoin(ClassicGroup group, ClassicGroupMember member, JoinGroupParams request)
    {
        UpdateMember(member, request);
        member.AwaitingJoin?.TrySetResult(new JoinGroupResult(ErrorCode.UnknownMemberId, member.MemberId));
        var waiter = new TaskCompletionSource<JoinGroupResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        member.AwaitingJoin = waiter;
        ResetSession(group, member);
        if (group.State is ClassicGroupState.PreparingRebalance)
        {
            MaybeCompleteJoin(group);
        }
        else
        {
            PrepareRebalance(group, $"updating metadata of member {member.MemberId}");
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

    // ---------------------------------------------------------------- Heartbeat

    public ErrorCode Heartbeat(string groupId, int generationId, string memberId, string? groupInstanceId)
    {
        lock (_lock)
        {
            if (_consumerGroups.TryGetValue(groupId, out var consumerGroup))
            {
                return ClassicHeartbeatToConsumerGroup(consumerGroup, generationId, memberId, groupInstanceId);
            }

            if (!_groups.TryGetValue(groupId, out var group) || group.State == ClassicGroupState.Empty)
            {
                return ErrorCode.UnknownMemberId;
            }

            if (group.State == ClassicGroupState.Dead)
            {
                return ErrorCode.CoordinatorNotAvailable;
            }

            var error = ValidateMember(group, memberId, groupInstanceId);
            if (error != ErrorCode.None)
            {
                return error;
            }

            if (generationId != group.GenerationId)
            {
                return ErrorCode.IllegalGeneration;
            }

            ResetSession(group, group.Members[memberId]);
            return group.State == ClassicGroupState.PreparingRebalance ? ErrorCode.RebalanceInProgress : ErrorCode.None;
        }
    }

    // ---------------------------------------------------------------- LeaveGroup

    public LeaveGroupResult LeaveGroup(string groupId, IReadOnlyList<LeavingMember> members)
    {
        lock (_lock)
        {
            if (_consumerGroups.TryGetValue(groupId, out var consumerGroup))
            {
                return ClassicLeaveToConsumerGroup(consumerGroup, members);
            }

            var results = new List<(LeavingMember, ErrorCode)>(members.Count);
            if (!_groups.TryGetValue(groupId, out var group))
            {
                foreach (var m in members)
                {
                    results.Add((m, ErrorCode.UnknownMemberId));
                }

                return new LeaveGroupResult(ErrorCode.None, results);
            }

            if (group.State == ClassicGroupState.Dead)
            {
                return new LeaveGroupResult(ErrorCode.CoordinatorNotAvailable, results);
            }

            var removedAny = false;
            foreach (var leaving in members)
            {
                var error = RemoveLeavingMember(group, leaving);
                removedAny |= error == ErrorCode.None;
                results.Add((leaving, error));
            }

            if (removedAny)
            {
                switch (group.State)
                {
                    case ClassicGroupState.Stable or ClassicGroupState.CompletingRebalance:
                        PrepareRebalance(group, "members left the group");
                        break;
                    case ClassicGroupState.PreparingRebalance:
                        MaybeCompleteJoin(group);
                        break;
                }
            }

            return new LeaveGroupResult(ErrorCode.None, results);
        }
    }

    private ErrorCode RemoveLeavingMember(ClassicGroup group, LeavingMember leaving)
    {
        string memberId;
        if (leaving.GroupInstanceId is { } instanceId)
        {
            if (group.StaticMemberId(instanceId) is not { } existing)
            {
                return ErrorCode.UnknownMemberId;
            }

            if (leaving.MemberId.Length > 0 && leaving.MemberId != existing)
            {
                return ErrorCode.FencedInstanceId;
            }

            memberId = existing;
        }
        else
        {
            memberId = leaving.MemberId;
            if (group.PendingMembers.Remove(memberId, out var pendingTimer))
            {
                pendingTimer.Dispose();
                return ErrorCode.None;
            }

            if (!group.Members.ContainsKey(memberId))
            {
                return ErrorCode.UnknownMemberId;
            }
        }

        var member = group.Members[memberId];
        member.AwaitingJoin?.TrySetResult(new JoinGroupResult(ErrorCode.UnknownMemberId, memberId));
        member.AwaitingSync?.TrySetResult(new SyncGroupResult(ErrorCode.UnknownMemberId, []));
        _log.LogInformation("Member {MemberId} of group {GroupId} left", memberId, group.GroupId);
        group.Remove(memberId);
        return ErrorCode.None;
    }

    // ---------------------------------------------------------------- Sessions and timers

    private void ResetSession(ClassicGroup group, ClassicGroupMember member)
    {
        var due = TimeSpan.FromMilliseconds(member.SessionTimeoutMs);
        member.SessionDeadlineMs = NowMs() + member.SessionTimeoutMs;
        if (member.SessionTimer is { } timer)
        {
            timer.Change(due, Timeout.InfiniteTimeSpan);
        }
        else
        {
            member.SessionTimer = _time.CreateTimer(static state => ((SessionTimeout)state!).Fire(), new SessionTimeout(this, group, member), due, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnSessionExpired(ClassicGroup group, ClassicGroupMember member)
    {
        if (!_groups.TryGetValue(group.GroupId, out var current) || current != group || !group.Members.TryGetValue(member.MemberId, out var m) || m != member)
        {
            return;
        }

        if (SessionStillRunning(member.SessionTimer, member.SessionDeadlineMs))
        {
            return;
        }

        if (member.AwaitingJoin is not null || member.AwaitingSync is not null)
        {
            // A member waiting for a rebalance phase stays alive (Kafka's shouldKeepAlive).
            ResetSession(group, member);
            return;
        }

        _log.LogInformation("Member {MemberId} of group {GroupId} has failed (session timeout {SessionTimeoutMs} ms): removing it", member.MemberId, group.GroupId, member.SessionTimeoutMs);
        group.Remove(member.MemberId);
        switch (group.State)
        {
            case ClassicGroupState.Stable or ClassicGroupState.CompletingRebalance:
                PrepareRebalance(group, $"removing member {member.MemberId} on heartbeat expiration");
                break;
            case ClassicGroupState.PreparingRebalance:
                MaybeCompleteJoin(group);
                break;
        }
    }

    private long NowMs() => _time.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// A session timer's callback may run after the session was reset (it waited for the lock while a heartbeat or a
    /// completed join re-armed the timer): as Kafka, a member expires only against its current deadline. When the
    /// deadline is still ahead the timer is armed for what is left, and the callback does nothing.
    /// </summary>
    private bool SessionStillRunning(ITimer? timer, long deadlineMs)
    {
        var remaining = deadlineMs - NowMs();
        if (remaining <= 0)
        {
            return false;
        }

        timer?.Change(TimeSpan.FromMilliseconds(remaining), Timeout.InfiniteTimeSpan);
        return true;
    }

    private void OnPendingExpired(ClassicGroup group, string memberId)
    {
        if (group.PendingMembers.Remove(memberId, out var timer))
        {
            timer.Dispose();
            MaybeCompleteJoin(group);
        }
    }

    private ITimer CreateGroupTimer(ClassicGroup group, GroupTimerKind kind, int delayMs) =>
        _time.CreateTimer(static state => ((GroupTimeout)state!).Fire(), new GroupTimeout(this, group, kind, group.Epoch), TimeSpan.FromMilliseconds(Math.Max(delayMs, 0)), Timeout.InfiniteTimeSpan);

    private enum GroupTimerKind
    {
        Join,
        Sync,
    }

    private sealed class GroupTimeout(GroupCoordinatorShard coordinator, ClassicGroup group, GroupTimerKind kind, long epoch)
    {
        public void Fire()
        {
            lock (coordinator._lock)
            {
                if (kind == GroupTimerKind.Join)
                {
                    if (group.Epoch == epoch && group.State == ClassicGroupState.PreparingRebalance)
                    {
                        coordinator.OnJoinTimer(group);
                    }
                }
                else if (group.Epoch == epoch || (group.State == ClassicGroupState.Stable && group.Epoch == epoch + 1))
                {
                    coordinator.OnSyncTimer(group);
                }
            }
        }
    }

    private sealed class SessionTimeout(GroupCoordinatorShard coordinator, ClassicGroup group, ClassicGroupMember member)
    {
        public void Fire()
        {
            lock (coordinator._lock)
            {
                coordinator.OnSessionExpired(group, member);
            }
        }
    }

    private sealed class PendingTimeout(GroupCoordinatorShard coordinator, ClassicGroup group, string memberId)
    {
        public void Fire()
        {
            lock (coordinator._lock)
            {
                coordinator.OnPendingExpired(group, memberId);
            }
        }
    }

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
    public ErrorCode[] CommitOffsets(OffsetCommitParams request, IReadOnlyList<OffsetToCommit> offsets)
    {
        var errors = new ErrorCode[offsets.Count];
        lock (_lock)
        {
            var groupError = ValidateOffsetCommitLocked(
                request.GroupId, request.GenerationIdOrMemberEpoch, request.MemberId, request.GroupInstanceId, request.GroupIdNotFoundSupported);
            if (groupError != ErrorCode.None)
            {
                Array.Fill(errors, groupError);
                return errors;
            }

            var toCommit = new List<OffsetToCommit>(offsets.Count);
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
                    toCommit.Add(offset);
                }
            }

            OffsetCommitValidated?.Invoke();
            var commitError = toCommit.Count > 0 ? CommitOffsets(request.GroupId, toCommit) : ErrorCode.None;
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
