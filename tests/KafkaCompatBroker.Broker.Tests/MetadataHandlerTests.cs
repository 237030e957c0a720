using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class MetadataHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private Task<MetadataResponse> MetadataAsync(short version, MetadataRequest request) =>
        BrokerExchange.SendAsync<MetadataResponse>(_broker, ApiKey.Metadata, version, request);

    private static MetadataRequest Named(params string[] names) =>
        new() { Topics = [.. names.Select(n => new MetadataRequest.MetadataRequestTopic { Name = n })] };

    public static TheoryData<short> AllVersions() => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];

    [Theory]
    [MemberData(nameof(AllVersions))]
    public async Task Metadata_ExistingTopic_EveryVersion_ReturnsBrokersAndPartitions(short version)
    {
        var created = _broker.Metadata.CreateTopic("orders", 3);
        Assert.True(created.IsSuccess);

        var response = await MetadataAsync(version, Named("orders"));

        var brokerEntry = Assert.Single(response.Brokers);
        Assert.Equal((1, "127.0.0.1", 9092), (brokerEntry.NodeId, brokerEntry.Host, brokerEntry.Port));
        Assert.Equal(version >= 1 ? 1 : -1, response.ControllerId);
        Assert.Equal(version >= 2 ? "test-cluster-id-000000" : null, response.ClusterId);
        var topic = Assert.Single(response.Topics);
        Assert.Equal(0, topic.ErrorCode);
        Assert.Equal("orders", topic.Name);
        Assert.False(topic.IsInternal);
        Assert.Equal(version >= 10 ? created.TopicId : KafkaUuid.Zero, topic.TopicId);
        Assert.Equal([0, 1, 2], topic.Partitions.Select(p => p.PartitionIndex));
        foreach (var p in topic.Partitions)
        {
            Assert.Equal(0, p.ErrorCode);
            Assert.Equal(1, p.LeaderId);
            Assert.Equal(version >= 7 ? 0 : -1, p.LeaderEpoch);
            Assert.Equal([1], p.ReplicaNodes);
            Assert.Equal([1], p.IsrNodes);
            Assert.Empty(p.OfflineReplicas);
        }

        Assert.Equal(int.MinValue, topic.TopicAuthorizedOperations);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(13)]
    public async Task Metadata_AllTopics_ReturnsEveryTopicSorted(short version)
    {
        _broker.Metadata.CreateTopic("b");
        _broker.Metadata.CreateTopic("a");

        // v0 asks for all topics with an empty list, v1+ with a null list.
        var request = version == 0 ? new MetadataRequest() : new MetadataRequest { Topics = null };
        var response = await MetadataAsync(version, request);

        Assert.Equal(["a", "b"], response.Topics.Select(t => t.Name));
    }

    [Fact]
    public async Task Metadata_EmptyListV1_ReturnsNoTopics()
    {
        _broker.Metadata.CreateTopic("a");
        var response = await MetadataAsync(1, new MetadataRequest());
        Assert.Empty(response.Topics);
        Assert.Single(response.Brokers);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(12)]
    public async Task Metadata_UnknownTopicAutoCreateAllowed_CreatesAndReturnsPartitions(short version)
    {
        var response = await MetadataAsync(version, Named("fresh"));

        var topic = Assert.Single(response.Topics);
        Assert.Equal(0, topic.ErrorCode);
        Assert.Single(topic.Partitions);
        Assert.NotNull(_broker.Metadata.Image.GetTopic("fresh"));
        Assert.NotNull(_broker.Replicas.GetLog("fresh", 0));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(13)]
    public async Task Metadata_UnknownTopicAutoCreateNotAllowed_ReturnsUnknownTopic(short version)
    {
        var request = Named("missing");
        request.AllowAutoTopicCreation = false;

        var response = await MetadataAsync(version, request);

        var topic = Assert.Single(response.Topics);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, topic.ErrorCode);
        Assert.Empty(topic.Partitions);
        Assert.Null(_broker.Metadata.Image.GetTopic("missing"));
    }

    [Fact]
    public async Task Metadata_AutoCreateDisabledOnBroker_ReturnsUnknownTopic()
    {
        using var broker = new TestBroker("auto.create.topics.enable=false");
        var response = await BrokerExchange.SendAsync<MetadataResponse>(broker, ApiKey.Metadata, 1, Named("missing"));
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, Assert.Single(response.Topics).ErrorCode);
        Assert.Null(broker.Metadata.Image.GetTopic("missing"));
    }

    [Fact]
    public async Task Metadata_AutoCreate_UsesBrokerDefaultPartitions()
    {
        using var broker = new TestBroker("num.partitions=4");
        var response = await BrokerExchange.SendAsync<MetadataResponse>(broker, ApiKey.Metadata, 9, Named("four"));
        Assert.Equal(4, Assert.Single(response.Topics).Partitions.Count);
    }

    [Fact]
    public async Task Metadata_AutoCreationOverTheRecordBound_CreatesNoneAndAnswersLeaderNotAvailable()
    {
        // Kafka's broker forwards the missing topics as one CreateTopics: two topics of 5,000 partitions are
        // 10,002 records, which its controller refuses whole. Existing topics are answered as usual.
        using var broker = new TestBroker("num.partitions=5000");
        broker.Metadata.CreateTopic("exists", 1);

        var response = await BrokerExchange.SendAsync<MetadataResponse>(broker, ApiKey.Metadata, 9, Named("a", "exists", "b", "__internal"));

        Assert.Equal(
            [("a", (short)ErrorCode.LeaderNotAvailable), ("exists", (short)0), ("b", (short)ErrorCode.LeaderNotAvailable), ("__internal", (short)ErrorCode.UnknownTopicOrPartition)],
            response.Topics.Select(t => (t.Name!, t.ErrorCode)));
        Assert.Null(broker.Metadata.Image.GetTopic("a"));
        Assert.Null(broker.Metadata.Image.GetTopic("b"));
    }

    [Fact]
    public async Task Metadata_InternalPrefixedName_IsNotAutoCreated()
    {
        var response = await MetadataAsync(9, Named("__consumer_offsets"));

        var topic = Assert.Single(response.Topics);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, topic.ErrorCode);
        Assert.True(topic.IsInternal);
        Assert.Null(_broker.Metadata.Image.GetTopic("__consumer_offsets"));
    }

    [Fact]
    public async Task Metadata_IllegalTopicName_ReturnsInvalidTopic()
    {
        var response = await MetadataAsync(9, Named("bad name!"));
        Assert.Equal((short)ErrorCode.InvalidTopicException, Assert.Single(response.Topics).ErrorCode);
    }

    [Fact]
    public async Task Metadata_ByTopicIdV12_ResolvesKnownAndReportsUnknownId()
    {
        var created = _broker.Metadata.CreateTopic("by-id");
        var unknown = KafkaUuid.NewRandom();
        var request = new MetadataRequest
        {
            Topics =
            [
                new MetadataRequest.MetadataRequestTopic { TopicId = created.TopicId, Name = null },
                new MetadataRequest.MetadataRequestTopic { TopicId = unknown, Name = null },
            ],
        };

        var response = await MetadataAsync(12, request);

        Assert.Equal(2, response.Topics.Count);
        var known = Assert.Single(response.Topics, t => t.TopicId == created.TopicId);
        Assert.Equal("by-id", known.Name);
        Assert.Equal(0, known.ErrorCode);
        var missing = Assert.Single(response.Topics, t => t.TopicId == unknown);
        Assert.Equal((short)ErrorCode.UnknownTopicId, missing.ErrorCode);
        Assert.Null(missing.Name);
    }

    [Fact]
    public async Task Metadata_TopicIdInV10_IsInvalidRequest()
    {
        var created = _broker.Metadata.CreateTopic("t");
        var request = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { TopicId = created.TopicId, Name = "t" }] };

        var response = await MetadataAsync(10, request);

        var topic = Assert.Single(response.Topics);
        Assert.Equal((short)ErrorCode.InvalidRequest, topic.ErrorCode);
        Assert.Empty(response.Brokers);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(10)]
    public async Task Metadata_AuthorizedOperationsRequested_ReturnsFullBitfields(short version)
    {
        _broker.Metadata.CreateTopic("ops");
        var request = Named("ops");
        request.IncludeClusterAuthorizedOperations = true;
        request.IncludeTopicAuthorizedOperations = true;

        var response = await MetadataAsync(version, request);

        // READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS
        Assert.Equal(3576, Assert.Single(response.Topics).TopicAuthorizedOperations);

        // CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE
        Assert.Equal(8096, response.ClusterAuthorizedOperations);
    }

    [Fact]
    public async Task Metadata_AuthorizedOperationsNotRequested_ReturnsMinValue()
    {
        _broker.Metadata.CreateTopic("ops");
        var response = await MetadataAsync(10, Named("ops"));
        Assert.Equal(int.MinValue, Assert.Single(response.Topics).TopicAuthorizedOperations);
        Assert.Equal(int.MinValue, response.ClusterAuthorizedOperations);
    }

    [Theory]
    [InlineData(5, ErrorCode.LeaderNotAvailable)]
    [InlineData(6, ErrorCode.ListenerNotFound)]
    public async Task Metadata_LeaderWithoutClientListener_ReturnsErrorAndOfflineReplica(short version, ErrorCode expected)
    {
        _broker.Metadata.RegisterBroker(2, KafkaUuid.NewRandom(), [new BrokerEndpoint("INTERNAL", "10.0.0.2", 9093, 0)]);
        var created = _broker.Metadata.CreateTopic("remote", assignments: new Dictionary<int, IReadOnlyList<int>> { [0] = [2] });
        Assert.True(created.IsSuccess, created.ErrorMessage);

        var response = await MetadataAsync(version, Named("remote"));

        Assert.Equal([1], response.Brokers.Select(b => b.NodeId));
        var partition = Assert.Single(Assert.Single(response.Topics).Partitions);
        Assert.Equal((short)expected, partition.ErrorCode);
        Assert.Equal(-1, partition.LeaderId);
        Assert.Equal([2], partition.ReplicaNodes);
        Assert.Equal([2], partition.OfflineReplicas);
    }

    [Fact]
    public async Task Metadata_V0UnavailableReplica_IsFilteredWithReplicaNotAvailable()
    {
        _broker.Metadata.RegisterBroker(2, KafkaUuid.NewRandom(), [new BrokerEndpoint("INTERNAL", "10.0.0.2", 9093, 0)]);
        var created = _broker.Metadata.CreateTopic("mixed", assignments: new Dictionary<int, IReadOnlyList<int>> { [0] = [1, 2] });
        Assert.True(created.IsSuccess, created.ErrorMessage);

        var response = await MetadataAsync(0, Named("mixed"));

        var partition = Assert.Single(Assert.Single(response.Topics).Partitions);
        Assert.Equal((short)ErrorCode.ReplicaNotAvailable, partition.ErrorCode);
        Assert.Equal(1, partition.LeaderId);
        Assert.Equal([1], partition.ReplicaNodes);
    }

    [Fact]
    public async Task Metadata_IsInternalTopic_Flagged()
    {
        _broker.Metadata.CreateTopic("__consumer_offsets", 1);
        var response = await MetadataAsync(1, Named("__consumer_offsets"));
        Assert.True(Assert.Single(response.Topics).IsInternal);
    }
}

