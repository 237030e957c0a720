using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>Classic-group requests shared by the consumer-group handler tests.</summary>
internal static class GroupFlow
{
    public const string ProtocolType = "consumer";
    public const string Protocol = "range";
    public static readonly byte[] Subscription = [0, 1, 0, 0, 0, 1, 0, 1, (byte)'t', 0, 0, 0, 0];
    public static readonly byte[] Assignment = [0, 1, 0, 0, 0, 1, 0, 1, (byte)'t', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0];

    public static TestBroker NewBroker() => new("group.initial.rebalance.delay.ms=0");

    public static JoinGroupRequest JoinRequest(string group, string memberId, short version, string? instanceId = null) => new()
    {
        GroupId = group,
        SessionTimeoutMs = 10_000,
        RebalanceTimeoutMs = version >= 1 ? 30_000 : -1,
        MemberId = memberId,
        GroupInstanceId = version >= 5 ? instanceId : null,
        ProtocolType = ProtocolType,
        Protocols = [new JoinGroupRequest.JoinGroupRequestProtocol { Name = Protocol, Metadata = Subscription }],
        Reason = version >= 8 ? "test join" : null,
    };

    public static Task<JoinGroupResponse> JoinAsync(TestBroker broker, string group, string memberId, short version = 9, string? instanceId = null) =>
        BrokerExchange.SendAsync<JoinGroupResponse>(broker, ApiKey.JoinGroup, version, JoinRequest(group, memberId, version, instanceId));

    /// <summary>Joins a new member, doing the MEMBER_ID_REQUIRED round trip for v4+.</summary>
    public static async Task<JoinGroupResponse> JoinNewMemberAsync(TestBroker broker, string group, short version = 9)
    {
        var first = await JoinAsync(broker, group, "", version);
        if (version < 4)
        {
            return first;
        }

        Assert.Equal((short)ErrorCode.MemberIdRequired, first.ErrorCode);
        return await JoinAsync(broker, group, first.MemberId, version);
    }

    public static SyncGroupRequest SyncRequest(string group, int generation, string memberId, short version, bool leader = true) => new()
    {
        GroupId = group,
        GenerationId = generation,
        MemberId = memberId,
        ProtocolType = version >= 5 ? ProtocolType : null,
        ProtocolName = version >= 5 ? Protocol : null,
        Assignments = leader ? [new SyncGroupRequest.SyncGroupRequestAssignment { MemberId = memberId, Assignment = Assignment }] : [],
    };

    public static Task<SyncGroupResponse> SyncAsync(TestBroker broker, string group, int generation, string memberId, short version = 5) =>
        BrokerExchange.SendAsync<SyncGroupResponse>(broker, ApiKey.SyncGroup, version, SyncRequest(group, generation, memberId, version));

    /// <summary>One member joined and synced: the group is stable.</summary>
    public static async Task<(string MemberId, int Generation)> StableMemberAsync(TestBroker broker, string group)
    {
        var join = await JoinNewMemberAsync(broker, group);
        Assert.Equal(0, join.ErrorCode);
        var sync = await SyncAsync(broker, group, join.GenerationId, join.MemberId);
        Assert.Equal(0, sync.ErrorCode);
        return (join.MemberId, join.GenerationId);
    }

    public static Task<HeartbeatResponse> HeartbeatAsync(TestBroker broker, string group, int generation, string memberId, short version = 4) =>
        BrokerExchange.SendAsync<HeartbeatResponse>(broker, ApiKey.Heartbeat, version, new HeartbeatRequest { GroupId = group, GenerationId = generation, MemberId = memberId });

