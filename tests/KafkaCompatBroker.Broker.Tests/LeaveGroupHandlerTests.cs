using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class LeaveGroupHandlerTests : IDisposable
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
    public async Task LeaveGroup_FullFlow_EveryVersion(short version)
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        Assert.Equal(0, (await GroupFlow.HeartbeatAsync(_broker, "g", generation, member)).ErrorCode);
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g", generation, member, "t", 11)).Topics).Partitions).ErrorCode);
        Assert.Equal(11, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "t", 0)).Topics).Partitions).CommittedOffset);

        var leave = await GroupFlow.LeaveAsync(_broker, "g", member, version);

        Assert.Equal(0, leave.ErrorCode);
        if (version >= 3)
        {
            var response = Assert.Single(leave.Members);
            Assert.Equal((member, null, (short)0), (response.MemberId, response.GroupInstanceId, response.ErrorCode));
        }
        else
        {
            Assert.Empty(leave.Members);
        }

        await GroupFlow.WaitForStateAsync(_broker, "g", Coordinator.ClassicGroupState.Empty);
        Assert.Equal((short)ErrorCode.UnknownMemberId, (await GroupFlow.HeartbeatAsync(_broker, "g", generation, member)).ErrorCode);
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g", -1, "", "t", 12)).Topics).Partitions).ErrorCode);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task LeaveGroup_UnknownMemberBeforeV3_TopLevelUnknownMemberId(short version)
    {
        await GroupFlow.StableMemberAsync(_broker, "g");

        var leave = await GroupFlow.LeaveAsync(_broker, "g", "not-a-member", version);

        Assert.Equal((short)ErrorCode.UnknownMemberId, leave.ErrorCode);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    public async Task LeaveGroup_UnknownMemberV3Plus_ErrorPerMember(short version)
    {
        var (member, _) = await GroupFlow.StableMemberAsync(_broker, "g");
        var request = new LeaveGroupRequest
        {
            GroupId = "g",
            Members =
            [
                new LeaveGroupRequest.MemberIdentity { MemberId = "not-a-member" },
                new LeaveGroupRequest.MemberIdentity { MemberId = member },
            ],
        };

        var leave = await BrokerExchange.SendAsync<LeaveGroupResponse>(_broker, ApiKey.LeaveGroup, version, request);

        Assert.Equal(0, leave.ErrorCode);
        Assert.Equal(2, leave.Members.Count);
        Assert.Equal(("not-a-member", (short)ErrorCode.UnknownMemberId), (leave.Members[0].MemberId, leave.Members[0].ErrorCode));
        Assert.Equal((member, (short)0), (leave.Members[1].MemberId, leave.Members[1].ErrorCode));
    }

    [Fact]
    public async Task LeaveGroup_StaticMemberByInstanceIdV4_Removed()
    {
        var join = await GroupFlow.JoinAsync(_broker, "g", "", 5, instanceId: "instance-1");
        Assert.Equal(0, join.ErrorCode);
        var request = new LeaveGroupRequest { GroupId = "g", Members = [new LeaveGroupRequest.MemberIdentity { GroupInstanceId = "instance-1" }] };

        var leave = await BrokerExchange.SendAsync<LeaveGroupResponse>(_broker, ApiKey.LeaveGroup, 4, request);

        var member = Assert.Single(leave.Members);
        Assert.Equal(("", "instance-1", (short)0), (member.MemberId, member.GroupInstanceId, member.ErrorCode));
        await GroupFlow.WaitForStateAsync(_broker, "g", Coordinator.ClassicGroupState.Empty);
    }

    [Fact]
    public async Task LeaveGroup_StaticMemberWrongMemberIdV3_FencedInstanceId()
    {
        var join = await GroupFlow.JoinAsync(_broker, "g", "", 5, instanceId: "instance-1");
        Assert.Equal(0, join.ErrorCode);
        var request = new LeaveGroupRequest { GroupId = "g", Members = [new LeaveGroupRequest.MemberIdentity { MemberId = "old-id", GroupInstanceId = "instance-1" }] };

        var leave = await BrokerExchange.SendAsync<LeaveGroupResponse>(_broker, ApiKey.LeaveGroup, 3, request);

        Assert.Equal((short)ErrorCode.FencedInstanceId, Assert.Single(leave.Members).ErrorCode);
    }

    [Fact]
    public async Task LeaveGroup_OneOfTwoMembers_RemainingMemberRebalances()
    {
        var (leader, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        var second = await GroupFlow.JoinAsync(_broker, "g", "");
        var secondJoinTask = GroupFlow.JoinAsync(_broker, "g", second.MemberId);
        await GroupFlow.JoinAsync(_broker, "g", leader);
        var secondJoin = await secondJoinTask;

        Assert.Equal(0, (await GroupFlow.LeaveAsync(_broker, "g", second.MemberId)).ErrorCode);

        Assert.Equal((short)ErrorCode.RebalanceInProgress, (await GroupFlow.HeartbeatAsync(_broker, "g", secondJoin.GenerationId, leader)).ErrorCode);
        var rejoin = await GroupFlow.JoinAsync(_broker, "g", leader);
        Assert.Equal((0, generation + 2), (rejoin.ErrorCode, rejoin.GenerationId));
        Assert.Single(rejoin.Members);
    }
}
