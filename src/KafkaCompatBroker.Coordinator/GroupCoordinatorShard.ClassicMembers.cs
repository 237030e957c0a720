using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>Classic group members: Heartbeat, LeaveGroup, sessions and the rebalance timers (Kafka's GroupMetadataManager).</summary>
public sealed partial class GroupCoordinatorShard
{
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
}
