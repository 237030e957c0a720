using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
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

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task CreateTopics_HugePartitionCount_PolicyViolationAndNothingCreated(bool validateOnly)
    {
        var end = _broker.Metadata.Log.LogEndOffset;

        var response = await CreateAsync(7, new CreateTopicsRequest { Topics = [Topic("fz-valid", 0x57000001, 1)], validateOnly = validateOnly });

        var result = Assert.Single(response.Topics);
        Assert.Equal(((short)ErrorCode.PolicyViolation, "Excessively large number of partitions per request."), (result.ErrorCode, result.ErrorMessage));
        Assert.Equal(KafkaUuid.Zero, result.TopicId);
        Assert.Equal(end, _broker.Metadata.Log.LogEndOffset);
    }

    [Fact]
    public async Task CreateTopics_TopicsSummingOverLimit_FailEveryTopicOfTheRequest()
    {
        // ReplicationControlManagerTest.testExcessiveNumberOfTopicsCannotBeCreated: 5000 + 5000 + 1. The duplicates
        // and __cluster_metadata are not counted, but the error answers every topic of the request.
        var response = await CreateAsync(7, new CreateTopicsRequest
        {
            Topics = [Topic("foo", 5000, 1), Topic("bar", 5000, 1), Topic("baz", 1, 1), Topic("dup", 1, 1), Topic("dup", 1, 1), Topic("__cluster_metadata", 1, 1)],
        });

        Assert.Equal(["foo", "bar", "baz", "dup", "dup", "__cluster_metadata"], response.Topics.Select(t => t.Name));
        Assert.All(response.Topics, t => Assert.Equal(((short)ErrorCode.PolicyViolation, ClusterController.ExcessivePartitionsMessage), (t.ErrorCode, t.ErrorMessage)));
        Assert.Empty(_broker.Metadata.Image.TopicsByName);
    }

    [Fact]
    public async Task CreateTopics_DuplicatesAndMetadataTopic_NotCountedTowardsTheLimit()
    {
        var response = await CreateAsync(7, new CreateTopicsRequest
        {
            Topics = [Topic("big", 9000, 1), Topic("dup", 5000, 1), Topic("dup", 5000, 1), Topic("__cluster_metadata", 5000, 1)],
            validateOnly = true,
        });

        Assert.Equal(0, response.Topics.Single(t => t.Name == "big").ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidRequest, response.Topics.Single(t => t.Name == "dup").ErrorCode);
    }

    [Fact]
    public async Task CreateTopics_DefaultPartitionsAndAssignments_CountTowardsTheLimit()
    {
        using var broker = new TestBroker("num.partitions=9999");
        var manual = Topic("manual");
        manual.Assignments.Add(new CreateTopicsRequest.CreatableReplicaAssignment { PartitionIndex = 0, BrokerIds = [1] });
        manual.Assignments.Add(new CreateTopicsRequest.CreatableReplicaAssignment { PartitionIndex = 1, BrokerIds = [1] });

        var response = await BrokerExchange.SendAsync<CreateTopicsResponse>(broker, ApiKey.CreateTopics, 7, new CreateTopicsRequest { Topics = [Topic("default"), manual], validateOnly = true });

        Assert.All(response.Topics, t => Assert.Equal(((short)ErrorCode.PolicyViolation, ClusterController.ExcessivePartitionsMessage), (t.ErrorCode, t.ErrorMessage)));
    }

    [Fact]
    public async Task CreateTopics_TenThousandPartitions_PassThePartitionCheckButNotTheRecordBound()
    {
        // 10,000 partitions are allowed by validateTotalNumberOfPartitions, but with their TopicRecord they are
        // 10,001 records, which overflow Kafka's bounded record list (validate_only too): POLICY_VIOLATION.
        var response = await CreateAsync(7, new CreateTopicsRequest { Topics = [Topic("exactly", 10_000, 1)], validateOnly = true });

        var result = Assert.Single(response.Topics);
        Assert.Equal(((short)ErrorCode.PolicyViolation, ClusterController.ExcessiveBatchMessage), (result.ErrorCode, result.ErrorMessage));
    }

    [Fact]
    public async Task CreateTopics_RecordsOfAllTopicsOverLimit_FailEveryTopic()
    {
        // 5000 + 4999 partitions, and two TopicRecords: 10,001 records.
        var response = await CreateAsync(7, new CreateTopicsRequest { Topics = [Topic("a", 5000, 1), Topic("b", 4999, 1)], validateOnly = true });

        Assert.All(response.Topics, t => Assert.Equal(((short)ErrorCode.PolicyViolation, ClusterController.ExcessiveBatchMessage), (t.ErrorCode, t.ErrorMessage)));
    }

    [Fact]
    public async Task CreateTopics_RecordsAtLimit_Allowed()
    {
        // 9,999 PartitionRecords and the TopicRecord: exactly 10,000. A topic that fails (already exists) writes none.
        _broker.Metadata.CreateTopic("exists", 1);
        var response = await CreateAsync(7, new CreateTopicsRequest { Topics = [Topic("fits", 9_999, 1), Topic("exists", 1, 1)], validateOnly = true });

        Assert.Equal(0, response.Topics[0].ErrorCode);
        Assert.Equal(9_999, response.Topics[0].NumPartitions);
        Assert.Equal((short)ErrorCode.TopicAlreadyExists, response.Topics[1].ErrorCode);
        Assert.Null(_broker.Metadata.Image.GetTopic("fits"));
    }

    [Fact]
    public async Task CreateTopics_ReplicationFactor32767_InvalidReplicationFactor()
    {
        var response = await CreateAsync(7, new CreateTopicsRequest { Topics = [Topic("rf", 9_999, short.MaxValue)] });

        var result = Assert.Single(response.Topics);
        Assert.Equal((short)ErrorCode.InvalidReplicationFactor, result.ErrorCode);
        Assert.Contains("32767", result.ErrorMessage);
    }
}
