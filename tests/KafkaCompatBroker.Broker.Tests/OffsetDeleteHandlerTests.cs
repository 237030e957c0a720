using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class OffsetDeleteHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public OffsetDeleteHandlerTests()
    {
        _broker.Metadata.CreateTopic("t", 2, 1);
        _broker.Metadata.CreateTopic("other", 1, 1);
    }

    public void Dispose() => _broker.Dispose();

    private Task<OffsetDeleteResponse> DeleteAsync(string group, params (string Topic, int[] Partitions)[] topics) =>
        BrokerExchange.SendAsync<OffsetDeleteResponse>(_broker, ApiKey.OffsetDelete, 0, new OffsetDeleteRequest
        {
            GroupId = group,
            Topics =
            [
                .. topics.Select(t => new OffsetDeleteRequest.OffsetDeleteRequestTopic
                {
                    Name = t.Topic,
                    Partitions = [.. t.Partitions.Select(p => new OffsetDeleteRequest.OffsetDeleteRequestPartition { PartitionIndex = p })],
                }),
            ],
        });

    private static IEnumerable<(string, int, short)> Results(OffsetDeleteResponse response) =>
        response.Topics.SelectMany(t => t.Partitions.Select(p => (t.Name, p.PartitionIndex, p.ErrorCode)));

    private async Task SimpleCommitAsync(string group, string topic, long offset)
    {
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, group, -1, "", topic, offset)).Topics).Partitions).ErrorCode);
    }

    private async Task<long> FetchAsync(string group, string topic) =>
        Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, group, topic, 0)).Topics).Partitions).CommittedOffset;

    [Fact]
    public async Task OffsetDelete_SimpleGroup_DeletesRequestedOffsets()
    {
        await SimpleCommitAsync("simple", "t", 5);
        await SimpleCommitAsync("simple", "other", 6);

        var response = await DeleteAsync("simple", ("t", [0, 1]));

        Assert.Equal((0, 0), (response.ErrorCode, response.ThrottleTimeMs));
        Assert.Equal([("t", 0, (short)0), ("t", 1, (short)0)], Results(response));
        Assert.Equal(-1L, await FetchAsync("simple", "t"));
        Assert.Equal(6L, await FetchAsync("simple", "other"));
    }

    [Fact]
    public async Task OffsetDelete_StableConsumerGroup_SubscribedTopicRefused()
    {
        // GroupFlow's members subscribe to topic "t".
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g", generation, member, "t", 8)).Topics).Partitions).ErrorCode);
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g", generation, member, "other", 9)).Topics).Partitions).ErrorCode);

        var response = await DeleteAsync("g", ("t", [0]), ("other", [0]));

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal([("t", 0, (short)ErrorCode.GroupSubscribedToTopic), ("other", 0, (short)0)], Results(response));
        Assert.Equal(8L, await FetchAsync("g", "t"));
        Assert.Equal(-1L, await FetchAsync("g", "other"));
    }

    [Fact]
    public async Task OffsetDelete_UnknownTopicOrPartition_ListedFirst()
    {
        await SimpleCommitAsync("simple", "t", 5);

        var response = await DeleteAsync("simple", ("t", [0, 7]), ("missing", [0, 1]));

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal(
            [("t", 7, (short)ErrorCode.UnknownTopicOrPartition), ("t", 0, (short)0), ("missing", 0, (short)ErrorCode.UnknownTopicOrPartition), ("missing", 1, (short)ErrorCode.UnknownTopicOrPartition)],
            Results(response));
        Assert.Equal(-1L, await FetchAsync("simple", "t"));
    }

    [Fact]
    public async Task OffsetDelete_EmptyGroupId_InvalidGroupId()
    {
        var response = await DeleteAsync("", ("t", [0]), ("missing", [0]));

        Assert.Equal((short)ErrorCode.InvalidGroupId, response.ErrorCode);
        Assert.Empty(response.Topics);
    }

    [Fact]
    public async Task OffsetDelete_UnknownGroup_GroupIdNotFound()
    {
        var response = await DeleteAsync("nope", ("t", [0]));

        Assert.Equal((short)ErrorCode.GroupIdNotFound, response.ErrorCode);
        Assert.Empty(response.Topics);
    }

    [Fact]
    public async Task OffsetDelete_ActiveGroupOfOtherProtocolType_NonEmptyGroup()
    {
        var request = GroupFlow.JoinRequest("connect-group", "", 3);
        request.ProtocolType = "connect";
        var join = await BrokerExchange.SendAsync<JoinGroupResponse>(_broker, ApiKey.JoinGroup, 3, request);
        Assert.Equal(0, join.ErrorCode);

        var response = await DeleteAsync("connect-group", ("t", [0]));

        Assert.Equal((short)ErrorCode.NonEmptyGroup, response.ErrorCode);
        Assert.Empty(response.Topics);
    }

    [Fact]
    public async Task OffsetDelete_GroupWhoseMembersLeft_DeletesSubscribedTopic()
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g", generation, member, "t", 8)).Topics).Partitions).ErrorCode);
        Assert.Equal(0, (await GroupFlow.LeaveAsync(_broker, "g", member)).ErrorCode);
        await GroupFlow.WaitForStateAsync(_broker, "g", Coordinator.ClassicGroupState.Empty);

        var response = await DeleteAsync("g", ("t", [0]));

        Assert.Equal([("t", 0, (short)0)], Results(response));
        Assert.Equal(-1L, await FetchAsync("g", "t"));
    }

    [Fact]
    public async Task OffsetDelete_NoTopics_OnlyGroupChecked()
    {
        await SimpleCommitAsync("simple", "t", 5);

        Assert.Equal(0, (await DeleteAsync("simple")).ErrorCode);
        Assert.Equal((short)ErrorCode.GroupIdNotFound, (await DeleteAsync("nope")).ErrorCode);
        Assert.Equal(5L, await FetchAsync("simple", "t"));
    }
}
