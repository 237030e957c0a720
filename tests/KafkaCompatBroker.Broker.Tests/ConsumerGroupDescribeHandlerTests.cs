using KafkaCompatBroker.Broker.Handlers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class ConsumerGroupDescribeHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    private Task<ConsumerGroupDescribeResponse> DescribeAsync(short version, bool authorizedOperations, params string[] groups) =>
        BrokerExchange.SendAsync<ConsumerGroupDescribeResponse>(
            _broker, ApiKey.ConsumerGroupDescribe, version, new ConsumerGroupDescribeRequest { GroupIds = [.. groups], IncludeAuthorizedOperations = authorizedOperations });

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task ConsumerGroupDescribe_StableGroup_MembersAndAssignments(short version)
    {
        var topicId = DataPath.CreateTopic(_broker, "t", partitions: 2);
        var request = ConsumerFlow.JoinRequest("g", "m1", instanceId: "i1");
        request.RackId = "rack-a";
        await ConsumerFlow.HeartbeatAsync(_broker, request);

        var response = await DescribeAsync(version, authorizedOperations: true, "g");

        var group = Assert.Single(response.Groups);
        Assert.Equal((0, "g", "Stable", 1, 1, "uniform"), (group.ErrorCode, group.GroupId, group.GroupState, group.GroupEpoch, group.AssignmentEpoch, group.AssignorName));
        Assert.Equal(ConsumerGroupDescribeHandler.GroupAuthorizedOperations, group.AuthorizedOperations);
        var member = Assert.Single(group.Members);
        Assert.Equal(("m1", "i1", "rack-a", 1, "test"), (member.MemberId, member.InstanceId, member.RackId, member.MemberEpoch, member.ClientId));
        Assert.Equal(["t"], member.SubscribedTopicNames);
        var assigned = Assert.Single(member.Assignment.TopicPartitions);
        Assert.Equal((topicId, "t"), (assigned.TopicId, assigned.TopicName));
        Assert.Equal([0, 1], assigned.Partitions);
        Assert.Equal([0, 1], Assert.Single(member.TargetAssignment.TopicPartitions).Partitions);
        Assert.Equal(version >= 1 ? (sbyte)1 : (sbyte)-1, member.MemberType);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task ConsumerGroupDescribe_UnknownClassicOrEmptyId_Errors(short version)
    {
        await GroupFlow.StableMemberAsync(_broker, "classic");

        var response = await DescribeAsync(version, authorizedOperations: false, "missing", "classic", "");

        Assert.Equal(((short)ErrorCode.GroupIdNotFound, "Group missing not found."), (response.Groups[0].ErrorCode, response.Groups[0].ErrorMessage));
        Assert.Equal(((short)ErrorCode.GroupIdNotFound, "Group classic is not a consumer group."), (response.Groups[1].ErrorCode, response.Groups[1].ErrorMessage));
        Assert.Equal((short)ErrorCode.InvalidGroupId, response.Groups[2].ErrorCode);
        Assert.All(response.Groups, g => Assert.Equal(int.MinValue, g.AuthorizedOperations));
    }

    [Fact]
    public async Task ConsumerGroupDescribe_MemberLeft_EmptyState()
    {
        DataPath.CreateTopic(_broker, "t");
        await ConsumerFlow.HeartbeatAsync(_broker, ConsumerFlow.JoinRequest("g", "m1"));
        await ConsumerFlow.HeartbeatAsync(_broker, new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "m1", MemberEpoch = -1 });

        var group = Assert.Single((await DescribeAsync(1, authorizedOperations: false, "g")).Groups);

        Assert.Equal(("Empty", 2), (group.GroupState, group.GroupEpoch));
        Assert.Empty(group.Members);
    }
}
