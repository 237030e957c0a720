using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// AlterPartitionReassignments / ListPartitionReassignments on a one-broker cluster, as Kafka's
/// ReplicationControlManager answers them.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class PartitionReassignmentsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public PartitionReassignmentsHandlerTests() => DataPath.CreateTopic(_broker, "t", partitions: 2);

    public void Dispose() => _broker.Dispose();

    private Task<AlterPartitionReassignmentsResponse> AlterAsync(short version, AlterPartitionReassignmentsRequest request) =>
        BrokerExchange.SendAsync<AlterPartitionReassignmentsResponse>(_broker, ApiKey.AlterPartitionReassignments, version, request);

    private static AlterPartitionReassignmentsRequest Request(string topic, int partition, List<int>? replicas, bool allowReplicationFactorChange = true) => new()
    {
        AllowReplicationFactorChange = allowReplicationFactorChange,
        Topics = [new() { Name = topic, Partitions = [new() { PartitionIndex = partition, Replicas = replicas }] }],
    };

    private static (ErrorCode Error, string? Message) Single(AlterPartitionReassignmentsResponse response)
    {
        Assert.Equal(0, response.ErrorCode);
        Assert.Null(response.ErrorMessage);
        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        return ((ErrorCode)partition.ErrorCode, partition.ErrorMessage);
    }

    public static TheoryData<short, string, int, int[]?, ErrorCode, string?> AlterCases()
    {
        var data = new TheoryData<short, string, int, int[]?, ErrorCode, string?>();
        foreach (var version in new short[] { 0, 1 })
        {
            data.Add(version, "t", 0, [1], ErrorCode.None, null);
            data.Add(version, "t", 1, [1], ErrorCode.None, null);
            data.Add(version, "t", 0, [1, 5], ErrorCode.InvalidReplicaAssignment, "The manual partition assignment includes broker 5, but no such broker is registered.");
            data.Add(version, "t", 0, [7], ErrorCode.InvalidReplicaAssignment, "The manual partition assignment includes broker 7, but no such broker is registered.");
            data.Add(version, "t", 0, [1, 1], ErrorCode.InvalidReplicaAssignment, "The manual partition assignment includes the broker 1 more than once.");
            data.Add(version, "t", 0, [], ErrorCode.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.");
            data.Add(version, "t", 0, null, ErrorCode.NoReassignmentInProgress, "No partition reassignment is in progress.");
            data.Add(version, "t", 9, [1], ErrorCode.UnknownTopicOrPartition, "Unable to find partition t:9.");
            data.Add(version, "missing", 0, [1], ErrorCode.UnknownTopicOrPartition, "Unable to find a topic named missing.");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AlterCases))]
    public async Task AlterPartitionReassignments_EveryVersion_KafkasPerPartitionAnswer(short version, string topic, int partition, int[]? replicas, ErrorCode expected, string? message)
    {
        var response = await AlterAsync(version, Request(topic, partition, replicas is null ? null : [.. replicas]));

        Assert.Equal((expected, message), Single(response));
        Assert.True(response.AllowReplicationFactorChange);
        Assert.Equal([1], _broker.Metadata.Image.GetTopic("t")!.Partitions[0].Replicas.ToArray());
    }

    [Fact]
    public async Task AlterPartitionReassignments_V1ReplicationFactorChangeRefused_InvalidReplicationFactorAndEchoed()
    {
        _broker.Metadata.RegisterBroker(2, KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "10.0.0.2", 9092, 0)]);

        var refused = await AlterAsync(1, Request("t", 0, [1, 2], allowReplicationFactorChange: false));
        var sameCount = await AlterAsync(1, Request("t", 0, [1], allowReplicationFactorChange: false));

        Assert.Equal((ErrorCode.InvalidReplicationFactor, "The replication factor is changed from 1 to 2"), Single(refused));
        Assert.False(refused.AllowReplicationFactorChange);
        Assert.Equal((ErrorCode.None, (string?)null), Single(sameCount));
    }

    [Fact]
    public async Task AlterPartitionReassignments_MoveToAnotherRegisteredBroker_InvalidReplicaAssignment()
    {
        _broker.Metadata.RegisterBroker(2, KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "10.0.0.2", 9092, 0)]);

        var (error, _) = Single(await AlterAsync(1, Request("t", 0, [2])));

        Assert.Equal(ErrorCode.InvalidReplicaAssignment, error);
        Assert.Equal([1], _broker.Metadata.Image.GetTopic("t")!.Partitions[0].Replicas.ToArray());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ListPartitionReassignments_V0_NoneInProgress(bool allTopics)
    {
        var request = new ListPartitionReassignmentsRequest
        {
            Topics = allTopics ? null : [new() { Name = "t", PartitionIndexes = [0, 1] }, new() { Name = "missing", PartitionIndexes = [0] }],
        };

        var response = await BrokerExchange.SendAsync<ListPartitionReassignmentsResponse>(_broker, ApiKey.ListPartitionReassignments, 0, request);

        Assert.Equal((0, (string?)null), (response.ErrorCode, response.ErrorMessage));
        Assert.Empty(response.Topics);
    }

    [Theory]
    [InlineData(ApiKey.AlterPartitionReassignments, 0, 1)]
    [InlineData(ApiKey.ListPartitionReassignments, 0, 0)]
    public void ApiVersions_AdvertisesKafka4Range(ApiKey key, short min, short max)
    {
        var handler = Assert.Single(_broker.Registry.Handlers, h => h.Key == key);
        Assert.Equal((min, max), (handler.MinVersion, handler.MaxVersion));
    }
}
