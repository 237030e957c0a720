using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class OffsetCommitHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    private static short CommitError(OffsetCommitResponse response) => Assert.Single(Assert.Single(response.Topics).Partitions).ErrorCode;

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    public async Task OffsetCommit_FullFlow_EveryVersion(short version)
    {
        var topicId = DataPath.CreateTopic(_broker, "t");
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        Assert.Equal(0, (await GroupFlow.HeartbeatAsync(_broker, "g", generation, member)).ErrorCode);

        var commit = await GroupFlow.CommitAsync(_broker, "g", generation, member, "t", 42, version, topicId);

        var topic = Assert.Single(commit.Topics);
        Assert.Equal(version >= 10 ? "" : "t", topic.Name);
        Assert.Equal(version >= 10 ? topicId : default, topic.TopicId);
        var partition = Assert.Single(topic.Partitions);
        Assert.Equal((0, (short)0), (partition.PartitionIndex, partition.ErrorCode));
        var fetched = Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "t", 0)).Topics).Partitions);
        Assert.Equal((42L, version >= 6 ? 3 : -1, "meta", (short)0), (fetched.CommittedOffset, fetched.CommittedLeaderEpoch, fetched.Metadata, fetched.ErrorCode));
        Assert.Equal(0, (await GroupFlow.LeaveAsync(_broker, "g", member)).ErrorCode);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(9)]
    public async Task OffsetCommit_SimpleCommitWithoutGroup_Accepted(short version)
    {
        var commit = await GroupFlow.CommitAsync(_broker, "standalone", -1, "", "t", 7, version);

        Assert.Equal(0, CommitError(commit));
        Assert.Equal(7, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "standalone", "t", 0)).Topics).Partitions).CommittedOffset);
    }

    [Fact]
    public async Task OffsetCommit_UnknownMember_UnknownMemberId()
    {
        var (_, generation) = await GroupFlow.StableMemberAsync(_broker, "g");

        var commit = await GroupFlow.CommitAsync(_broker, "g", generation, "not-a-member", "t", 1);

        Assert.Equal((short)ErrorCode.UnknownMemberId, CommitError(commit));
    }

    [Fact]
    public async Task OffsetCommit_SimpleCommitToActiveGroup_UnknownMemberId()
    {
        await GroupFlow.StableMemberAsync(_broker, "g");

        var commit = await GroupFlow.CommitAsync(_broker, "g", -1, "", "t", 1);

        Assert.Equal((short)ErrorCode.UnknownMemberId, CommitError(commit));
    }

    [Fact]
    public async Task OffsetCommit_WrongGeneration_IllegalGeneration()
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");

        var commit = await GroupFlow.CommitAsync(_broker, "g", generation + 1, member, "t", 1);

        Assert.Equal((short)ErrorCode.IllegalGeneration, CommitError(commit));
    }

    [Fact]
    public async Task OffsetCommit_AwaitingLeaderSync_RebalanceInProgress()
    {
        var join = await GroupFlow.JoinNewMemberAsync(_broker, "g");

        var commit = await GroupFlow.CommitAsync(_broker, "g", join.GenerationId, join.MemberId, "t", 1);

        Assert.Equal((short)ErrorCode.RebalanceInProgress, CommitError(commit));
    }

    [Fact]
    public async Task OffsetCommit_PreparingRebalanceCurrentGeneration_Accepted()
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        var second = await GroupFlow.JoinAsync(_broker, "g", "");
        var secondJoin = GroupFlow.JoinAsync(_broker, "g", second.MemberId);

        var commit = await GroupFlow.CommitAsync(_broker, "g", generation, member, "t", 1);

        Assert.Equal(0, CommitError(commit));
        await GroupFlow.JoinAsync(_broker, "g", member);
        Assert.Equal(0, (await secondJoin).ErrorCode);
    }

    [Theory]
    [InlineData(8, ErrorCode.IllegalGeneration)]
    [InlineData(9, ErrorCode.GroupIdNotFound)]
    public async Task OffsetCommit_MissingGroupWithGeneration_ErrorByVersion(short version, ErrorCode expected)
    {
        var commit = await GroupFlow.CommitAsync(_broker, "missing", 1, "m", "t", 1, version);

        Assert.Equal((short)expected, CommitError(commit));
    }

    [Fact]
    public async Task OffsetCommit_EmptyGroupId_InvalidGroupId()
    {
        var commit = await GroupFlow.CommitAsync(_broker, "", -1, "", "t", 1);

        Assert.Equal((short)ErrorCode.InvalidGroupId, CommitError(commit));
    }

    [Fact]
    public async Task OffsetCommit_MetadataTooLarge_PerPartitionError()
    {
        DataPath.CreateTopic(_broker, "t", partitions: 2);
        var request = GroupFlow.CommitRequest("g", -1, "", 9, "t", 1);
        request.Topics[0].Partitions.Add(new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = 1, CommittedOffset = 2, CommittedMetadata = new string('x', 5000) });

        var commit = await BrokerExchange.SendAsync<OffsetCommitResponse>(_broker, ApiKey.OffsetCommit, 9, request);

        var partitions = Assert.Single(commit.Topics).Partitions;
        Assert.Equal((short)0, partitions[0].ErrorCode);
        Assert.Equal((short)ErrorCode.OffsetMetadataTooLarge, partitions[1].ErrorCode);
    }

    /// <summary>
    /// Kafka's KafkaApis.handleOffsetCommitRequest answers UNKNOWN_TOPIC_OR_PARTITION for partitions of unknown topics
    /// and unknown partitions of known topics, and still commits the valid partitions of the same request.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    public async Task OffsetCommit_UnknownTopicOrPartition_ThosePartitionsFailOthersCommitted(short version)
    {
        DataPath.CreateTopic(_broker, "t");
        var request = GroupFlow.CommitRequest("g", -1, "", version, "t", 5);
        request.Topics[0].Partitions.Add(new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = 3, CommittedOffset = 6 });
        request.Topics.Add(new OffsetCommitRequest.OffsetCommitRequestTopic
        {
            Name = "missing",
            Partitions = [new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = 0, CommittedOffset = 7 }],
        });

        var commit = await BrokerExchange.SendAsync<OffsetCommitResponse>(_broker, ApiKey.OffsetCommit, version, request);

        Assert.Equal(
            [("t", 0, (short)0), ("t", 3, (short)ErrorCode.UnknownTopicOrPartition), ("missing", 0, (short)ErrorCode.UnknownTopicOrPartition)],
            commit.Topics.SelectMany(t => t.Partitions.Select(p => (t.Name, p.PartitionIndex, p.ErrorCode))));
        var fetched = Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "t", 0, 3)).Topics).Partitions;
        Assert.Equal([(0, 5L), (3, -1L)], fetched.Select(p => (p.PartitionIndex, p.CommittedOffset)));
        Assert.Equal(-1, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "missing", 0)).Topics).Partitions).CommittedOffset);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(9)]
    public async Task OffsetCommit_OnlyUnknownTopics_UnknownTopicOrPartitionBeforeGroupErrors(short version)
    {
        var request = GroupFlow.CommitRequest("", 5, "m", version, "missing", 1);

        var commit = await BrokerExchange.SendAsync<OffsetCommitResponse>(_broker, ApiKey.OffsetCommit, version, request);

        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, CommitError(commit));
    }

    [Fact]
    public async Task OffsetCommit_V10UnknownTopicIdAndPartition_ValidPartitionsStillCommitted()
    {
        var topicId = DataPath.CreateTopic(_broker, "t");
        var unknownId = KafkaUuid.NewRandom();
        var request = GroupFlow.CommitRequest("g", -1, "", 10, "t", 5, topicId);
        request.Topics[0].Partitions.Add(new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = 3, CommittedOffset = 6 });
        request.Topics.Add(new OffsetCommitRequest.OffsetCommitRequestTopic
        {
            TopicId = unknownId,
            Partitions = [new OffsetCommitRequest.OffsetCommitRequestPartition { PartitionIndex = 0, CommittedOffset = 7 }],
        });

        var commit = await BrokerExchange.SendAsync<OffsetCommitResponse>(_broker, ApiKey.OffsetCommit, 10, request);

        Assert.Equal(
            [(topicId, 0, (short)0), (topicId, 3, (short)ErrorCode.UnknownTopicOrPartition), (unknownId, 0, (short)ErrorCode.UnknownTopicId)],
            commit.Topics.SelectMany(t => t.Partitions.Select(p => (t.TopicId, p.PartitionIndex, p.ErrorCode))));
        Assert.Equal(5, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "t", 0)).Topics).Partitions).CommittedOffset);
    }

    [Fact]
    public async Task OffsetCommit_V10UnknownTopicIdWithGroupError_UnknownTopicId()
    {
        var commit = await GroupFlow.CommitAsync(_broker, "missing", 1, "m", "t", 1, 10, KafkaUuid.NewRandom());

        Assert.Equal((short)ErrorCode.UnknownTopicId, CommitError(commit));
    }

    [Fact]
    public async Task OffsetCommit_UnknownTopicIdV10_UnknownTopicId()
    {
        var topicId = KafkaUuid.NewRandom();

        var commit = await GroupFlow.CommitAsync(_broker, "g", -1, "", "t", 1, 10, topicId);

        var topic = Assert.Single(commit.Topics);
        Assert.Equal(topicId, topic.TopicId);
        Assert.Equal((short)ErrorCode.UnknownTopicId, Assert.Single(topic.Partitions).ErrorCode);
    }
}
