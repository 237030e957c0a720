using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Controller.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class MetadataStoreTests : IDisposable
{
    private static readonly BrokerEndpoint Plaintext = new("PLAINTEXT", "localhost", 9092, 0);

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private MetadataStoreOptions Options(long snapshotInterval = 0) => new()
    {
        MetadataLogDir = _dir.Path,
        ClusterId = "test-cluster",
        SnapshotIntervalRecords = snapshotInterval,
    };

    private MetadataStore OpenStore(long snapshotInterval = 0) => MetadataStore.Open(Options(snapshotInterval));

    private static MetadataStore WithBroker(MetadataStore store, int id = 1)
    {
        Assert.True(store.RegisterBroker(id, KafkaUuid.NewRandom(), [Plaintext with { Port = 9092 + id }]).IsSuccess);
        return store;
    }

    /// <summary>(base offset, record count) of every batch in the metadata log.</summary>
    private static List<(long BaseOffset, int Records)> Batches(MetadataStore store)
    {
        var read = store.Log.Read(store.Log.LogStartOffset, int.MaxValue, store.Log.LogEndOffset, minOneBatch: true);
        var result = new List<(long, int)>();
        if (read.Region is { } region)
        {
            var bytes = new byte[region.Length];
            region.CopyTo(bytes);
            var batches = RecordBatches.Enumerate(new ReadOnlySequence<byte>(bytes));
            while (batches.MoveNext())
            {
                result.Add((batches.Current.Header.BaseOffset, batches.Current.Header.RecordsCount));
            }
        }

        return result;
    }

    [Fact]
    public void Open_EmptyDirectory_BootstrapsMetadataVersionInKafkasLayout()
    {
        using var store = OpenStore();

        Assert.Equal(Path.Combine(_dir.Path, "__cluster_metadata-0"), store.Directory);
        Assert.True(File.Exists(Path.Combine(store.Directory, "00000000000000000000.log")));
        Assert.Equal((short)7, store.Image.Features[MetadataStore.MetadataVersionFeature]);
        Assert.Equal((short)2, store.Image.Features[MetadataStore.TransactionVersionFeature]);
        Assert.Equal("test-cluster", store.Image.ClusterId);
        Assert.Equal(2, store.Image.EndOffset);
        Assert.Equal(store.Log.LogEndOffset, store.Log.HighWatermark);
    }

    [Fact]
    public void RegisterBroker_NewBroker_EpochIsRecordOffsetAndEndpointsKept()
    {
        using var store = OpenStore();
        var incarnation = KafkaUuid.NewRandom();

        var result = store.RegisterBroker(3, incarnation, [Plaintext, new BrokerEndpoint("SSL", "h", 9093, 1)], rack: "r1");

        Assert.True(result.IsSuccess);
        Assert.Equal(2, result.BrokerEpoch); // the record's offset, after the two bootstrap feature records
        var broker = store.Image.Brokers[3];
        Assert.Equal(incarnation, broker.IncarnationId);
        Assert.Equal("r1", broker.Rack);
        Assert.False(broker.Fenced);
        Assert.Equal<BrokerEndpoint>([Plaintext, new BrokerEndpoint("SSL", "h", 9093, 1)], broker.Endpoints);
    }

    [Fact]
    public void RegisterBroker_SameIncarnation_WritesNothing()
    {
        using var store = OpenStore();
        var incarnation = KafkaUuid.NewRandom();
        var first = store.RegisterBroker(1, incarnation, [Plaintext]);
        var end = store.Log.LogEndOffset;

        var again = store.RegisterBroker(1, incarnation, [Plaintext]);

        Assert.Equal(first.BrokerEpoch, again.BrokerEpoch);
        Assert.Equal(end, store.Log.LogEndOffset);
    }

    [Fact]
    public void AllocateProducerIds_Repeated_BlocksNeverOverlapAcrossRestartAndSnapshot()
    {
        long firstBlockEnd;
        long epoch;
        using (var store = OpenStore())
        {
            epoch = store.RegisterBroker(1, KafkaUuid.NewRandom(), [Plaintext]).BrokerEpoch;
            var first = store.AllocateProducerIds(1, epoch);
            var second = store.AllocateProducerIds(1, epoch, blockSize: 10);
            Assert.Equal(ErrorCode.None, first.Error);
            Assert.Equal(0, first.Block.FirstProducerId);
            Assert.Equal(ProducerIdBlock.DefaultSize, first.Block.Size);
            Assert.Equal(first.Block.NextBlockFirstId, second.Block.FirstProducerId);
            firstBlockEnd = second.Block.NextBlockFirstId;
        }

        using (var reopened = OpenStore())
        {
            Assert.Equal(firstBlockEnd, reopened.Image.NextProducerId);
            reopened.WriteSnapshot();
        }

        using var fromSnapshot = OpenStore();
        Assert.Equal(firstBlockEnd, fromSnapshot.Image.NextProducerId);
        Assert.Equal(firstBlockEnd, fromSnapshot.AllocateProducerIds(1, epoch).Block.FirstProducerId);
    }

    [Fact]
    public void AllocateProducerIds_StaleBrokerEpoch_RefusedWithoutWriting()
    {
        using var store = OpenStore();
        var epoch = store.RegisterBroker(1, KafkaUuid.NewRandom(), [Plaintext]).BrokerEpoch;
        var end = store.Log.LogEndOffset;

        Assert.Equal(ErrorCode.StaleBrokerEpoch, store.AllocateProducerIds(1, epoch + 1).Error);
        Assert.Equal(ErrorCode.StaleBrokerEpoch, store.AllocateProducerIds(2, epoch).Error);
        Assert.Equal(end, store.Log.LogEndOffset);
    }

    [Fact]
    public void CreateTopic_OneBroker_AssignsIdAndPlacesEveryPartitionOnIt()
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic("orders", numPartitions: 3, replicationFactor: 1);

        Assert.True(result.IsSuccess, result.ErrorMessage);
        Assert.NotEqual(KafkaUuid.Zero, result.TopicId);
        Assert.Equal(3, result.NumPartitions);
        Assert.Equal((short)1, result.ReplicationFactor);
        var topic = store.Image.GetTopic("orders")!;
        Assert.Same(topic, store.Image.GetTopic(result.TopicId));
        Assert.Equal<int>([0, 1, 2], topic.Partitions.Keys);
        foreach (var p in topic.Partitions.Values)
        {
            Assert.Equal<int>([1], p.Replicas);
            Assert.Equal<int>([1], p.Isr);
            Assert.Equal(1, p.Leader);
            Assert.Equal(0, p.LeaderEpoch);
            Assert.Equal(0, p.PartitionEpoch);
            Assert.Equal(result.TopicId, p.TopicId);
        }
    }

    [Fact]
    public void CreateTopic_Defaults_UsesNumPartitionsAndReplicationFactorOptions()
    {
        using var store = WithBroker(MetadataStore.Open(Options() with { DefaultNumPartitions = 4 }));

        var result = store.CreateTopic("t");

        Assert.True(result.IsSuccess);
        Assert.Equal(4, store.Image.GetTopic("t")!.Partitions.Count);
    }

    [Fact]
    public void CreateTopic_TwoTopics_GetDistinctIds()
    {
        using var store = WithBroker(OpenStore());

        var a = store.CreateTopic("a", 1, 1);
        var b = store.CreateTopic("b", 1, 1);

        Assert.NotEqual(a.TopicId, b.TopicId);
    }

    [Theory]
    [InlineData("", "Topic name is illegal, it can't be empty")]
    [InlineData(".", "Topic name cannot be \".\" or \"..\"")]
    [InlineData("..", "Topic name cannot be \".\" or \"..\"")]
    [InlineData("bad name", "Topic name \"bad name\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'")]
    [InlineData("caf\u00e9", "is illegal, it contains a character other than ASCII alphanumerics")]
    public void CreateTopic_IllegalName_InvalidTopicException(string name, string message)
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic(name, 1, 1);

        Assert.Equal(ErrorCode.InvalidTopicException, result.Error);
        Assert.Contains(message, result.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateTopic_NameLength_249AcceptedAnd250Refused()
    {
        using var store = WithBroker(OpenStore());

        Assert.True(store.CreateTopic(new string('a', 249), 1, 1).IsSuccess);
        var result = store.CreateTopic(new string('b', 250), 1, 1);

        Assert.Equal(ErrorCode.InvalidTopicException, result.Error);
        Assert.Contains("can't be longer than 249 characters", result.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateTopic_Exists_TopicAlreadyExists()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 1, 1);

        var result = store.CreateTopic("t", 1, 1);

        Assert.Equal(ErrorCode.TopicAlreadyExists, result.Error);
        Assert.Equal("Topic 't' already exists.", result.ErrorMessage);
    }

    [Fact]
    public void CreateTopic_DotUnderscoreCollision_InvalidTopicException()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("a_b", 1, 1);

        var result = store.CreateTopic("a.b", 1, 1);

        Assert.Equal(ErrorCode.InvalidTopicException, result.Error);
        Assert.Equal("Topic 'a.b' collides with existing topic: a_b", result.ErrorMessage);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void CreateTopic_NonPositivePartitions_InvalidPartitions(int partitions)
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic("t", partitions, 1);

        Assert.Equal(ErrorCode.InvalidPartitions, result.Error);
        Assert.Equal("Number of partitions was set to an invalid non-positive value.", result.ErrorMessage);
    }

    [Fact]
    public void CreateTopic_ReplicationFactorAboveBrokers_InvalidReplicationFactorWithKafkasMessage()
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic("t", 1, 3);

        Assert.Equal(ErrorCode.InvalidReplicationFactor, result.Error);
        Assert.Equal(
            "Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 1 broker(s) are registered.",
            result.ErrorMessage);
        Assert.Null(store.Image.GetTopic("t"));
    }

    [Fact]
    public void CreateTopic_ZeroReplicationFactor_InvalidReplicationFactor()
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic("t", 1, 0);

        Assert.Equal(ErrorCode.InvalidReplicationFactor, result.Error);
    }

    [Fact]
    public void CreateTopic_NoBrokers_InvalidReplicationFactor()
    {
        using var store = OpenStore();

        var result = store.CreateTopic("t", 1, 1);

        Assert.Equal(ErrorCode.InvalidReplicationFactor, result.Error);
        Assert.Contains("only 0 broker(s) are registered", result.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateTopic_ThreeBrokersReplicationThree_EveryPartitionOnAllAndLeadersSpread()
    {
        using var store = WithBroker(WithBroker(WithBroker(OpenStore(), 1), 2), 3);

        var result = store.CreateTopic("t", 3, 3);

        Assert.True(result.IsSuccess);
        var partitions = store.Image.GetTopic("t")!.Partitions.Values;
        Assert.All(partitions, p => Assert.Equal<int>([1, 2, 3], p.Replicas.Order()));
        Assert.Equal([1, 2, 3], partitions.Select(p => p.Leader).Order());
    }

    [Fact]
    public void CreateTopic_ManualAssignment_UsedAsGiven()
    {
        using var store = WithBroker(WithBroker(OpenStore(), 1), 2);

        var result = store.CreateTopic("t", assignments: new Dictionary<int, IReadOnlyList<int>> { [0] = [2, 1], [1] = [1, 2] });

        Assert.True(result.IsSuccess, result.ErrorMessage);
        var topic = store.Image.GetTopic("t")!;
        Assert.Equal<int>([2, 1], topic.Partitions[0].Replicas);
        Assert.Equal(2, topic.Partitions[0].Leader);
        Assert.Equal<int>([1, 2], topic.Partitions[1].Replicas);
    }

    [Fact]
    public void CreateTopic_ManualAssignmentWithUnknownBroker_InvalidReplicaAssignment()
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic("t", assignments: new Dictionary<int, IReadOnlyList<int>> { [0] = [1, 9] });

        Assert.Equal(ErrorCode.InvalidReplicaAssignment, result.Error);
        Assert.Equal("The manual partition assignment includes broker 9, but no such broker is registered.", result.ErrorMessage);
    }

    [Fact]
    public void CreateTopic_ManualAssignmentWithPartitionCount_InvalidRequest()
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic("t", numPartitions: 1, assignments: new Dictionary<int, IReadOnlyList<int>> { [0] = [1] });

        Assert.Equal(ErrorCode.InvalidRequest, result.Error);
    }

    [Fact]
    public void CreateTopic_Configs_StoredAsTopicOverrides()
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic("t", 1, 1, configs: [new("cleanup.policy", "compact"), new("min.insync.replicas", "1")]);

        Assert.True(result.IsSuccess, result.ErrorMessage);
        var configs = store.Image.GetTopicConfigs("t");
        Assert.Equal("compact", configs["cleanup.policy"]);
        Assert.Equal("1", configs["min.insync.replicas"]);
    }

    [Fact]
    public void CreateTopic_UnknownConfig_InvalidConfig()
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic("t", 1, 1, configs: [new("no.such.config", "1")]);

        Assert.Equal(ErrorCode.InvalidConfig, result.Error);
        Assert.Equal("Unknown topic config name: no.such.config", result.ErrorMessage);
    }

    [Theory]
    [InlineData("segment.bytes", "abc")]
    [InlineData("cleanup.policy", "shred")]
    [InlineData("compression.type", "brotli")]
    [InlineData("min.insync.replicas", "0")]
    public void CreateTopic_BadConfigValue_InvalidConfig(string key, string value)
    {
        using var store = WithBroker(OpenStore());

        var result = store.CreateTopic("t", 1, 1, configs: [new(key, value)]);

        Assert.Equal(ErrorCode.InvalidConfig, result.Error);
        Assert.Contains(key, result.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void CreateTopic_ValidateOnly_WritesNothing()
    {
        using var store = WithBroker(OpenStore());
        var end = store.Log.LogEndOffset;
        var image = store.Image;

        var result = store.CreateTopic("t", 2, 1, configs: [new("retention.ms", "1000")], validateOnly: true);

        Assert.True(result.IsSuccess);
        Assert.Equal(2, result.NumPartitions);
        Assert.Equal(end, store.Log.LogEndOffset);
        Assert.Same(image, store.Image);
    }

    [Fact]
    public void CreateTopic_MultipleRecords_AppendedAsOneBatch()
    {
        using var store = WithBroker(OpenStore());
        var before = store.Log.LogEndOffset;

        store.CreateTopic("t", 3, 1, configs: [new("retention.ms", "1000")]);

        // TopicRecord + ConfigRecord + 3 PartitionRecords, all in one batch.
        Assert.Equal(before + 5, store.Log.LogEndOffset);
        Assert.Equal((before, 5), Batches(store)[^1]);
    }

    [Fact]
    public void Publisher_CreateAndDelete_GetsPreviousAndNewImages()
    {
        using var store = WithBroker(OpenStore());
        var events = new List<(MetadataDelta Delta, ClusterImage Image)>();
        store.Loader.Install(new RecordingPublisher(events));

        store.CreateTopic("t", 2, 1);
        store.DeleteTopic("t");

        Assert.Equal(3, events.Count); // the initial delta, then one per operation
        Assert.True(events[0].Delta.IsInitial);
        Assert.Null(events[1].Delta.Previous.GetTopic("t"));
        Assert.NotNull(events[1].Image.GetTopic("t"));
        Assert.Equal(3, events[1].Delta.Records.Count);
        Assert.Same(events[1].Image, events[2].Delta.Previous);
        Assert.Null(events[2].Image.GetTopic("t"));
    }

    private sealed class RecordingPublisher(List<(MetadataDelta Delta, ClusterImage Image)> events) : IMetadataPublisher
    {
        public string Name => "recording";

        public void OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage) => events.Add((delta, newImage));
    }

    [Fact]
    public void DeleteTopic_ByName_RemovesTopicAndItsConfigs()
    {
        using var store = WithBroker(OpenStore());
        var created = store.CreateTopic("t", 1, 1, configs: [new("retention.ms", "1000")]);

        var result = store.DeleteTopic("t");

        Assert.True(result.IsSuccess);
        Assert.Equal(created.TopicId, result.TopicId);
        Assert.Null(store.Image.GetTopic("t"));
        Assert.Null(store.Image.GetTopic(created.TopicId));
        Assert.Empty(store.Image.GetTopicConfigs("t"));
    }

    [Fact]
    public void DeleteTopic_ById_Removes()
    {
        using var store = WithBroker(OpenStore());
        var created = store.CreateTopic("t", 1, 1);

        var result = store.DeleteTopic(created.TopicId);

        Assert.True(result.IsSuccess);
        Assert.Equal("t", result.Name);
        Assert.Empty(store.Image.TopicsByName);
    }

    [Fact]
    public void DeleteTopic_Unknown_UnknownTopicOrPartitionOrUnknownTopicId()
    {
        using var store = OpenStore();

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, store.DeleteTopic("nope").Error);
        Assert.Equal(ErrorCode.UnknownTopicId, store.DeleteTopic(KafkaUuid.NewRandom()).Error);
    }

    [Fact]
    public void DeleteTopic_ThenCreateSameName_GetsNewId()
    {
        using var store = WithBroker(OpenStore());
        var first = store.CreateTopic("t", 1, 1);
        store.DeleteTopic("t");

        var second = store.CreateTopic("t", 1, 1);

        Assert.True(second.IsSuccess);
        Assert.NotEqual(first.TopicId, second.TopicId);
    }

    [Fact]
    public void CreatePartitions_Increase_AddsPartitionsInOneBatch()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 2, 1);
        var before = store.Log.LogEndOffset;

        var result = store.CreatePartitions("t", 5);

        Assert.True(result.IsSuccess, result.ErrorMessage);
        var topic = store.Image.GetTopic("t")!;
        Assert.Equal<int>([0, 1, 2, 3, 4], topic.Partitions.Keys);
        Assert.All(topic.Partitions.Values, p => Assert.Equal<int>([1], p.Replicas));
        Assert.Equal((before, 3), Batches(store)[^1]);
    }

    [Fact]
    public void CreatePartitions_NotAnIncrease_InvalidPartitions()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 3, 1);

        var lower = store.CreatePartitions("t", 2);
        var same = store.CreatePartitions("t", 3);

        Assert.Equal(ErrorCode.InvalidPartitions, lower.Error);
        Assert.Equal("The topic t currently has 3 partition(s); 2 would not be an increase.", lower.ErrorMessage);
        Assert.Equal(ErrorCode.InvalidPartitions, same.Error);
        Assert.Equal("Topic already has 3 partition(s).", same.ErrorMessage);
    }

    [Fact]
    public void CreatePartitions_UnknownTopic_UnknownTopicOrPartition()
    {
        using var store = WithBroker(OpenStore());

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, store.CreatePartitions("nope", 2).Error);
    }

    [Fact]
    public void CreatePartitions_WrongAssignmentCount_InvalidReplicaAssignment()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 1, 1);

        var result = store.CreatePartitions("t", 3, [[1]]);

        Assert.Equal(ErrorCode.InvalidReplicaAssignment, result.Error);
        Assert.Equal("Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.", result.ErrorMessage);
    }

    [Fact]
    public void CreatePartitions_ValidateOnly_WritesNothing()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 1, 1);
        var end = store.Log.LogEndOffset;

        Assert.True(store.CreatePartitions("t", 4, validateOnly: true).IsSuccess);

        Assert.Equal(end, store.Log.LogEndOffset);
        Assert.Single(store.Image.GetTopic("t")!.Partitions);
    }

    [Fact]
    public void AlterConfigs_SetThenDelete_UpdatesOverrides()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 1, 1);
        var resource = new ConfigResource(ConfigResourceType.Topic, "t");

        var set = store.AlterConfigs(resource, [new("retention.ms", AlterConfigOpType.Set, "5000"), new("max.message.bytes", AlterConfigOpType.Set, "2048")]);
        Assert.True(set.IsSuccess, set.ErrorMessage);
        Assert.Equal("5000", store.Image.GetTopicConfigs("t")["retention.ms"]);

        var delete = store.AlterConfigs(resource, [new("retention.ms", AlterConfigOpType.Delete, null)]);
        Assert.True(delete.IsSuccess);
        Assert.False(store.Image.GetTopicConfigs("t").ContainsKey("retention.ms"));
        Assert.Equal("2048", store.Image.GetTopicConfigs("t")["max.message.bytes"]);
    }

    [Fact]
    public void AlterConfigs_AppendAndSubtract_OnListConfig()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 1, 1);
        var resource = new ConfigResource(ConfigResourceType.Topic, "t");

        Assert.True(store.AlterConfigs(resource, [new("cleanup.policy", AlterConfigOpType.Append, "compact")]).IsSuccess);
        Assert.Equal("delete,compact", store.Image.GetTopicConfigs("t")["cleanup.policy"]);

        Assert.True(store.AlterConfigs(resource, [new("cleanup.policy", AlterConfigOpType.Subtract, "delete")]).IsSuccess);
        Assert.Equal("compact", store.Image.GetTopicConfigs("t")["cleanup.policy"]);
    }

    [Fact]
    public void AlterConfigs_AppendToNonList_InvalidConfig()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 1, 1);

        var result = store.AlterConfigs(new ConfigResource(ConfigResourceType.Topic, "t"), [new("retention.ms", AlterConfigOpType.Append, "1")]);

        Assert.Equal(ErrorCode.InvalidConfig, result.Error);
        Assert.Equal("Config value append is not allowed for config key: retention.ms", result.ErrorMessage);
    }

    [Fact]
    public void AlterConfigs_BadValueOrName_InvalidConfigAndNothingWritten()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 1, 1);
        var end = store.Log.LogEndOffset;
        var resource = new ConfigResource(ConfigResourceType.Topic, "t");

        var bad = store.AlterConfigs(resource, [new("retention.ms", AlterConfigOpType.Set, "1000"), new("segment.bytes", AlterConfigOpType.Set, "1")]);
        var unknown = store.AlterConfigs(resource, [new("nope", AlterConfigOpType.Set, "1")]);

        Assert.Equal(ErrorCode.InvalidConfig, bad.Error);
        Assert.Contains("segment.bytes", bad.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(ErrorCode.InvalidConfig, unknown.Error);
        Assert.Equal(end, store.Log.LogEndOffset);
        Assert.Empty(store.Image.GetTopicConfigs("t"));
    }

    [Fact]
    public void AlterConfigs_Group_ValidatorChecksResultingSetAndConfigsSurviveRestart()
    {
        var group = new ConfigResource(ConfigResourceType.Group, "g");
        using (var store = OpenStore())
        {
            IReadOnlyDictionary<string, string>? seen = null;
            var refused = store.AlterConfigs(group, [new("consumer.session.timeout.ms", AlterConfigOpType.Set, "1")], validate: c => (seen = c).Count > 0 ? "too short" : null);
            Assert.Equal((ErrorCode.InvalidConfig, "too short"), (refused.Error, refused.ErrorMessage));
            Assert.Equal("1", seen!["consumer.session.timeout.ms"]);
            Assert.Empty(store.Image.GetConfigs(group));

            Assert.True(store.AlterConfigs(group, [new("consumer.session.timeout.ms", AlterConfigOpType.Set, "50000")], validate: _ => null).IsSuccess);
            var defaultGroup = store.AlterConfigs(new ConfigResource(ConfigResourceType.Group, ""), [new("consumer.session.timeout.ms", AlterConfigOpType.Set, "50000")]);
            Assert.Equal((ErrorCode.InvalidRequest, "Default group resources are not allowed."), (defaultGroup.Error, defaultGroup.ErrorMessage));
            store.WriteSnapshot();
        }

        using var reopened = OpenStore();
        Assert.Equal("50000", reopened.Image.GetConfigs(group)["consumer.session.timeout.ms"]);
    }

    [Fact]
    public void AlterConfigs_UnknownTopic_UnknownTopicOrPartition()
    {
        using var store = OpenStore();

        var result = store.AlterConfigs(new ConfigResource(ConfigResourceType.Topic, "nope"), [new("retention.ms", AlterConfigOpType.Set, "1")]);

        Assert.Equal(ErrorCode.UnknownTopicOrPartition, result.Error);
    }

    [Fact]
    public void AlterConfigs_BrokerResource_Stored()
    {
        using var store = WithBroker(OpenStore());

        var result = store.AlterConfigs(new ConfigResource(ConfigResourceType.Broker, "1"), [new("log.cleaner.threads", AlterConfigOpType.Set, "2")]);

        Assert.True(result.IsSuccess);
        Assert.Equal("2", store.Image.GetConfigs(new ConfigResource(ConfigResourceType.Broker, "1"))["log.cleaner.threads"]);
    }

    [Fact]
    public void AlterConfigs_ValidateOnly_WritesNothing()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("t", 1, 1);
        var end = store.Log.LogEndOffset;

        var result = store.AlterConfigs(new ConfigResource(ConfigResourceType.Topic, "t"), [new("retention.ms", AlterConfigOpType.Set, "1")], validateOnly: true);

        Assert.True(result.IsSuccess);
        Assert.Equal(end, store.Log.LogEndOffset);
    }

    [Fact]
    public void ClusterImage_PartitionChange_UpdatesLeaderAndBumpsEpochs()
    {
        using var store = WithBroker(WithBroker(OpenStore(), 1), 2);
        var created = store.CreateTopic("t", assignments: new Dictionary<int, IReadOnlyList<int>> { [0] = [1, 2] });
        var image = store.Image;

        var changed = image.ApplyPartitionChange(new Protocol.MetadataRecords.PartitionChangeRecord { TopicId = created.TopicId, PartitionId = 0, Leader = 2, Isr = [2] });
        var isrOnly = changed.ApplyPartitionChange(new Protocol.MetadataRecords.PartitionChangeRecord { TopicId = created.TopicId, PartitionId = 0, Isr = [2, 1] });

        var p = changed.GetTopic("t")!.Partitions[0];
        Assert.Equal(2, p.Leader);
        Assert.Equal<int>([2], p.Isr);
        Assert.Equal(1, p.LeaderEpoch);
        Assert.Equal(1, p.PartitionEpoch);
        var q = isrOnly.GetTopic("t")!.Partitions[0];
        Assert.Equal(2, q.Leader);
        Assert.Equal(1, q.LeaderEpoch);
        Assert.Equal(2, q.PartitionEpoch);
        Assert.Equal<int>([2, 1], q.Isr);
    }

    [Fact]
    public void ResolveMetadataLogDir_Unset_FirstLogDir()
    {
        Assert.Equal("/a", MetadataStoreOptions.ResolveMetadataLogDir(null, ["/a", "/b"]));
        Assert.Equal("/m", MetadataStoreOptions.ResolveMetadataLogDir("/m", ["/a"]));
    }
}
