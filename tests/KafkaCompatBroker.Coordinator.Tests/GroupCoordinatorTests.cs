using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class GroupCoordinatorTests : IDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly GroupCoordinator _coordinator;

    public GroupCoordinatorTests()
    {
        _coordinator = Create(new GroupCoordinatorConfig { InitialRebalanceDelayMs = 3000 });
    }

    public void Dispose() => _coordinator.Dispose();

    private GroupCoordinator Create(GroupCoordinatorConfig config) =>
        new(config, _ => new InMemoryOffsetStore(), _time, NullLogger<GroupCoordinator>.Instance);

    private static JoinGroupParams Join(string memberId = "", string? instanceId = null, int session = 10_000, int rebalance = 30_000, bool requireKnown = false, string protocolType = "consumer", params string[] protocols) => new()
    {
        GroupId = "g",
        MemberId = memberId,
        GroupInstanceId = instanceId,
        ClientId = "client",
        SessionTimeoutMs = session,
        RebalanceTimeoutMs = rebalance,
        ProtocolType = protocolType,
        Protocols = [.. (protocols.Length == 0 ? ["range"] : protocols).Select(p => new GroupProtocol(p, [(byte)p[0]]))],
        RequireKnownMemberId = requireKnown,
    };

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    [InlineData(int.MaxValue)]
    public async Task JoinGroup_ExtremeRebalanceTimeout_NoTimerThrowsAndTheGroupForms(int rebalance)
    {
        // Issue 14: a timeout from the wire sizes a timer; a negative one runs it at once, 2^31-1 ms is a valid timer.
        var join = _coordinator.JoinGroupAsync(Join(rebalance: rebalance)).AsTask();
        _time.Advance(3000);

        var result = await join;
        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal(1, result.GenerationId);
    }

    /// <summary>Two members join a new group; the initial delay passes; both get generation 1.</summary>
    private async Task<(JoinGroupResult Leader, JoinGroupResult Follower)> FormGroupAsync()
    {
        var a = _coordinator.JoinGroupAsync(Join()).AsTask();
        var b = _coordinator.JoinGroupAsync(Join()).AsTask();
        Assert.False(a.IsCompleted);
        _time.Advance(3000);
        Assert.False(a.IsCompleted); // a member joined during the initial delay: it is extended once more
        _time.Advance(3000);
        var (ra, rb) = (await a, await b);
        return (ra, rb);
    }

    private async Task<(JoinGroupResult Leader, JoinGroupResult Follower)> StableGroupAsync()
    {
        var (leader, follower) = await FormGroupAsync();
        var followerSync = _coordinator.SyncGroupAsync("g", 1, follower.MemberId, null, null, null, []).AsTask();
        var leaderSync = await _coordinator.SyncGroupAsync("g", 1, leader.MemberId, null, null, null, [new(leader.MemberId, [1]), new(follower.MemberId, [2])]);
        Assert.Equal(ErrorCode.None, leaderSync.Error);
        Assert.Equal(new byte[] { 2 }, (await followerSync).Assignment);
        return (leader, follower);
    }

    [Fact]
    public async Task BeginShutdown_WaitingJoinAndSync_AnsweredNotCoordinatorAndLaterOnesAtOnce()
    {
        var (leader, follower) = await FormGroupAsync();
        var followerSync = _coordinator.SyncGroupAsync("g", 1, follower.MemberId, null, null, null, []).AsTask();
        var waitingJoin = _coordinator.JoinGroupAsync(Join() with { GroupId = "other" }).AsTask();
        Assert.False(followerSync.IsCompleted);
        Assert.False(waitingJoin.IsCompleted);

        _coordinator.BeginShutdown();

        Assert.Equal(ErrorCode.NotCoordinator, (await followerSync).Error);
        Assert.Equal(ErrorCode.NotCoordinator, (await waitingJoin).Error);
        var lateJoin = _coordinator.JoinGroupAsync(Join() with { GroupId = "late" });
        Assert.True(lateJoin.IsCompleted);
        Assert.Equal(ErrorCode.NotCoordinator, (await lateJoin).Error);
        Assert.Equal(ErrorCode.NotCoordinator, (await _coordinator.SyncGroupAsync("g", 1, leader.MemberId, null, null, null, [])).Error);
    }

    [Fact]
    public async Task JoinGroup_NewGroup_WaitsInitialDelayThenCompletesGeneration1()
    {
        var (leader, follower) = await FormGroupAsync();

        Assert.Equal((ErrorCode.None, 1, "range"), (leader.Error, leader.GenerationId, leader.ProtocolName));
        Assert.Equal(leader.MemberId, leader.Leader);
        Assert.Equal(leader.MemberId, follower.Leader);
        Assert.Equal(2, leader.AllMembers.Count);
        Assert.Empty(follower.AllMembers);
        Assert.StartsWith("client-", leader.MemberId, StringComparison.Ordinal);
        Assert.Equal(ClassicGroupState.CompletingRebalance, _coordinator.GroupState("g"));
    }

    [Fact]
    public async Task JoinGroup_V4WithoutMemberId_MemberIdRequiredThenJoins()
    {
        var first = await _coordinator.JoinGroupAsync(Join(requireKnown: true));
        Assert.Equal(ErrorCode.MemberIdRequired, first.Error);
        Assert.NotEmpty(first.MemberId);

        var second = _coordinator.JoinGroupAsync(Join(first.MemberId, requireKnown: true)).AsTask();
        _time.Advance(3000);
        var result = await second;

        Assert.Equal((ErrorCode.None, first.MemberId, 1), (result.Error, result.MemberId, result.GenerationId));
    }

    [Fact]
    public async Task JoinGroup_UnknownMemberIdForNewGroup_UnknownMemberId()
    {
        var result = await _coordinator.JoinGroupAsync(Join("nobody"));
        Assert.Equal(ErrorCode.UnknownMemberId, result.Error);
    }

    [Theory]
    [InlineData(5999)]
    [InlineData(1_800_001)]
    public async Task JoinGroup_SessionTimeoutOutOfRange_InvalidSessionTimeout(int session)
    {
        var result = await _coordinator.JoinGroupAsync(Join(session: session));
        Assert.Equal(ErrorCode.InvalidSessionTimeout, result.Error);
    }

    [Fact]
    public async Task JoinGroup_DifferentProtocolType_InconsistentGroupProtocol()
    {
        _ = _coordinator.JoinGroupAsync(Join());
        var result = await _coordinator.JoinGroupAsync(Join(protocolType: "connect"));
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, result.Error);
        var noCommon = await _coordinator.JoinGroupAsync(Join(protocols: "roundrobin"));
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, noCommon.Error);
    }

    [Fact]
    public async Task JoinGroup_Protocols_SelectsWhatMostMembersPreferAmongCommonOnes()
    {
        var a = _coordinator.JoinGroupAsync(Join(protocols: ["range", "roundrobin", "sticky"])).AsTask();
        var b = _coordinator.JoinGroupAsync(Join(protocols: ["sticky", "roundrobin"])).AsTask();
        var c = _coordinator.JoinGroupAsync(Join(protocols: ["roundrobin", "sticky"])).AsTask();
        var d = _coordinator.JoinGroupAsync(Join(protocols: ["roundrobin", "range", "sticky"])).AsTask();
        _time.Advance(6000);

        Assert.Equal("roundrobin", (await a).ProtocolName);
        Assert.Equal("roundrobin", (await d).ProtocolName);
        var bId = (await b).MemberId;
        var members = (await a).AllMembers;
        Assert.Equal(new byte[] { (byte)'r' }, Assert.Single(members, m => m.MemberId == bId).Metadata);
        _ = await c;
    }

    [Fact]
    public async Task JoinGroup_GroupFull_GroupMaxSizeReached()
    {
        using var coordinator = Create(new GroupCoordinatorConfig { MaxSize = 1 });
        var a = coordinator.JoinGroupAsync(Join()).AsTask();
        _time.Advance(3000);
        Assert.Equal(ErrorCode.None, (await a).Error);

        var b = await coordinator.JoinGroupAsync(Join());

        Assert.Equal(ErrorCode.GroupMaxSizeReached, b.Error);
    }

    [Fact]
    public async Task SyncGroup_LeaderAssignment_DistributedAndGroupStable()
    {
        await StableGroupAsync();
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
    }

    [Fact]
    public async Task SyncGroup_Errors_AsKafka()
    {
        var (leader, _) = await FormGroupAsync();

        Assert.Equal(ErrorCode.UnknownMemberId, (await _coordinator.SyncGroupAsync("g", 1, "nobody", null, null, null, [])).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, (await _coordinator.SyncGroupAsync("other", 1, leader.MemberId, null, null, null, [])).Error);
        Assert.Equal(ErrorCode.IllegalGeneration, (await _coordinator.SyncGroupAsync("g", 2, leader.MemberId, null, null, null, [])).Error);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await _coordinator.SyncGroupAsync("g", 1, leader.MemberId, null, "consumer", "roundrobin", [])).Error);
    }

    [Fact]
    public async Task SyncGroup_WhileRebalancing_RebalanceInProgress()
    {
        var (leader, follower) = await StableGroupAsync();
        var rejoin = _coordinator.JoinGroupAsync(Join(leader.MemberId)).AsTask();

        Assert.Equal(ErrorCode.RebalanceInProgress, (await _coordinator.SyncGroupAsync("g", 1, follower.MemberId, null, null, null, [])).Error);
        Assert.Equal(ErrorCode.RebalanceInProgress, _coordinator.Heartbeat("g", 1, follower.MemberId, null));
        var followerJoin = await _coordinator.JoinGroupAsync(Join(follower.MemberId));
        Assert.Equal(2, followerJoin.GenerationId);
        Assert.Equal(2, (await rejoin).GenerationId);
    }

    [Fact]
    public async Task Heartbeat_Errors_AsKafka()
    {
        var (leader, _) = await StableGroupAsync();

        Assert.Equal(ErrorCode.None, _coordinator.Heartbeat("g", 1, leader.MemberId, null));
        Assert.Equal(ErrorCode.IllegalGeneration, _coordinator.Heartbeat("g", 0, leader.MemberId, null));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.Heartbeat("g", 1, "nobody", null));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.Heartbeat("missing", 1, leader.MemberId, null));
    }

    [Fact]
    public async Task SessionTimeout_MemberStopsHeartbeating_RemovedAndGroupRebalances()
    {
        var (leader, follower) = await StableGroupAsync();
        for (var i = 0; i < 3; i++)
        {
            _time.Advance(3000);
            Assert.Equal(ErrorCode.None, _coordinator.Heartbeat("g", 1, leader.MemberId, null));
        }

        _time.Advance(1000);

        Assert.Equal(ClassicGroupState.PreparingRebalance, _coordinator.GroupState("g"));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.Heartbeat("g", 1, follower.MemberId, null));
        Assert.Equal(ErrorCode.RebalanceInProgress, _coordinator.Heartbeat("g", 1, leader.MemberId, null));
        var rejoin = await _coordinator.JoinGroupAsync(Join(leader.MemberId));
        Assert.Equal((2, 1), (rejoin.GenerationId, rejoin.AllMembers.Count));
    }

    [Fact]
    public async Task SessionTimeout_TimerCallbackRunsAfterJoinCompleted_MemberKept()
    {
        // Session 6 s; the initial delay (3 s, extended once for the second member) ends at 6 s too.
        var a = _coordinator.JoinGroupAsync(Join(session: 6000)).AsTask();
        var b = _coordinator.JoinGroupAsync(Join(session: 6000)).AsTask();
        _time.Advance(3000);
        var sessionCallbackOfA = _time.HoldNext(); // a's session timer fires at 6 s; its callback waits for the lock
        _time.Advance(0); // meanwhile the join completes and resets every member's session
        var (ra, rb) = (await a, await b);

        sessionCallbackOfA();

        Assert.Equal(ClassicGroupState.CompletingRebalance, _coordinator.GroupState("g"));
        Assert.Equal(2, _coordinator.Describe("g")!.Value.MemberIds.Count);
        var followerSync = _coordinator.SyncGroupAsync("g", 1, rb.MemberId, null, null, null, []).AsTask();
        Assert.Equal(ErrorCode.None, (await _coordinator.SyncGroupAsync("g", 1, ra.MemberId, null, null, null, [new(ra.MemberId, [1]), new(rb.MemberId, [2])])).Error);
        Assert.Equal(ErrorCode.None, (await followerSync).Error);

        // The member is still expired against its current deadline.
        _time.Advance(5999);
        Assert.Equal(ErrorCode.None, _coordinator.Heartbeat("g", 1, rb.MemberId, null));
        _time.Advance(1);
        Assert.Equal(ClassicGroupState.PreparingRebalance, _coordinator.GroupState("g"));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.Heartbeat("g", 1, ra.MemberId, null));
    }

    [Fact]
    public async Task RebalanceTimeout_MemberDoesNotRejoin_DroppedFromNextGeneration()
    {
        var (leader, follower) = await StableGroupAsync();
        var rejoin = _coordinator.JoinGroupAsync(Join(leader.MemberId, session: 60_000)).AsTask();
        _time.Advance(9000);
        Assert.False(rejoin.IsCompleted);
        _time.Advance(21_000); // the follower, which did not rejoin, is dropped (session expiry or the 30 s rebalance timeout)

        var result = await rejoin;
        Assert.Equal(2, result.GenerationId);
        Assert.Equal(leader.MemberId, Assert.Single(result.AllMembers).MemberId);
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.Heartbeat("g", 2, follower.MemberId, null));
    }

    [Fact]
    public async Task LeaveGroup_Member_RemovedAndRebalanceCompletesWithRest()
    {
        var (leader, follower) = await StableGroupAsync();
        var result = _coordinator.LeaveGroup("g", [new LeavingMember(follower.MemberId, null), new LeavingMember("nobody", null)]);

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal([ErrorCode.None, ErrorCode.UnknownMemberId], result.Members.Select(m => m.Error));
        var rejoin = await _coordinator.JoinGroupAsync(Join(leader.MemberId));
        Assert.Equal((2, 1), (rejoin.GenerationId, rejoin.AllMembers.Count));
    }

    [Fact]
    public async Task LeaveGroup_LastMember_GroupEmpty()
    {
        var a = _coordinator.JoinGroupAsync(Join()).AsTask();
        _time.Advance(3000);
        var member = await a;
        _coordinator.LeaveGroup("g", [new LeavingMember(member.MemberId, null)]);

        // No member is left to wait for: the rebalance completes at once, as in Kafka.
        Assert.Equal(ClassicGroupState.Empty, _coordinator.GroupState("g"));
    }

    [Fact]
    public async Task StaticMember_RejoinsWhileStable_ReplacesMemberIdWithoutRebalance()
    {
        var a = _coordinator.JoinGroupAsync(Join(instanceId: "i1")).AsTask();
        var b = _coordinator.JoinGroupAsync(Join(instanceId: "i2")).AsTask();
        _time.Advance(6000);
        var (leader, follower) = (await a, await b);
        var sync = _coordinator.SyncGroupAsync("g", 1, follower.MemberId, "i2", null, null, []).AsTask();
        await _coordinator.SyncGroupAsync("g", 1, leader.MemberId, "i1", null, null, [new(follower.MemberId, [7])]);
        await sync;

        var rejoin = await _coordinator.JoinGroupAsync(Join(instanceId: "i2"));

        Assert.Equal((ErrorCode.None, 1), (rejoin.Error, rejoin.GenerationId));
        Assert.NotEqual(follower.MemberId, rejoin.MemberId);
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
        Assert.Equal(new byte[] { 7 }, (await _coordinator.SyncGroupAsync("g", 1, rejoin.MemberId, "i2", null, null, [])).Assignment);
        Assert.Equal(ErrorCode.FencedInstanceId, _coordinator.Heartbeat("g", 1, follower.MemberId, "i2"));
        Assert.Equal(ErrorCode.FencedInstanceId, _coordinator.LeaveGroup("g", [new LeavingMember(follower.MemberId, "i2")]).Members[0].Error);
    }

    /// <summary>Two static members (i1 the leader, i2) in a Stable generation 1, i1 assigned [1], i2 [2].</summary>
    private async Task<(JoinGroupResult Leader, JoinGroupResult Follower)> StableStaticGroupAsync(params string[] protocols)
    {
        var a = _coordinator.JoinGroupAsync(Join(instanceId: "i1", protocols: protocols)).AsTask();
        var b = _coordinator.JoinGroupAsync(Join(instanceId: "i2", protocols: protocols)).AsTask();
        _time.Advance(6000);
        var (leader, follower) = (await a, await b);
        Assert.Equal(leader.MemberId, leader.Leader);
        var sync = _coordinator.SyncGroupAsync("g", 1, follower.MemberId, "i2", null, null, []).AsTask();
        await _coordinator.SyncGroupAsync("g", 1, leader.MemberId, "i1", null, null, [new(leader.MemberId, [1]), new(follower.MemberId, [2])]);
        await sync;
        return (leader, follower);
    }

    /// <summary>The answer of a request that must complete at once (no rebalance to wait for).</summary>
    private static T Immediate<T>(ValueTask<T> pending)
    {
        Assert.True(pending.IsCompleted, "the request waits for a rebalance");
        return pending.Result;
    }

    [Fact]
    public async Task StaticMember_LeaderRejoinsWhileStableBelowV9_KeepsGenerationAndAnswersOldLeaderId()
    {
        var (leader, follower) = await StableStaticGroupAsync();

        // JoinGroup v5-v8 (librdkafka): no SkipAssignment, so the client must not see itself as leader.
        var rejoin = Immediate(_coordinator.JoinGroupAsync(Join(instanceId: "i1")));

        Assert.Equal((ErrorCode.None, 1, false), (rejoin.Error, rejoin.GenerationId, rejoin.SkipAssignment));
        Assert.NotEqual(leader.MemberId, rejoin.MemberId);
        Assert.Equal(leader.MemberId, rejoin.Leader);
        Assert.Empty(rejoin.AllMembers);
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
        Assert.Equal(rejoin.MemberId, _coordinator.Describe("g")!.Value.Leader);
        Assert.Equal(new byte[] { 1 }, Immediate(_coordinator.SyncGroupAsync("g", 1, rejoin.MemberId, "i1", null, null, [])).Assignment);
        Assert.Equal(ErrorCode.None, _coordinator.Heartbeat("g", 1, follower.MemberId, "i2"));
        Assert.Equal(ErrorCode.FencedInstanceId, _coordinator.Heartbeat("g", 1, leader.MemberId, "i1"));
    }

    [Fact]
    public async Task StaticMember_LeaderRejoinsWhileStableV9_SkipAssignmentWithMembersAndNewLeaderId()
    {
        var (leader, follower) = await StableStaticGroupAsync();

        var rejoin = Immediate(_coordinator.JoinGroupAsync(Join(instanceId: "i1") with { SupportsSkipAssignment = true }));

        Assert.Equal((ErrorCode.None, 1, true), (rejoin.Error, rejoin.GenerationId, rejoin.SkipAssignment));
        Assert.Equal(rejoin.MemberId, rejoin.Leader);
        Assert.Equal(new[] { rejoin.MemberId, follower.MemberId }.Order(), rejoin.AllMembers.Select(m => m.MemberId).Order());
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
        Assert.Equal(new byte[] { 1 }, Immediate(_coordinator.SyncGroupAsync("g", 1, rejoin.MemberId, "i1", null, null, [])).Assignment);
    }

    [Fact]
    public async Task StaticMember_RejoinsWithNewMetadataSameSelectedProtocol_NoRebalance()
    {
        var (_, follower) = await StableStaticGroupAsync();

        // Kafka rebalances a Stable group for a returning static member only when the group's selected protocol would change.
        var rejoin = Immediate(_coordinator.JoinGroupAsync(Join(instanceId: "i2") with { Protocols = [new GroupProtocol("range", [9, 9])] }));

        Assert.Equal((ErrorCode.None, 1), (rejoin.Error, rejoin.GenerationId));
        Assert.NotEqual(follower.MemberId, rejoin.MemberId);
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
    }

    [Fact]
    public async Task StaticMember_RejoinsChangingSelectedProtocol_Rebalances()
    {
        var (leader, _) = await StableStaticGroupAsync("range", "roundrobin");

        var rejoin = _coordinator.JoinGroupAsync(Join(instanceId: "i2", protocols: "roundrobin")).AsTask();

        Assert.False(rejoin.IsCompleted);
        Assert.Equal(ClassicGroupState.PreparingRebalance, _coordinator.GroupState("g"));
        var leaderRejoin = await _coordinator.JoinGroupAsync(Join(leader.MemberId, instanceId: "i1", protocols: ["range", "roundrobin"]));
        var result = await rejoin;
        Assert.Equal((2, 2, "roundrobin"), (leaderRejoin.GenerationId, result.GenerationId, result.ProtocolName));
    }

    [Fact]
    public async Task OffsetCommit_Validation_AsKafka()
    {
        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetCommit("simple", -1, "", null, true));
        Assert.Equal(ErrorCode.IllegalGeneration, _coordinator.ValidateOffsetCommit("missing", 1, "m", null, false));
        Assert.Equal(ErrorCode.GroupIdNotFound, _coordinator.ValidateOffsetCommit("missing", 1, "m", null, true));

        var (leader, _) = await FormGroupAsync();
        Assert.Equal(ErrorCode.RebalanceInProgress, _coordinator.ValidateOffsetCommit("g", 1, leader.MemberId, null, true));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.ValidateOffsetCommit("g", -1, "", null, true));
        Assert.Equal(ErrorCode.IllegalGeneration, _coordinator.ValidateOffsetCommit("g", 7, leader.MemberId, null, true));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.ValidateOffsetCommit("g", 1, "nobody", null, true));
    }

    [Fact]
    public void CommitOffset_Stored_WithMetadataAndEpoch()
    {
        _coordinator.CommitOffsets("g", [new OffsetToCommit(new TopicPartition("t", 0), 42, 3, null)]);
        Assert.True(_coordinator.Offsets.TryGet("g", new TopicPartition("t", 0), out var offset));
        Assert.Equal((42L, 3, ""), (offset.Offset, offset.LeaderEpoch, offset.Metadata));
    }
}