    public static OffsetCommitRequest CommitRequest(string group, int generation, string memberId, short version, string topic, long offset, KafkaUuid topicId = default) => new()
    {
        GroupId = group,
        GenerationIdOrMemberEpoch = generation,
        MemberId = memberId,
        Topics =
        [
            new OffsetCommitRequest.OffsetCommitRequestTopic
            {
                Name = version >= 10 ? "" : topic,
                TopicId = version >= 10 ? topicId : default,
                Partitions = [new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = 0, CommittedOffset = offset, CommittedLeaderEpoch = version >= 6 ? 3 : -1, CommittedMetadata = "meta" }],
            },
        ],
    };

    /// <summary>Commits partition 0 of <paramref name="topic"/>, creating the topic first when it does not exist (OffsetCommit refuses unknown topics).</summary>
    public static Task<OffsetCommitResponse> CommitAsync(TestBroker broker, string group, int generation, string memberId, string topic, long offset, short version = 9, KafkaUuid topicId = default)
    {
        if (version < 10 && broker.Metadata.Image.GetTopic(topic) is null)
        {
            DataPath.CreateTopic(broker, topic);
        }

        return BrokerExchange.SendAsync<OffsetCommitResponse>(broker, ApiKey.OffsetCommit, version, CommitRequest(group, generation, memberId, version, topic, offset, topicId));
    }

    public static Task<OffsetFetchResponse> FetchV7Async(TestBroker broker, string group, string topic, params int[] partitions) =>
        BrokerExchange.SendAsync<OffsetFetchResponse>(broker, ApiKey.OffsetFetch, 7, new OffsetFetchRequest
        {
            GroupId = group,
            Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = topic, PartitionIndexes = [.. partitions] }],
        });

    /// <summary>
    /// Waits for a group state. The coordinator completes the join phase of a group whose last member
    /// left on a 0 ms timer rather than at once (Kafka does it synchronously), hence the wait.
    /// </summary>
    public static Task WaitForStateAsync(TestBroker broker, string group, Coordinator.ClassicGroupState state) =>
        Eventually.UntilAsync(() => broker.Context.GroupCoordinator.GroupState(group) == state, $"group {group} is {state}");

    public static Task<LeaveGroupResponse> LeaveAsync(TestBroker broker, string group, string memberId, short version = 5)
    {
        var request = new LeaveGroupRequest { GroupId = group };
        if (version >= 3)
        {
            request.Members.Add(new LeaveGroupRequest.MemberIdentity { MemberId = memberId, Reason = version >= 5 ? "done" : null });
        }
        else
        {
            request.MemberId = memberId;
        }

        return BrokerExchange.SendAsync<LeaveGroupResponse>(broker, ApiKey.LeaveGroup, version, request);
    }
}