/// <summary>End to end: a real broker on port 0 and kcat (librdkafka 2.0.2) asking it for metadata.</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class MetadataKcatEndToEndTests : IAsyncLifetime
{
    private TestCluster? _cluster;

    private KafkaBroker Broker => (_cluster ?? throw new InvalidOperationException("not started")).Broker;

    public async Task InitializeAsync()
    {
        _cluster = await TestCluster.StartAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    private async Task<System.Text.Json.JsonElement> KcatMetadataAsync(params string[] extra)
    {
        var start = new System.Diagnostics.ProcessStartInfo("kcat") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-b", Broker.BootstrapServers, "-L", "-J", "-m", "10", .. extra])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"kcat exited with {process.ExitCode}: {await stderr}");
        return System.Text.Json.JsonDocument.Parse(await stdout).RootElement;
    }

    [Fact]
    public async Task Kcat_ListMetadata_ShowsBrokerAndTopic()
    {
        Assert.True(Broker.Context.Metadata.CreateTopic("listed", 2).IsSuccess);

        var metadata = await KcatMetadataAsync();

        var broker = Assert.Single(metadata.GetProperty("brokers").EnumerateArray());
        Assert.Equal(1, broker.GetProperty("id").GetInt32());
        Assert.Equal(Broker.BootstrapServers, broker.GetProperty("name").GetString());
        Assert.Equal(1, metadata.GetProperty("controllerid").GetInt32());
        var topic = Assert.Single(metadata.GetProperty("topics").EnumerateArray(), t => t.GetProperty("topic").GetString() == "listed");
        var partitions = topic.GetProperty("partitions").EnumerateArray().ToList();
        Assert.Equal(2, partitions.Count);
        Assert.All(partitions, p => Assert.Equal(1, p.GetProperty("leader").GetInt32()));
    }

    [Fact]
    public async Task Kcat_MetadataForMissingTopic_AutoCreatesIt()
    {
        var metadata = await KcatMetadataAsync("-t", "newtopic");

        var topic = Assert.Single(metadata.GetProperty("topics").EnumerateArray());
        Assert.Equal("newtopic", topic.GetProperty("topic").GetString());
        Assert.False(topic.TryGetProperty("error", out _), topic.ToString());
        Assert.Single(topic.GetProperty("partitions").EnumerateArray());
        Assert.NotNull(Broker.Context.Metadata.Image.GetTopic("newtopic"));
    }
}
