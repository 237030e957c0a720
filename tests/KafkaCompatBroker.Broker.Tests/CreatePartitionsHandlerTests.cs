using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class CreatePartitionsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public CreatePartitionsHandlerTests() => _broker.Metadata.CreateTopic("t", 1);

    public void Dispose() => _broker.Dispose();

    private Task<CreatePartitionsResponse> SendAsync(short version, params CreatePartitionsRequest.CreatePartitionsTopic[] topics) =>
        BrokerExchange.SendAsync<CreatePartitionsResponse>(_broker, ApiKey.CreatePartitions, version, new CreatePartitionsRequest { Topics = [.. topics] });

    private static CreatePartitionsRequest.CreatePartitionsTopic Topic(string name, int count, List<CreatePartitionsRequest.CreatePartitionsAssignment>? assignments = null) =>
        new() { Name = name, Count = count, Assignments = assignments };

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task CreatePartitions_Increase_AddsPartitionsAndLogs(short version)
    {
        var response = await SendAsync(version, Topic("t", 3));

        var result = Assert.Single(response.Results);
        Assert.Equal(("t", (short)0, (string?)null), (result.Name, result.ErrorCode, result.ErrorMessage));
        Assert.Equal(3, _broker.Metadata.Image.GetTopic("t")!.Partitions.Count);
        Assert.NotNull(_broker.Replicas.GetLog("t", 2));
    }

    [Fact]
    public async Task CreatePartitions_ExplicitAssignments_AreUsed()
    {
        var response = await SendAsync(3, Topic("t", 2, [new() { BrokerIds = [1] }]));

        Assert.Equal(0, Assert.Single(response.Results).ErrorCode);
        Assert.Equal([1], _broker.Metadata.Image.GetTopic("t")!.Partitions[1].Replicas.ToArray());
    }

    [Fact]
    public async Task CreatePartitions_WrongAssignmentCount_ReturnsInvalidReplicaAssignment()
    {
        var response = await SendAsync(3, Topic("t", 3, [new() { BrokerIds = [1] }]));

        var result = Assert.Single(response.Results);
        Assert.Equal((short)ErrorCode.InvalidReplicaAssignment, result.ErrorCode);
        Assert.Equal("Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.", result.ErrorMessage);
    }

    [Fact]
    public async Task CreatePartitions_SameCount_ReturnsInvalidPartitions()
    {
        var response = await SendAsync(1, Topic("t", 1));

        var result = Assert.Single(response.Results);
        Assert.Equal((short)ErrorCode.InvalidPartitions, result.ErrorCode);
        Assert.Equal("Topic already has 1 partition(s).", result.ErrorMessage);
    }

    [Fact]
    public async Task CreatePartitions_Decrease_ReturnsInvalidPartitions()
    {
        _broker.Metadata.CreatePartitions("t", 3);
        var response = await SendAsync(2, Topic("t", 2));

        var result = Assert.Single(response.Results);
        Assert.Equal((short)ErrorCode.InvalidPartitions, result.ErrorCode);
        Assert.Equal("The topic t currently has 3 partition(s); 2 would not be an increase.", result.ErrorMessage);
    }

    [Fact]
    public async Task CreatePartitions_UnknownTopic_ReturnsUnknownTopicOrPartitionWithoutMessage()
    {
        var response = await SendAsync(3, Topic("missing", 2));

        var result = Assert.Single(response.Results);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
    }

    [Fact]
    public async Task CreatePartitions_ValidateOnly_ChangesNothing()
    {
        var response = await BrokerExchange.SendAsync<CreatePartitionsResponse>(
            _broker, ApiKey.CreatePartitions, 3, new CreatePartitionsRequest { Topics = [Topic("t", 4)], ValidateOnly = true });

        Assert.Equal(0, Assert.Single(response.Results).ErrorCode);
        Assert.Single(_broker.Metadata.Image.GetTopic("t")!.Partitions);
    }

    [Fact]
    public async Task CreatePartitions_DuplicateTopic_ReturnsInvalidRequest()
    {
        var response = await SendAsync(3, Topic("t", 2), Topic("t", 3));

        var result = Assert.Single(response.Results);
        Assert.Equal((short)ErrorCode.InvalidRequest, result.ErrorCode);
        Assert.Equal("Duplicate topic name.", result.ErrorMessage);
        Assert.Single(_broker.Metadata.Image.GetTopic("t")!.Partitions);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CreatePartitions_HugeCount_PolicyViolationForThatTopicOnly(bool validateOnly)
    {
        _broker.Metadata.CreateTopic("u", 1);
        var end = _broker.Metadata.Log.LogEndOffset;

        var response = await BrokerExchange.SendAsync<CreatePartitionsResponse>(
            _broker, ApiKey.CreatePartitions, 3, new CreatePartitionsRequest { Topics = [Topic("t", int.MaxValue), Topic("u", 3)], ValidateOnly = validateOnly });

        Assert.Equal(((short)ErrorCode.PolicyViolation, "Unable to perform excessively large batch operation."), (response.Results[0].ErrorCode, response.Results[0].ErrorMessage));
        Assert.Equal(0, response.Results[1].ErrorCode);
        Assert.Single(_broker.Metadata.Image.GetTopic("t")!.Partitions);
        Assert.Equal(validateOnly ? 1 : 3, _broker.Metadata.Image.GetTopic("u")!.Partitions.Count);
        Assert.Equal(validateOnly, end == _broker.Metadata.Log.LogEndOffset);
    }

    [Fact]
    public async Task CreatePartitions_TopicsSharingTheRecordBound_TheOneThatOverflowsFails()
    {
        // Kafka collects the PartitionRecords of every topic in one list bounded at 10,000.
        _broker.Metadata.CreateTopic("u", 1);
        _broker.Metadata.CreateTopic("v", 1);

        var response = await BrokerExchange.SendAsync<CreatePartitionsResponse>(
            _broker, ApiKey.CreatePartitions, 3, new CreatePartitionsRequest { Topics = [Topic("t", 6_001), Topic("u", 6_001), Topic("v", 4_001)], ValidateOnly = true });

        Assert.Equal(0, response.Results[0].ErrorCode);
        Assert.Equal((short)ErrorCode.PolicyViolation, response.Results[1].ErrorCode);
        Assert.Equal(0, response.Results[2].ErrorCode);
    }
}
