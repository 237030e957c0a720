using System.Net;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class DescribeGroupsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    private Task<DescribeGroupsResponse> DescribeAsync(short version, bool includeOperations, params string[] groups) =>
        BrokerExchange.SendAsync<DescribeGroupsResponse>(_broker, ApiKey.DescribeGroups, version, new DescribeGroupsRequest
        {
            Groups = [.. groups],
            IncludeAuthorizedOperations = version >= 3 && includeOperations,
        });

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task DescribeGroups_StableGroup_EveryVersion(short version)
    {
        var (member, _) = await GroupFlow.StableMemberAsync(_broker, "g");

        var response = await DescribeAsync(version, includeOperations: false, "g");

        Assert.Equal(0, response.ThrottleTimeMs);
        var group = Assert.Single(response.Groups);
        Assert.Equal((0, (string?)null, "g", "Stable"), (group.ErrorCode, group.ErrorMessage, group.GroupId, group.GroupState));
        Assert.Equal((GroupFlow.ProtocolType, GroupFlow.Protocol), (group.ProtocolType, group.ProtocolData));
        Assert.Equal(int.MinValue, group.AuthorizedOperations);
        var m = Assert.Single(group.Members);
        Assert.Equal((member, (string?)null, "test", ""), (m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost));
        Assert.Equal(GroupFlow.Subscription, m.MemberMetadata);
        Assert.Equal(GroupFlow.Assignment, m.MemberAssignment);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task DescribeGroups_UnknownGroupBeforeV6_DeadWithoutError(short version)
    {
        var group = Assert.Single((await DescribeAsync(version, includeOperations: false, "nope")).Groups);

        Assert.Equal((0, "nope", "Dead", "", ""), (group.ErrorCode, group.GroupId, group.GroupState, group.ProtocolType, group.ProtocolData));
        Assert.Null(group.ErrorMessage);
        Assert.Empty(group.Members);
    }

    [Fact]
    public async Task DescribeGroups_UnknownGroupV6_GroupIdNotFoundWithMessage()
    {
        var group = Assert.Single((await DescribeAsync(6, includeOperations: true, "nope")).Groups);

        Assert.Equal(((short)ErrorCode.GroupIdNotFound, "Group nope not found.", "Dead"), (group.ErrorCode, group.ErrorMessage, group.GroupState));
        Assert.Equal(int.MinValue, group.AuthorizedOperations);
        Assert.Empty(group.Members);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task DescribeGroups_IncludeAuthorizedOperations_EveryGroupOperation(short version)
    {
        await GroupFlow.StableMemberAsync(_broker, "g");

        var response = await DescribeAsync(version, includeOperations: true, "g", "nope");

        // READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS: what Kafka reports with no authorizer.
        Assert.Equal(0b1101_0100_1000, response.Groups[0].AuthorizedOperations);
        Assert.Equal(version < 6 ? 0b1101_0100_1000 : int.MinValue, response.Groups[1].AuthorizedOperations);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(6)]
    public async Task DescribeGroups_StaticMember_InstanceIdFromV4(short version)
    {
        var join = await GroupFlow.JoinAsync(_broker, "g", "", 5, instanceId: "instance-1");
        Assert.Equal(0, (await GroupFlow.SyncAsync(_broker, "g", join.GenerationId, join.MemberId)).ErrorCode);

        var m = Assert.Single(Assert.Single((await DescribeAsync(version, includeOperations: false, "g")).Groups).Members);

        Assert.Equal(version >= 4 ? "instance-1" : null, m.GroupInstanceId);
        Assert.Equal(join.MemberId, m.MemberId);
    }

    [Fact]
    public async Task DescribeGroups_Rebalancing_NoProtocolNoMetadata()
    {
        var (member, _) = await GroupFlow.StableMemberAsync(_broker, "g");
        var second = await GroupFlow.JoinAsync(_broker, "g", "");
        var secondJoin = GroupFlow.JoinAsync(_broker, "g", second.MemberId);

        var group = Assert.Single((await DescribeAsync(6, includeOperations: false, "g")).Groups);

        Assert.Equal(("PreparingRebalance", GroupFlow.ProtocolType, ""), (group.GroupState, group.ProtocolType, group.ProtocolData));
        Assert.Equal(2, group.Members.Count);
        Assert.All(group.Members, m => Assert.Empty(m.MemberMetadata));
        Assert.Equal(GroupFlow.Assignment, group.Members[0].MemberAssignment);
        await GroupFlow.JoinAsync(_broker, "g", member);
        Assert.Equal(0, (await secondJoin).ErrorCode);
    }

    [Fact]
    public async Task DescribeGroups_SimpleConsumerGroup_EmptyWithoutProtocolType()
    {
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "simple", -1, "", "t", 5)).Topics).Partitions).ErrorCode);

        var group = Assert.Single((await DescribeAsync(5, includeOperations: false, "simple")).Groups);

        Assert.Equal((0, "Empty", "", ""), (group.ErrorCode, group.GroupState, group.ProtocolType, group.ProtocolData));
        Assert.Empty(group.Members);
    }

    [Fact]
    public async Task DescribeGroups_NoGroups_EmptyAnswer()
    {
        Assert.Empty((await DescribeAsync(6, includeOperations: false)).Groups);
    }

    [Fact]
    public void ClientAddress_Format_AsJavaInetAddress()
    {
        Assert.Equal("/127.0.0.1", ClientAddress.Format(new IPEndPoint(IPAddress.Loopback, 5555)));
        Assert.Equal("/127.0.0.1", ClientAddress.Format(new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 5555)));
        Assert.Equal("/0:0:0:0:0:0:0:1", ClientAddress.Format(new IPEndPoint(IPAddress.IPv6Loopback, 5555)));
        Assert.Equal("/fe80:0:0:0:0:0:0:1%3", ClientAddress.Format(new IPEndPoint(IPAddress.Parse("fe80::1%3"), 5555)));
        Assert.Equal("", ClientAddress.Format(null));
    }
}
