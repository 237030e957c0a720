using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>Shared KIP-848 requests for the handler tests.</summary>
internal static class ConsumerFlow
{
    public static ConsumerGroupHeartbeatRequest JoinRequest(string group, string memberId, string topic = "t", string? instanceId = null) => new()
    {
        GroupId = group,
        MemberId = memberId,
        MemberEpoch = 0,
        InstanceId = instanceId,
        RebalanceTimeoutMs = 30_000,
        SubscribedTopicNames = [topic],
        TopicPartitions = [],
    };

    public static Task<ConsumerGroupHeartbeatResponse> HeartbeatAsync(TestBroker broker, ConsumerGroupHeartbeatRequest request, short version = 1) =>
        BrokerExchange.SendAsync<ConsumerGroupHeartbeatResponse>(broker, ApiKey.ConsumerGroupHeartbeat, version, request);
}

[Trait(Categories.Name, Categories.Unit)]
public sealed class ConsumerGroupHeartbeatHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task ConsumerGroupHeartbeat_JoinHeartbeatCommitLeave_EveryVersion(short version)
    {
        var topicId = DataPath.CreateTopic(_broker, "t", partitions: 3);

        var join = await ConsumerFlow.HeartbeatAsync(_broker, ConsumerFlow.JoinRequest("g", "m1"), version);

        Assert.Equal((0, null, "m1", 1, 5000), (join.ErrorCode, join.ErrorMessage, join.MemberId, join.MemberEpoch, join.HeartbeatIntervalMs));
        var assigned = Assert.Single(join.Assignment!.TopicPartitions);
        Assert.Equal(topicId, assigned.TopicId);
        Assert.Equal([0, 1, 2], assigned.Partitions);

        // A plain heartbeat without changes carries no assignment.
        var beat = await ConsumerFlow.HeartbeatAsync(_broker, new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "m1", MemberEpoch = 1 }, version);
        Assert.Equal((0, 1), (beat.ErrorCode, beat.MemberEpoch));
        Assert.Null(beat.Assignment);

        // Offsets commit with the member epoch (OffsetCommit v9+), and a stale epoch is refused.
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g", 1, "m1", "t", 5)).Topics).Partitions).ErrorCode);
        Assert.Equal((short)ErrorCode.StaleMemberEpoch, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g", 2, "m1", "t", 5)).Topics).Partitions).ErrorCode);
        Assert.Equal(5, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "t", 0)).Topics).Partitions).CommittedOffset);

        var leave = await ConsumerFlow.HeartbeatAsync(_broker, new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "m1", MemberEpoch = -1 }, version);
        Assert.Equal((0, "m1", -1), (leave.ErrorCode, leave.MemberId, leave.MemberEpoch));
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_V0WithoutMemberId_CoordinatorPicksOne()
    {
        DataPath.CreateTopic(_broker, "t");

        var v0 = await ConsumerFlow.HeartbeatAsync(_broker, ConsumerFlow.JoinRequest("g", ""), 0);
        var v1 = await ConsumerFlow.HeartbeatAsync(_broker, ConsumerFlow.JoinRequest("g", ""), 1);

        Assert.Equal(0, v0.ErrorCode);
        Assert.False(string.IsNullOrEmpty(v0.MemberId));
        Assert.Equal(((short)ErrorCode.InvalidRequest, "MemberId can't be empty."), (v1.ErrorCode, v1.ErrorMessage));
        Assert.Null(v1.MemberId);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task ConsumerGroupHeartbeat_Errors_KafkaCodesAndMessages(short version)
    {
        DataPath.CreateTopic(_broker, "t");
        await ConsumerFlow.HeartbeatAsync(_broker, ConsumerFlow.JoinRequest("g", "m1"), version);

        var fenced = await ConsumerFlow.HeartbeatAsync(_broker, new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "m1", MemberEpoch = 7 }, version);
        var unknown = await ConsumerFlow.HeartbeatAsync(_broker, new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "zz", MemberEpoch = 1 }, version);
        var noGroup = await ConsumerFlow.HeartbeatAsync(_broker, new ConsumerGroupHeartbeatRequest { GroupId = "other", MemberId = "zz", MemberEpoch = 1 }, version);
        var second = await ConsumerFlow.HeartbeatAsync(_broker, ConsumerFlow.JoinRequest("g", "m2"), version);
        var noRebalanceTimeout = await ConsumerFlow.HeartbeatAsync(_broker, new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "m3", SubscribedTopicNames = ["t"], TopicPartitions = [] }, version);

        Assert.Equal((short)ErrorCode.FencedMemberEpoch, fenced.ErrorCode);
        Assert.Equal((short)ErrorCode.UnknownMemberId, unknown.ErrorCode);
        Assert.Equal(((short)ErrorCode.GroupIdNotFound, "Consumer group other not found."), (noGroup.ErrorCode, noGroup.ErrorMessage));
        Assert.Equal((0, 2), (second.ErrorCode, second.MemberEpoch));
        Assert.Equal(((short)ErrorCode.InvalidRequest, "RebalanceTimeoutMs must be provided in first request."), (noRebalanceTimeout.ErrorCode, noRebalanceTimeout.ErrorMessage));
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_UnsupportedAssignor_UnsupportedAssignor()
    {
        var request = ConsumerFlow.JoinRequest("g", "m1");
        request.ServerAssignor = "cooperative";

        var response = await ConsumerFlow.HeartbeatAsync(_broker, request);

        Assert.Equal(((short)ErrorCode.UnsupportedAssignor, "ServerAssignor cooperative is not supported. Supported assignors: uniform, range."), (response.ErrorCode, response.ErrorMessage));
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_V1Regex_SubscribesMatchingTopics()
    {
        var orders = DataPath.CreateTopic(_broker, "orders-1", partitions: 2);
        DataPath.CreateTopic(_broker, "payments", partitions: 2);
        var request = ConsumerFlow.JoinRequest("g", "m1");
        request.SubscribedTopicNames = null;
        request.SubscribedTopicRegex = "orders-.*";

        var response = await ConsumerFlow.HeartbeatAsync(_broker, request);
        request.SubscribedTopicRegex = "orders-(";
        request.MemberId = "m2";
        var invalid = await ConsumerFlow.HeartbeatAsync(_broker, request);

        Assert.Equal(orders, Assert.Single(response.Assignment!.TopicPartitions).TopicId);
        Assert.Equal((short)ErrorCode.InvalidRegularExpression, invalid.ErrorCode);
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_ClassicGroupWithMembersMigrationDisabled_GroupIdNotFound()
    {
        using var broker = new TestBroker("group.initial.rebalance.delay.ms=0\ngroup.consumer.migration.policy=disabled");
        await GroupFlow.StableMemberAsync(broker, "g");

        var response = await ConsumerFlow.HeartbeatAsync(broker, ConsumerFlow.JoinRequest("g", "m1"));

        Assert.Equal(((short)ErrorCode.GroupIdNotFound, "Group g is not a consumer group."), (response.ErrorCode, response.ErrorMessage));
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_ClassicGroupWithMembers_UpgradedAndClassicMemberToldToRejoin()
    {
        // A well-formed ConsumerProtocolSubscription v0 (topics, user data): the upgrade parses it.
        byte[] subscription = [0, 0, 0, 0, 0, 1, 0, 1, (byte)'t', 0, 0, 0, 0];
        var join = GroupFlow.JoinRequest("g", "", 5);
        join.Protocols[0].Metadata = subscription;
        var classicMember = (await BrokerExchange.SendAsync<JoinGroupResponse>(_broker, ApiKey.JoinGroup, 5, join)).MemberId;
        join.MemberId = classicMember;
        var generation = (await BrokerExchange.SendAsync<JoinGroupResponse>(_broker, ApiKey.JoinGroup, 5, join)).GenerationId;
        Assert.Equal(0, (await GroupFlow.SyncAsync(_broker, "g", generation, classicMember)).ErrorCode);

        var response = await ConsumerFlow.HeartbeatAsync(_broker, ConsumerFlow.JoinRequest("g", "m1"));

        Assert.Equal((short)ErrorCode.None, response.ErrorCode);
        Assert.Equal(generation + 1, response.MemberEpoch);
        Assert.Null(_broker.Context.GroupCoordinator.GroupState("g"));
        Assert.Equal((short)ErrorCode.RebalanceInProgress, (await GroupFlow.HeartbeatAsync(_broker, "g", generation, classicMember)).ErrorCode);
        var rejoin = await BrokerExchange.SendAsync<JoinGroupResponse>(_broker, ApiKey.JoinGroup, 5, join);
        Assert.Equal((0, generation + 1, GroupFlow.Protocol), ((int)rejoin.ErrorCode, rejoin.GenerationId, rejoin.ProtocolName));
        Assert.Equal(0, (await GroupFlow.SyncAsync(_broker, "g", rejoin.GenerationId, classicMember)).ErrorCode);
    }

    [Fact]
    public async Task OffsetFetch_V9ConsumerMember_ChecksMemberEpoch()
    {
        DataPath.CreateTopic(_broker, "t");
        await ConsumerFlow.HeartbeatAsync(_broker, ConsumerFlow.JoinRequest("g", "m1"));

        var current = await FetchV9Async("m1", 1);
        var stale = await FetchV9Async("m1", 4);
        var unknown = await FetchV9Async("zz", 1);
        var admin = await FetchV9Async(null, -1);

        Assert.Equal(0, Assert.Single(current.Groups).ErrorCode);
        Assert.Equal((short)ErrorCode.StaleMemberEpoch, Assert.Single(stale.Groups).ErrorCode);
        Assert.Equal((short)ErrorCode.UnknownMemberId, Assert.Single(unknown.Groups).ErrorCode);
        Assert.Equal(0, Assert.Single(admin.Groups).ErrorCode);
    }

    private Task<OffsetFetchResponse> FetchV9Async(string? memberId, int epoch) =>
        BrokerExchange.SendAsync<OffsetFetchResponse>(_broker, ApiKey.OffsetFetch, 9, new OffsetFetchRequest
        {
            Groups =
            [
                new OffsetFetchRequest.OffsetFetchRequestGroup
                {
                    GroupId = "g",
                    MemberId = memberId,
                    MemberEpoch = epoch,
                    Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = "t", PartitionIndexes = [0] }],
                },
            ],
        });
}
