using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>KIP-848 consumer groups seen through ListGroups, DescribeGroups, DeleteGroups, OffsetDelete and retention.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class ConsumerGroupAdminTests : IDisposable
{
    private static readonly KafkaUuid Orders = new(1, 1);
    private readonly ManualTimeProvider _time = new();
    private readonly GroupCoordinator _coordinator;

    public ConsumerGroupAdminTests()
    {
        _coordinator = new GroupCoordinator(
            new GroupCoordinatorConfig { OffsetRetention = new OffsetRetentionConfig(3_600_000, 60_000) },
            _ => new InMemoryOffsetStore(),
            _time,
            NullLogger<GroupCoordinator>.Instance)
        { TopicView = new OneTopic() };
    }

    public void Dispose() => _coordinator.Dispose();

    private ConsumerGroupHeartbeatResult Join(string group, string memberId) =>
        _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = group,
            MemberId = memberId,
            MemberEpoch = 0,
            RebalanceTimeoutMs = 30_000,
            SubscribedTopicNames = ["orders"],
            TopicPartitions = [],
            ClientId = "client",
            ClientHost = "/127.0.0.1",
        });

    private void Leave(string group, string memberId) =>
        Assert.Equal(ErrorCode.None, _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = group, MemberId = memberId, MemberEpoch = -1 }).Error);

    private void Commit(string group, int partition, long offset)
    {
        Assert.Equal(ErrorCode.None, _coordinator.CommitOffsets(group, [new OffsetToCommit(new TopicPartition("orders", partition), offset, -1, "")]));
    }

    [Fact]
    public void ListGroups_ConsumerGroup_ListedOnceWithConsumerTypeAndState()
    {
        Assert.Equal(ErrorCode.None, Join("cg", "m1").Error);
        Commit("cg", 0, 5);
        _coordinator.ValidateOffsetCommit("simple", -1, "", null, true);
        Commit("simple", 0, 1);

        var all = _coordinator.ListGroups([], []);
        var consumerOnly = _coordinator.ListGroups([], ["Consumer"]);
        var classicOnly = _coordinator.ListGroups([], ["classic"]);

        Assert.Equal(new ListedGroup("cg", "consumer", "Stable", "consumer"), Assert.Single(all, g => g.GroupId == "cg"));
        Assert.Equal("cg", Assert.Single(consumerOnly).GroupId);
        Assert.Equal("simple", Assert.Single(classicOnly).GroupId);
        Assert.Equal("cg", Assert.Single(_coordinator.ListGroups(["stable"], [])).GroupId);
    }

    [Fact]
    public void DescribeGroups_ConsumerGroup_AsKafkaDescribesIt()
    {
        var joined = Join("cg", "m1");

        var described = Assert.Single(_coordinator.DescribeGroups(["cg"]));

        Assert.Equal((ErrorCode.None, "Stable", "consumer", "uniform"), (described.Error, described.State, described.ProtocolType, described.ProtocolData));
        var member = Assert.Single(described.Members);
        Assert.Equal(("m1", "client", "/127.0.0.1"), (member.MemberId, member.ClientId, member.ClientHost));
        var subscription = Decode<ConsumerProtocolSubscription>(member.Metadata);
        Assert.Equal(["orders"], subscription.Topics);
        var assignment = Decode<ConsumerProtocolAssignment>(member.Assignment);
        var assigned = Assert.Single(assignment.AssignedPartitions);
        Assert.Equal("orders", assigned.Topic);
        Assert.Equal(joined.Assignment![Orders], assigned.Partitions);
    }

    [Fact]
    public void DeleteGroups_ConsumerGroupWithMembersThenEmpty_NonEmptyThenDeletedWithOffsets()
    {
        Join("cg", "m1");
        Commit("cg", 0, 5);

        Assert.Equal(ErrorCode.NonEmptyGroup, Assert.Single(_coordinator.DeleteGroups(["cg"])).Error);
        Leave("cg", "m1");
        Assert.Equal(ErrorCode.None, Assert.Single(_coordinator.DeleteGroups(["cg"])).Error);

        Assert.Null(_coordinator.ConsumerGroupStateOf("cg"));
        Assert.False(_coordinator.Offsets.HasOffsets("cg"));
        Assert.Equal(ErrorCode.GroupIdNotFound, Assert.Single(_coordinator.DeleteGroups(["cg"])).Error);
    }

    [Fact]
    public void DeleteOffsets_ConsumerGroupSubscribed_GroupSubscribedToTopicUntilMemberLeaves()
    {
        Join("cg", "m1");
        Commit("cg", 0, 5);

        var refused = _coordinator.DeleteOffsets("cg", [("orders", [0])]);
        Assert.Equal((ErrorCode.None, ErrorCode.GroupSubscribedToTopic), (refused.Error, Assert.Single(Assert.Single(refused.Topics).Partitions).Error));

        Leave("cg", "m1");
        var deleted = _coordinator.DeleteOffsets("cg", [("orders", [0])]);
        Assert.Equal(ErrorCode.None, Assert.Single(Assert.Single(deleted.Topics).Partitions).Error);
        Assert.False(_coordinator.Offsets.HasOffsets("cg"));
    }

    [Fact]
    public void Retention_ActiveConsumerGroup_KeepsOffsets_EmptyOneExpiresAndIsDeleted()
    {
        Join("cg", "m1");
        Commit("cg", 0, 5);
        for (var i = 0; i < 2 * 3600; i += 5)
        {
            Assert.Equal(ErrorCode.None, _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = "cg", MemberId = "m1", MemberEpoch = 1 }).Error);
            _time.Advance(5_000);
        }

        Assert.True(_coordinator.Offsets.HasOffsets("cg"));
        Leave("cg", "m1");
        _time.Advance(60_000);

        Assert.False(_coordinator.Offsets.HasOffsets("cg"));
        Assert.Null(_coordinator.ConsumerGroupStateOf("cg"));
    }

    [Fact]
    public void ValidateConsumerCommitPartition_OlderEpoch_AcceptedOnlyForPartitionsAssignedByThen()
    {
        var first = Join("cg", "m1");
        Assert.Equal([0, 1, 2], first.Assignment![Orders]);
        Join("cg", "m2");

        // m1 learns it must give up a partition, acknowledges, and moves to the new epoch.
        var revoke = _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = "cg", MemberId = "m1", MemberEpoch = 1, TopicPartitions = [new(Orders, [0, 1, 2])] });
        var kept = revoke.Assignment![Orders];
        Assert.Equal(1, revoke.MemberEpoch);
        var acked = _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = "cg", MemberId = "m1", MemberEpoch = 1, TopicPartitions = [new(Orders, [.. kept])] });
        Assert.True(acked.MemberEpoch > 1);
        var moved = new[] { 0, 1, 2 }.Except(kept).Single();

        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetCommit("cg", 1, "m1", null, true));
        Assert.Equal(ErrorCode.None, _coordinator.ValidateConsumerCommitPartition("cg", "m1", 1, "orders", kept.First()));
        Assert.Equal(ErrorCode.StaleMemberEpoch, _coordinator.ValidateConsumerCommitPartition("cg", "m1", 1, "orders", moved));
        Assert.Equal(ErrorCode.None, _coordinator.ValidateConsumerCommitPartition("cg", "m1", acked.MemberEpoch, "orders", moved));
        Assert.Equal(ErrorCode.StaleMemberEpoch, _coordinator.ValidateOffsetCommit("cg", acked.MemberEpoch + 1, "m1", null, true));
    }

    private static T Decode<T>(byte[] bytes)
        where T : IKafkaMessage, new()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 2, bytes.Length - 2));
        var message = new T();
        message.Read(ref reader, (short)((bytes[0] << 8) | bytes[1]));
        return message;
    }

    private sealed class OneTopic : IGroupTopicView
    {
        private static readonly GroupTopic OrdersTopic = new("orders", Orders, 3);

        public GroupTopic? Topic(string name) => name == "orders" ? OrdersTopic : null;

        public GroupTopic? Topic(KafkaUuid id) => id == Orders ? OrdersTopic : null;

        public IEnumerable<GroupTopic> AllTopics() => [OrdersTopic];
    }
}