[Trait(Categories.Name, Categories.Unit)]
public sealed class JoinGroupHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    public async Task JoinGroup_FullFlow_EveryVersion(short version)
    {
        var join = await GroupFlow.JoinNewMemberAsync(_broker, "g", version);

        Assert.Equal(0, join.ErrorCode);
        Assert.Equal(1, join.GenerationId);
        Assert.StartsWith("test-", join.MemberId);
        Assert.Equal(join.MemberId, join.Leader);
        Assert.Equal(GroupFlow.Protocol, join.ProtocolName);
        Assert.Equal(version >= 7 ? GroupFlow.ProtocolType : null, join.ProtocolType);
        Assert.False(join.SkipAssignment);
        var member = Assert.Single(join.Members);
        Assert.Equal(join.MemberId, member.MemberId);
        Assert.Equal(GroupFlow.Subscription, member.Metadata);
        Assert.Null(member.GroupInstanceId);

        var sync = await GroupFlow.SyncAsync(_broker, "g", join.GenerationId, join.MemberId);
        Assert.Equal(0, sync.ErrorCode);
        Assert.Equal(GroupFlow.Assignment, sync.Assignment);
        Assert.Equal(0, (await GroupFlow.HeartbeatAsync(_broker, "g", join.GenerationId, join.MemberId)).ErrorCode);
        var commit = await GroupFlow.CommitAsync(_broker, "g", join.GenerationId, join.MemberId, "t", 42);
        Assert.Equal(0, Assert.Single(Assert.Single(commit.Topics).Partitions).ErrorCode);
        var fetched = Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "t", 0)).Topics).Partitions);
        Assert.Equal((42L, "meta"), (fetched.CommittedOffset, fetched.Metadata));
        Assert.Equal(0, (await GroupFlow.LeaveAsync(_broker, "g", join.MemberId)).ErrorCode);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(9)]
    public async Task JoinGroup_UnknownMemberV4Plus_MemberIdRequired(short version)
    {
        var first = await GroupFlow.JoinAsync(_broker, "g", "", version);

        Assert.Equal((short)ErrorCode.MemberIdRequired, first.ErrorCode);
        Assert.StartsWith("test-", first.MemberId);
        Assert.Equal(-1, first.GenerationId);
        Assert.Equal("", first.Leader);
        Assert.Empty(first.Members);
        Assert.Equal(version >= 7 ? null : "", first.ProtocolName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public async Task JoinGroup_EmptyMemberIdBeforeV4_JoinsAtOnce(short version)
    {
        var join = await GroupFlow.JoinAsync(_broker, "g", "", version);

        Assert.Equal(0, join.ErrorCode);
        Assert.Equal(1, join.GenerationId);
        Assert.NotEqual("", join.MemberId);
    }

    [Fact]
    public async Task JoinGroup_UnknownMemberId_UnknownMemberId()
    {
        await GroupFlow.StableMemberAsync(_broker, "g");

        var join = await GroupFlow.JoinAsync(_broker, "g", "not-a-member");

        Assert.Equal((short)ErrorCode.UnknownMemberId, join.ErrorCode);
    }

    [Fact]
    public async Task JoinGroup_StaticMemberV5_InstanceIdReturned()
    {
        var join = await GroupFlow.JoinAsync(_broker, "g", "", 5, instanceId: "instance-1");

        Assert.Equal(0, join.ErrorCode);
        Assert.Equal("instance-1", Assert.Single(join.Members).GroupInstanceId);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    public async Task JoinGroup_StaticLeaderRestartsWhileStable_SameGenerationNoRebalance(short version)
    {
        var first = await GroupFlow.JoinAsync(_broker, "g", "", version, instanceId: "instance-1");
        Assert.Equal(0, (await GroupFlow.SyncAsync(_broker, "g", first.GenerationId, first.MemberId)).ErrorCode);

        var restarted = await GroupFlow.JoinAsync(_broker, "g", "", version, instanceId: "instance-1");

        Assert.Equal(0, restarted.ErrorCode);
        Assert.Equal(first.GenerationId, restarted.GenerationId);
        Assert.NotEqual(first.MemberId, restarted.MemberId);
        Assert.Equal(GroupFlow.Protocol, restarted.ProtocolName);
        if (version >= 9)
        {
            // The leader learns it leads but need not assign again.
            Assert.True(restarted.SkipAssignment);
            Assert.Equal(restarted.MemberId, restarted.Leader);
            Assert.Equal(restarted.MemberId, Assert.Single(restarted.Members).MemberId);
        }
        else
        {
            // Answered as a follower with the old leader id, so the client does not run its assignor.
            Assert.False(restarted.SkipAssignment);
            Assert.Equal(first.MemberId, restarted.Leader);
            Assert.Empty(restarted.Members);
        }

        Assert.Equal(Coordinator.ClassicGroupState.Stable, _broker.Context.GroupCoordinator.GroupState("g"));
        var syncRequest = GroupFlow.SyncRequest("g", restarted.GenerationId, restarted.MemberId, 5, leader: false);
        syncRequest.GroupInstanceId = "instance-1";
        var sync = await BrokerExchange.SendAsync<SyncGroupResponse>(_broker, ApiKey.SyncGroup, 5, syncRequest);
        Assert.Equal(0, sync.ErrorCode);
        Assert.Equal(GroupFlow.Assignment, sync.Assignment);
    }

    [Fact]
    public async Task JoinGroup_EmptyGroupId_InvalidGroupId()
    {
        var join = await GroupFlow.JoinAsync(_broker, "", "", 9);

        Assert.Equal((short)ErrorCode.InvalidGroupId, join.ErrorCode);
    }

    [Fact]
    public async Task JoinGroup_SecondMember_RebalanceCompletesForBoth()
    {
        var (leader, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        var second = await GroupFlow.JoinAsync(_broker, "g", "");
        Assert.Equal((short)ErrorCode.MemberIdRequired, second.ErrorCode);

        var secondJoin = GroupFlow.JoinAsync(_broker, "g", second.MemberId);
        Assert.Equal((short)ErrorCode.RebalanceInProgress, (await GroupFlow.HeartbeatAsync(_broker, "g", generation, leader)).ErrorCode);
        var leaderJoin = await GroupFlow.JoinAsync(_broker, "g", leader);
        var followerJoin = await secondJoin;

        Assert.Equal((0, 0), (leaderJoin.ErrorCode, followerJoin.ErrorCode));
        Assert.Equal((generation + 1, generation + 1), (leaderJoin.GenerationId, followerJoin.GenerationId));
        Assert.Equal(leader, leaderJoin.Leader);
        Assert.Equal(2, leaderJoin.Members.Count);
        Assert.Empty(followerJoin.Members);
    }
}
