using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

public sealed class CreateTopicsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new("log.retention.hours=24");

    public void Dispose() => _broker.Dispose();

    private Task<CreateTopicsResponse> CreateAsync(short version, CreateTopicsRequest request) =>
        BrokerExchange.SendAsync<CreateTopicsResponse>(_broker, ApiKey.CreateTopics, version, request);

    private static CreateTopicsRequest.CreatableTopic Topic(string name, int partitions = -1, short replication = -1) =>
        new() { Name = name, NumPartitions = partitions, ReplicationFactor = replication };

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    public async Task CreateTopics_EveryVersion_CreatesTopicAndItsLogs(short version)
    {
        var response = await CreateAsync(version, new CreateTopicsRequest { Topics = [Topic("t", 3, 1)] });

        var result = Assert.Single(response.Topics);
        Assert.Equal(0, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        var image = _broker.Metadata.Image.GetTopic("t");
        Assert.NotNull(image);
        Assert.Equal(3, image.Partitions.Count);
        Assert.NotNull(_broker.Replicas.GetLog("t", 2));
        Assert.Equal(version >= 7 ? image.Id : KafkaUuid.Zero, result.TopicId);
        Assert.Equal(version >= 5 ? 3 : -1, result.NumPartitions);
        Assert.Equal(version >= 5 ? (short)1 : (short)-1, result.ReplicationFactor);
        if (version >= 5)
        {
            Assert.NotNull(result.Configs);
            Assert.Equal(33, result.Configs.Count);
        }
    }

    [Fact]
    public async Task CreateTopics_V5_ReturnsEffectiveConfigsWithSources()
    {
        var topic = Topic("cfg");
        topic.Configs.Add(new CreateTopicsRequest.CreatableTopicConfig { Name = "cleanup.policy", Value = "compact" });

        var response = await CreateAsync(5, new CreateTopicsRequest { Topics = [topic] });

        var configs = Assert.Single(response.Topics).Configs!.ToDictionary(c => c.Name);
        Assert.Equal(("compact", (sbyte)1), (configs["cleanup.policy"].Value, configs["cleanup.policy"].ConfigSource));

        // log.retention.hours=24 is the static synonym of retention.ms, converted to milliseconds.
        Assert.Equal(("86400000", (sbyte)4), (configs["retention.ms"].Value, configs["retention.ms"].ConfigSource));
        Assert.Equal(("1073741824", (sbyte)5), (configs["segment.bytes"].Value, configs["segment.bytes"].ConfigSource));
        Assert.All(configs.Values, c => Assert.False(c.ReadOnly || c.IsSensitive));
        Assert.Equal("compact", _broker.Metadata.Image.GetTopicConfigs("cfg")["cleanup.policy"]);
    }

    [Fact]
    public async Task CreateTopics_DefaultsMinusOne_UseBrokerDefaults()
    {
        using var broker = new TestBroker("num.partitions=5");
        var response = await BrokerExchange.SendAsync<CreateTopicsResponse>(broker, ApiKey.CreateTopics, 7, new CreateTopicsRequest { Topics = [Topic("d")] });

        var result = Assert.Single(response.Topics);
        Assert.Equal((5, (short)1), (result.NumPartitions, result.ReplicationFactor));
    }

    [Fact]
    public async Task CreateTopics_ExplicitAssignments_CreatesThem()
    {
        var topic = Topic("manual");
        topic.Assignments.Add(new CreateTopicsRequest.CreatableReplicaAssignment { PartitionIndex = 0, BrokerIds = [1] });
        topic.Assignments.Add(new CreateTopicsRequest.CreatableReplicaAssignment { PartitionIndex = 1, BrokerIds = [1] });

        var response = await CreateAsync(7, new CreateTopicsRequest { Topics = [topic] });

        Assert.Equal(0, Assert.Single(response.Topics).ErrorCode);
        Assert.Equal(2, _broker.Metadata.Image.GetTopic("manual")!.Partitions.Count);
    }

    [Fact]
    public async Task CreateTopics_ValidateOnly_CreatesNothing()
    {
        var response = await CreateAsync(7, new CreateTopicsRequest { Topics = [Topic("v", 2)], validateOnly = true });

        var result = Assert.Single(response.Topics);
        Assert.Equal(0, result.ErrorCode);
        Assert.Equal(2, result.NumPartitions);
        Assert.Null(_broker.Metadata.Image.GetTopic("v"));
    }

    [Fact]
    public async Task CreateTopics_Existing_ReturnsTopicAlreadyExists()
    {
        _broker.Metadata.CreateTopic("dup");
        var response = await CreateAsync(6, new CreateTopicsRequest { Topics = [Topic("dup")] });

        var result = Assert.Single(response.Topics);
        Assert.Equal((short)ErrorCode.TopicAlreadyExists, result.ErrorCode);
        Assert.Equal("Topic 'dup' already exists.", result.ErrorMessage);
        Assert.Equal(-1, result.NumPartitions);
    }

    [Fact]
    public async Task CreateTopics_ReplicationFactorAboveBrokers_ReturnsInvalidReplicationFactor()
    {
        var response = await CreateAsync(4, new CreateTopicsRequest { Topics = [Topic("rf", 1, 3)] });

        var result = Assert.Single(response.Topics);
        Assert.Equal((short)ErrorCode.InvalidReplicationFactor, result.ErrorCode);
        Assert.Contains("only 1 broker(s) are registered", result.ErrorMessage);
    }

    [Fact]
    public async Task CreateTopics_DuplicateNameInRequest_ReturnsInvalidRequestOnce()
    {
        var response = await CreateAsync(5, new CreateTopicsRequest { Topics = [Topic("x"), Topic("x"), Topic("y")] });

        Assert.Equal(2, response.Topics.Count);
        var duplicate = Assert.Single(response.Topics, t => t.Name == "x");
        Assert.Equal((short)ErrorCode.InvalidRequest, duplicate.ErrorCode);
        Assert.Equal("Duplicate topic name.", duplicate.ErrorMessage);
        Assert.Null(_broker.Metadata.Image.GetTopic("x"));
        Assert.NotNull(_broker.Metadata.Image.GetTopic("y"));
    }

    [Fact]
    public async Task CreateTopics_InvalidNameAndConfig_ReturnPerTopicErrors()
    {
        var badConfig = Topic("ok-name");
        badConfig.Configs.Add(new CreateTopicsRequest.CreatableTopicConfig { Name = "no.such.config", Value = "1" });

        var response = await CreateAsync(5, new CreateTopicsRequest { Topics = [Topic("bad name"), badConfig, Topic("__cluster_metadata")] });

        Assert.Equal((short)ErrorCode.InvalidTopicException, response.Topics[0].ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidConfig, response.Topics[1].ErrorCode);
        Assert.Equal("Unknown topic config name: no.such.config", response.Topics[1].ErrorMessage);
        Assert.Equal((short)ErrorCode.InvalidRequest, response.Topics[2].ErrorCode);
    }
}
