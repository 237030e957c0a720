using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class HeartbeatHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Heartbeat_FullFlow_EveryVersion(short version)
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");

        var heartbeat = await GroupFlow.HeartbeatAsync(_broker, "g", generation, member, version);

        Assert.Equal((0, 0), (heartbeat.ErrorCode, heartbeat.ThrottleTimeMs));
        var commit = await GroupFlow.CommitAsync(_broker, "g", generation, member, "t", 8);
        Assert.Equal(0, Assert.Single(Assert.Single(commit.Topics).Partitions).ErrorCode);
        Assert.Equal(8, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "t", 0)).Topics).Partitions).CommittedOffset);
        Assert.Equal(0, (await GroupFlow.LeaveAsync(_broker, "g", member)).ErrorCode);
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await GroupFlow.HeartbeatAsync(_broker, "g", generation, member, version)).ErrorCode);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public async Task Heartbeat_UnknownMember_UnknownMemberId(short version)
    {
        var (_, generation) = await GroupFlow.StableMemberAsync(_broker, "g");

        var heartbeat = await GroupFlow.HeartbeatAsync(_broker, "g", generation, "not-a-member", version);

        Assert.Equal((short)ErrorCode.UnknownMemberId, heartbeat.ErrorCode);
    }

    [Fact]
    public async Task Heartbeat_UnknownGroup_UnknownMemberId()
    {
        var heartbeat = await GroupFlow.HeartbeatAsync(_broker, "nope", 1, "m");

        Assert.Equal((short)ErrorCode.UnknownMemberId, heartbeat.ErrorCode);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public async Task Heartbeat_WrongGeneration_IllegalGeneration(short version)
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");

        var heartbeat = await GroupFlow.HeartbeatAsync(_broker, "g", generation + 1, member, version);

        Assert.Equal((short)ErrorCode.IllegalGeneration, heartbeat.ErrorCode);
    }

    [Fact]
    public async Task Heartbeat_WhileRebalancing_RebalanceInProgress()
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        var second = await GroupFlow.JoinAsync(_broker, "g", "");
        var secondJoin = GroupFlow.JoinAsync(_broker, "g", second.MemberId);

        var heartbeat = await GroupFlow.HeartbeatAsync(_broker, "g", generation, member);

        Assert.Equal((short)ErrorCode.RebalanceInProgress, heartbeat.ErrorCode);
        await GroupFlow.JoinAsync(_broker, "g", member);
        Assert.Equal(0, (await secondJoin).ErrorCode);
    }

    [Fact]
    public async Task Heartbeat_StaticMemberOldMemberIdV3_FencedInstanceId()
    {
        var join = await GroupFlow.JoinAsync(_broker, "g", "", 5, instanceId: "instance-1");
        Assert.Equal(0, (await GroupFlow.SyncAsync(_broker, "g", join.GenerationId, join.MemberId)).ErrorCode);

        var heartbeat = await BrokerExchange.SendAsync<HeartbeatResponse>(
            _broker, ApiKey.Heartbeat, 3, new HeartbeatRequest { GroupId = "g", GenerationId = join.GenerationId, MemberId = "old-id", GroupInstanceId = "instance-1" });

        Assert.Equal((short)ErrorCode.FencedInstanceId, heartbeat.ErrorCode);
    }
}
