using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class SyncGroupHandlerTests : IDisposable
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
    public async Task SyncGroup_FullFlow_EveryVersion(short version)
    {
        var join = await GroupFlow.JoinNewMemberAsync(_broker, "g");

        var sync = await GroupFlow.SyncAsync(_broker, "g", join.GenerationId, join.MemberId, version);

        Assert.Equal(0, sync.ErrorCode);
        Assert.Equal(GroupFlow.Assignment, sync.Assignment);
        Assert.Equal(version >= 5 ? GroupFlow.ProtocolType : null, sync.ProtocolType);
        Assert.Equal(version >= 5 ? GroupFlow.Protocol : null, sync.ProtocolName);
        Assert.Equal(0, (await GroupFlow.HeartbeatAsync(_broker, "g", join.GenerationId, join.MemberId)).ErrorCode);
        var commit = await GroupFlow.CommitAsync(_broker, "g", join.GenerationId, join.MemberId, "t", 5);
        Assert.Equal(0, Assert.Single(Assert.Single(commit.Topics).Partitions).ErrorCode);
        Assert.Equal(5, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g", "t", 0)).Topics).Partitions).CommittedOffset);
        Assert.Equal(0, (await GroupFlow.LeaveAsync(_broker, "g", join.MemberId)).ErrorCode);
    }

    [Fact]
    public async Task SyncGroup_Follower_GetsItsAssignmentFromLeader()
    {
        var (leader, _) = await GroupFlow.StableMemberAsync(_broker, "g");
        var second = await GroupFlow.JoinAsync(_broker, "g", "");
        var followerJoinTask = GroupFlow.JoinAsync(_broker, "g", second.MemberId);
        var leaderJoin = await GroupFlow.JoinAsync(_broker, "g", leader);
        var followerJoin = await followerJoinTask;
        var followerSyncTask = BrokerExchange.SendAsync<SyncGroupResponse>(
            _broker, ApiKey.SyncGroup, 5, GroupFlow.SyncRequest("g", followerJoin.GenerationId, followerJoin.MemberId, 5, leader: false));
        var leaderRequest = GroupFlow.SyncRequest("g", leaderJoin.GenerationId, leader, 5);
        leaderRequest.Assignments.Add(new SyncGroupRequest.SyncGroupRequestAssignment { MemberId = second.MemberId, Assignment = [9, 9] });

        var leaderSync = await BrokerExchange.SendAsync<SyncGroupResponse>(_broker, ApiKey.SyncGroup, 5, leaderRequest);
        var followerSync = await followerSyncTask;

        Assert.Equal((0, 0), (leaderSync.ErrorCode, followerSync.ErrorCode));
        Assert.Equal(GroupFlow.Assignment, leaderSync.Assignment);
        Assert.Equal([9, 9], followerSync.Assignment);
    }

    [Fact]
    public async Task SyncGroup_UnknownMember_UnknownMemberId()
    {
        var (_, generation) = await GroupFlow.StableMemberAsync(_broker, "g");

        var sync = await GroupFlow.SyncAsync(_broker, "g", generation, "not-a-member");

        Assert.Equal((short)ErrorCode.UnknownMemberId, sync.ErrorCode);
        Assert.Null(sync.ProtocolType);
        Assert.Null(sync.ProtocolName);
        Assert.Empty(sync.Assignment);
    }

    [Fact]
    public async Task SyncGroup_WrongGeneration_IllegalGeneration()
    {
        var join = await GroupFlow.JoinNewMemberAsync(_broker, "g");

        var sync = await GroupFlow.SyncAsync(_broker, "g", join.GenerationId + 1, join.MemberId);

        Assert.Equal((short)ErrorCode.IllegalGeneration, sync.ErrorCode);
    }

    [Fact]
    public async Task SyncGroup_WrongProtocolNameV5_InconsistentGroupProtocol()
    {
        var join = await GroupFlow.JoinNewMemberAsync(_broker, "g");
        var request = GroupFlow.SyncRequest("g", join.GenerationId, join.MemberId, 5);
        request.ProtocolName = "roundrobin";

        var sync = await BrokerExchange.SendAsync<SyncGroupResponse>(_broker, ApiKey.SyncGroup, 5, request);

        Assert.Equal((short)ErrorCode.InconsistentGroupProtocol, sync.ErrorCode);
    }

    [Fact]
    public async Task SyncGroup_DuringRebalance_RebalanceInProgress()
    {
        var (leader, generation) = await GroupFlow.StableMemberAsync(_broker, "g");
        var second = await GroupFlow.JoinAsync(_broker, "g", "");
        var secondJoin = GroupFlow.JoinAsync(_broker, "g", second.MemberId);

        var sync = await GroupFlow.SyncAsync(_broker, "g", generation, leader);

        Assert.Equal((short)ErrorCode.RebalanceInProgress, sync.ErrorCode);
        await GroupFlow.JoinAsync(_broker, "g", leader);
        Assert.Equal(0, (await secondJoin).ErrorCode);
    }
}
