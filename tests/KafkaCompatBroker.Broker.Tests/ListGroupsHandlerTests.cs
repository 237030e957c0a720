using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class ListGroupsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    private Task<ListGroupsResponse> ListAsync(short version, string[]? states = null, string[]? types = null) =>
        BrokerExchange.SendAsync<ListGroupsResponse>(_broker, ApiKey.ListGroups, version, new ListGroupsRequest
        {
            StatesFilter = version >= 4 ? [.. states ?? []] : [],
            TypesFilter = version >= 5 ? [.. types ?? []] : [],
        });

    /// <summary>A stable consumer group "g" and a simple consumer's group "simple" (offsets only).</summary>
    private async Task TwoGroupsAsync()
    {
        await GroupFlow.StableMemberAsync(_broker, "g");
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "simple", -1, "", "t", 5)).Topics).Partitions).ErrorCode);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task ListGroups_TwoGroups_EveryVersion(short version)
    {
        await TwoGroupsAsync();

        var response = await ListAsync(version);

        Assert.Equal((0, 0), (response.ErrorCode, response.ThrottleTimeMs));
        Assert.Equal(
            [
                ("g", GroupFlow.ProtocolType, version >= 4 ? "Stable" : "", version >= 5 ? "classic" : ""),
                ("simple", "", version >= 4 ? "Empty" : "", version >= 5 ? "classic" : ""),
            ],
            response.Groups.Select(g => (g.GroupId, g.ProtocolType, g.GroupState, g.GroupType)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(5)]
    public async Task ListGroups_NoGroups_EmptyList(short version)
    {
        var response = await ListAsync(version);

        Assert.Equal(0, response.ErrorCode);
        Assert.Empty(response.Groups);
    }

    [Theory]
    [InlineData(4, "Stable", "g")]
    [InlineData(5, "stable", "g")]
    [InlineData(4, "EMPTY", "simple")]
    [InlineData(5, "PreparingRebalance", null)]
    [InlineData(4, "nonsense", null)]
    public async Task ListGroups_StatesFilter_CaseInsensitive(short version, string state, string? expected)
    {
        await TwoGroupsAsync();

        var response = await ListAsync(version, states: [state]);

        Assert.Equal(expected is null ? [] : [expected], response.Groups.Select(g => g.GroupId));
    }

    [Theory]
    [InlineData("classic", 2)]
    [InlineData("CLASSIC", 2)]
    [InlineData("consumer", 0)]
    [InlineData("unknown", 0)]
    public async Task ListGroups_TypesFilterV5_CaseInsensitive(string type, int expected)
    {
        await TwoGroupsAsync();

        Assert.Equal(expected, (await ListAsync(5, types: [type])).Groups.Count);
    }

    [Fact]
    public async Task ListGroups_StatesAndTypesV5_BothApply()
    {
        await TwoGroupsAsync();

        var response = await ListAsync(5, states: ["Empty", "Stable"], types: ["classic"]);

        Assert.Equal(["g", "simple"], response.Groups.Select(g => g.GroupId));
        Assert.Empty((await ListAsync(5, states: ["Stable"], types: ["consumer"])).Groups);
    }
}
