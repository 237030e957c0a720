using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class DeleteGroupsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    private Task<DeleteGroupsResponse> DeleteAsync(short version, params string[] groups) =>
        BrokerExchange.SendAsync<DeleteGroupsResponse>(_broker, ApiKey.DeleteGroups, version, new DeleteGroupsRequest { GroupsNames = [.. groups] });

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task DeleteGroups_EmptyGroup_EveryVersionDeletesGroupAndOffsets(short version)
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g", generation, member, "t", 42)).Topics).Partitions).ErrorCode);
        Assert.Equal(0, (await GroupFlow.LeaveAsync(_broker, "g", member)).ErrorCode);
        await GroupFlow.WaitForStateAsync(_broker, "g", Coordinator.ClassicGroupState.Empty);

        var response = await DeleteAsync(version, "g");

        Assert.Equal(0, response.ThrottleTimeMs);
        Assert.Equal([("g", (short)0)], response.Results.Select(r => (r.GroupId, r.ErrorCode)));
        var fetched = Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "t", 0)).Topics).Partitions);
        Assert.Equal((-1L, ""), (fetched.CommittedOffset, fetched.Metadata));
        Assert.Null(_broker.Context.GroupCoordinator.GroupState("g"));
        var listed = await BrokerExchange.SendAsync<ListGroupsResponse>(_broker, ApiKey.ListGroups, 5, new ListGroupsRequest());
        Assert.Empty(listed.Groups);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task DeleteGroups_GroupWithMembers_NonEmptyGroup(short version)
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");

        var response = await DeleteAsync(version, "g");

        Assert.Equal((short)ErrorCode.NonEmptyGroup, Assert.Single(response.Results).ErrorCode);
        Assert.Equal(0, (await GroupFlow.HeartbeatAsync(_broker, "g", generation, member)).ErrorCode);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task DeleteGroups_UnknownGroup_GroupIdNotFound(short version)
    {
        var response = await DeleteAsync(version, "nope", "");

        Assert.Equal([("nope", (short)ErrorCode.GroupIdNotFound), ("", (short)ErrorCode.GroupIdNotFound)], response.Results.Select(r => (r.GroupId, r.ErrorCode)));
    }

    [Fact]
    public async Task DeleteGroups_SimpleConsumerGroup_DeletedThenOffsetFetchEmpty()
    {
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "simple", -1, "", "t", 5)).Topics).Partitions).ErrorCode);

        var response = await DeleteAsync(2, "simple");

        Assert.Equal(0, Assert.Single(response.Results).ErrorCode);
        Assert.Equal(-1L, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "simple", "t", 0)).Topics).Partitions).CommittedOffset);
        Assert.Equal((short)ErrorCode.GroupIdNotFound, Assert.Single((await DeleteAsync(2, "simple")).Results).ErrorCode);
    }

    [Fact]
    public async Task DeleteGroups_MixedAndDuplicateNames_OneResultPerName()
    {
        await GroupFlow.StableMemberAsync(_broker, "active");
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "simple", -1, "", "t", 5)).Topics).Partitions).ErrorCode);

        var response = await DeleteAsync(1, "simple", "active", "nope", "simple");

        Assert.Equal(
            [("simple", (short)0), ("active", (short)ErrorCode.NonEmptyGroup), ("nope", (short)ErrorCode.GroupIdNotFound)],
            response.Results.Select(r => (r.GroupId, r.ErrorCode)));
    }

    [Fact]
    public async Task DeleteGroups_NoNames_EmptyAnswer()
    {
        Assert.Empty((await DeleteAsync(2)).Results);
    }
}
