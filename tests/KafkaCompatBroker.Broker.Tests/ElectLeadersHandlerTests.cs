using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>ElectLeaders answered as Kafka's ReplicationControlManager.electLeaders answers it on a single node.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class ElectLeadersHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public ElectLeadersHandlerTests()
    {
        DataPath.CreateTopic(_broker, "a", partitions: 2);
        DataPath.CreateTopic(_broker, "b");
    }

    public void Dispose() => _broker.Dispose();

    private Task<ElectLeadersResponse> ElectAsync(short version, ElectLeadersRequest request) =>
        BrokerExchange.SendAsync<ElectLeadersResponse>(_broker, ApiKey.ElectLeaders, version, request);

    private static List<(string Topic, int Partition, ErrorCode Error, string? Message)> Results(ElectLeadersResponse response) =>
        [.. response.ReplicaElectionResults.SelectMany(t => t.PartitionResult.Select(p => (t.Topic, p.PartitionId, (ErrorCode)p.ErrorCode, p.ErrorMessage)))];

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(1, 1)]
    [InlineData(2, 0)]
    [InlineData(2, 1)]
    public async Task ElectLeaders_ListedPartitions_ElectionNotNeededOrUnknown(short version, sbyte electionType)
    {
        var request = new ElectLeadersRequest
        {
            ElectionType = electionType,
            TopicPartitions = [new() { Topic = "a", Partitions = [0, 1, 7] }, new() { Topic = "missing", Partitions = [0] }],
        };

        var response = await ElectAsync(version, request);

        Assert.Equal(0, response.ErrorCode);
        const string NotNeeded = "Leader election not needed for topic partition.";
        Assert.Equal(
            [
                ("a", 0, ErrorCode.ElectionNotNeeded, NotNeeded),
                ("a", 1, ErrorCode.ElectionNotNeeded, NotNeeded),
                ("a", 7, ErrorCode.UnknownTopicOrPartition, "No such partition as a-7"),
                ("missing", 0, ErrorCode.UnknownTopicOrPartition, "No such topic as missing"),
            ],
            Results(response));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task ElectLeaders_NullTopicPartitions_EveryTopicListedWithoutNotNeededPartitions(short version)
    {
        var response = await ElectAsync(version, new ElectLeadersRequest { TopicPartitions = null });

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal(["a", "b"], response.ReplicaElectionResults.Select(t => t.Topic));
        Assert.All(response.ReplicaElectionResults, t => Assert.Empty(t.PartitionResult));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task ElectLeaders_UnknownElectionType_InvalidRequestEverywhere(short version)
    {
        var request = new ElectLeadersRequest { ElectionType = 5, TopicPartitions = [new() { Topic = "a", Partitions = [0] }] };

        var response = await ElectAsync(version, request);

        Assert.Equal((short)ErrorCode.InvalidRequest, response.ErrorCode);
        Assert.Equal([("a", 0, ErrorCode.InvalidRequest, "Unknown election type 5")], Results(response));
    }

    [Fact]
    public async Task ElectLeaders_EmptyTopicPartitions_EmptyAnswer()
    {
        var response = await ElectAsync(2, new ElectLeadersRequest { TopicPartitions = [] });

        Assert.Equal(0, response.ErrorCode);
        Assert.Empty(response.ReplicaElectionResults);
    }

    [Fact]
    public void ApiVersions_AdvertisesElectLeadersV0To2()
    {
        var handler = Assert.Single(_broker.Registry.Handlers, h => h.Key == ApiKey.ElectLeaders);
        Assert.Equal((0, 2), (handler.MinVersion, handler.MaxVersion));
    }
}
