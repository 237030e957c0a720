using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class OffsetFetchHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    private static OffsetFetchRequest Request(short version, string group, KafkaUuid topicId, params int[] partitions)
    {
        if (version < 8)
        {
            return new OffsetFetchRequest
            {
                GroupId = group,
                Topics = [new OffsetFetchRequest.OffsetFetchRequestTopic { Name = "t", PartitionIndexes = [.. partitions] }],
            };
        }

        return new OffsetFetchRequest
        {
            Groups =
            [
                new OffsetFetchRequest.OffsetFetchRequestGroup
                {
                    GroupId = group,
                    Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = version >= 10 ? "" : "t", TopicId = version >= 10 ? topicId : default, PartitionIndexes = [.. partitions] }],
                },
            ],
        };
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    public async Task OffsetFetch_FullFlow_EveryVersion(short version)
    {
        var topicId = DataPath.CreateTopic(_broker, "t", partitions: 2);
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        Assert.Equal(0, (await GroupFlow.HeartbeatAsync(_broker, "g", generation, member)).ErrorCode);
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g", generation, member, "t", 42)).Topics).Partitions).ErrorCode);

        var response = await BrokerExchange.SendAsync<OffsetFetchResponse>(_broker, ApiKey.OffsetFetch, version, Request(version, "g", topicId, 0, 1));

        if (version < 8)
        {
            Assert.Equal(0, response.ErrorCode);
            Assert.Empty(response.Groups);
            var topic = Assert.Single(response.Topics);
            Assert.Equal("t", topic.Name);
            Assert.Equal(2, topic.Partitions.Count);
            Assert.Equal((0, 42L, version >= 5 ? 3 : -1, "meta", (short)0), (topic.Partitions[0].PartitionIndex, topic.Partitions[0].CommittedOffset, topic.Partitions[0].CommittedLeaderEpoch, topic.Partitions[0].Metadata, topic.Partitions[0].ErrorCode));
            Assert.Equal((1, -1L, -1, "", (short)0), (topic.Partitions[1].PartitionIndex, topic.Partitions[1].CommittedOffset, topic.Partitions[1].CommittedLeaderEpoch, topic.Partitions[1].Metadata, topic.Partitions[1].ErrorCode));
        }
        else
        {
            Assert.Empty(response.Topics);
            var group = Assert.Single(response.Groups);
            Assert.Equal(("g", (short)0), (group.GroupId, group.ErrorCode));
            var topic = Assert.Single(group.Topics);
            Assert.Equal(version >= 10 ? "" : "t", topic.Name);
            Assert.Equal(version >= 10 ? topicId : default, topic.TopicId);
            Assert.Equal(2, topic.Partitions.Count);
            Assert.Equal((0, 42L, 3, "meta", (short)0), (topic.Partitions[0].PartitionIndex, topic.Partitions[0].CommittedOffset, topic.Partitions[0].CommittedLeaderEpoch, topic.Partitions[0].Metadata, topic.Partitions[0].ErrorCode));
            Assert.Equal((1, -1L, -1, "", (short)0), (topic.Partitions[1].PartitionIndex, topic.Partitions[1].CommittedOffset, topic.Partitions[1].CommittedLeaderEpoch, topic.Partitions[1].Metadata, topic.Partitions[1].ErrorCode));
        }

        Assert.Equal(0, (await GroupFlow.LeaveAsync(_broker, "g", member)).ErrorCode);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task OffsetFetch_UnknownGroup_NoOffsetNoError(short version)
    {
        var response = await BrokerExchange.SendAsync<OffsetFetchResponse>(_broker, ApiKey.OffsetFetch, version, Request(version, "nobody", default, 0));

        var partition = version < 8
            ? Assert.Single(Assert.Single(response.Topics).Partitions)
            : null;
        var batched = version >= 8
            ? Assert.Single(Assert.Single(Assert.Single(response.Groups).Topics).Partitions)
            : null;
        Assert.Equal((-1L, (short)0), partition is not null ? (partition.CommittedOffset, partition.ErrorCode) : (batched!.CommittedOffset, batched.ErrorCode));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(7)]
    public async Task OffsetFetch_NullTopicsV2Plus_EveryCommittedPartition(short version)
    {
        await GroupFlow.CommitAsync(_broker, "g", -1, "", "t", 5);
        await GroupFlow.CommitAsync(_broker, "g", -1, "", "u", 6);

        var response = await BrokerExchange.SendAsync<OffsetFetchResponse>(_broker, ApiKey.OffsetFetch, version, new OffsetFetchRequest { GroupId = "g", Topics = null });

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal(["t", "u"], response.Topics.Select(t => t.Name).Order());
        Assert.Equal([5L, 6L], response.Topics.OrderBy(t => t.Name).Select(t => Assert.Single(t.Partitions).CommittedOffset));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(9)]
    public async Task OffsetFetch_BatchedGroupsV8Plus_AnswerPerGroup(short version)
    {
        await GroupFlow.CommitAsync(_broker, "g1", -1, "", "t", 1);
        await GroupFlow.CommitAsync(_broker, "g2", -1, "", "t", 2);
        var request = new OffsetFetchRequest
        {
            Groups =
            [
                new OffsetFetchRequest.OffsetFetchRequestGroup { GroupId = "g1", Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = "t", PartitionIndexes = [0] }] },
                new OffsetFetchRequest.OffsetFetchRequestGroup { GroupId = "g2", Topics = null },
                new OffsetFetchRequest.OffsetFetchRequestGroup { GroupId = "g3", Topics = [new OffsetFetchRequest.OffsetFetchRequestTopics { Name = "t", PartitionIndexes = [0] }] },
            ],
        };

        var response = await BrokerExchange.SendAsync<OffsetFetchResponse>(_broker, ApiKey.OffsetFetch, version, request);

        Assert.Equal(["g1", "g2", "g3"], response.Groups.Select(g => g.GroupId));
        Assert.All(response.Groups, g => Assert.Equal(0, g.ErrorCode));
        Assert.Equal(1, Assert.Single(Assert.Single(response.Groups[0].Topics).Partitions).CommittedOffset);
        Assert.Equal(2, Assert.Single(Assert.Single(response.Groups[1].Topics).Partitions).CommittedOffset);
        Assert.Equal(-1, Assert.Single(Assert.Single(response.Groups[2].Topics).Partitions).CommittedOffset);
    }

    [Fact]
    public async Task OffsetFetch_UnknownTopicIdV10_UnknownTopicId()
    {
        var unknown = KafkaUuid.NewRandom();

        var response = await BrokerExchange.SendAsync<OffsetFetchResponse>(_broker, ApiKey.OffsetFetch, 10, Request(10, "g", unknown, 0));

        var topic = Assert.Single(Assert.Single(response.Groups).Topics);
        Assert.Equal(unknown, topic.TopicId);
        Assert.Equal((short)ErrorCode.UnknownTopicId, Assert.Single(topic.Partitions).ErrorCode);
    }
}
