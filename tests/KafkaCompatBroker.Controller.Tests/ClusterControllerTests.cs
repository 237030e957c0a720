using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.MetadataRecords;

namespace KafkaCompatBroker.Controller.Tests;

/// <summary>The controller's decisions alone: records and answers from an image, nothing written.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class ClusterControllerTests
{
    private readonly ClusterController _controller = new(defaultNumPartitions: 2, defaultReplicationFactor: 1);

    private static ClusterImage ImageWithBroker()
    {
        var (records, _) = ClusterController.RegisterBroker(ClusterImage.Empty, 7, 1, KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "localhost", 9092, 0)], null, false);
        return Apply(ClusterImage.Empty, records);
    }

    private static ClusterImage Apply(ClusterImage image, IReadOnlyList<MetadataRecord> records)
    {
        foreach (var record in records)
        {
            image = image.Apply(record);
        }

        return image;
    }

    private ClusterImage WithTopic(string name, int partitions)
    {
        var image = ImageWithBroker();
        return Apply(image, _controller.CreateTopic(image, name, partitions, 1).Records);
    }

    [Fact]
    public void CreateTopic_WithConfig_TopicConfigAndPartitionRecordsInOrder()
    {
        var image = ImageWithBroker();

        var (records, result) = _controller.CreateTopic(image, "t", 3, 1, configs: [new("retention.ms", "1000")]);

        Assert.True(result.IsSuccess);
        Assert.Equal((3, (short)1), (result.NumPartitions, result.ReplicationFactor));
        Assert.Collection(
            records,
            r => Assert.Equal(("t", result.TopicId), (((TopicRecord)r.Message).Name, ((TopicRecord)r.Message).TopicId)),
            r => Assert.Equal(("t", "retention.ms", "1000"), (((ConfigRecord)r.Message).ResourceName, ((ConfigRecord)r.Message).Name, ((ConfigRecord)r.Message).Value)),
            r => Assert.Equal((0, 1, 0), (((PartitionRecord)r.Message).PartitionId, ((PartitionRecord)r.Message).Leader, ((PartitionRecord)r.Message).LeaderEpoch)),
            r => Assert.Equal(1, ((PartitionRecord)r.Message).PartitionId),
            r => Assert.Equal(2, ((PartitionRecord)r.Message).PartitionId));
        Assert.Empty(image.TopicsByName); // the image it decided on is unchanged
    }

    [Fact]
    public void CreateTopic_DefaultPartitions_UsesControllerDefault()
    {
        var (records, result) = _controller.CreateTopic(ImageWithBroker(), "t");

        Assert.Equal(2, result.NumPartitions);
        Assert.Equal(3, records.Count);
    }

    [Fact]
    public void CreateTopic_ValidateOnly_AnswersWithoutRecords()
    {
        var (records, result) = _controller.CreateTopic(ImageWithBroker(), "t", 3, 1, validateOnly: true);

        Assert.Empty(records);
        Assert.Equal((ErrorCode.None, 3, KafkaUuid.Zero), (result.Error, result.NumPartitions, result.TopicId));
    }

    [Theory]
    [InlineData("t", ErrorCode.TopicAlreadyExists, "Topic 't' already exists.")]
    [InlineData("", ErrorCode.InvalidTopicException, "Topic name is illegal, it can't be empty")]
    [InlineData("t", ErrorCode.InvalidReplicationFactor, null)]
    public void CreateTopic_Invalid_ErrorAndNoRecords(string name, ErrorCode error, string? message)
    {
        var image = WithTopic("t", 1);

        var (records, result) = error == ErrorCode.InvalidReplicationFactor
            ? _controller.CreateTopic(image, "u", 1, 2)
            : _controller.CreateTopic(image, name, 1, 1);

        Assert.Empty(records);
        Assert.Equal(error, result.Error);
        if (message is not null)
        {
            Assert.Equal(message, result.ErrorMessage);
        }
    }

    [Fact]
    public void CreateTopic_TooManyPartitions_PolicyViolationBeforeOtherChecks()
    {
        var (records, result) = _controller.CreateTopic(ClusterImage.Empty, "", ClusterController.MaxRecordsPerUserOperation + 1, 1);

        Assert.Empty(records);
        Assert.Equal((ErrorCode.PolicyViolation, ClusterController.ExcessivePartitionsMessage), (result.Error, result.ErrorMessage));
    }

    [Fact]
    public void DeleteTopic_ByNameAndById_OneRemoveTopicRecord()
    {
        var image = WithTopic("t", 2);
        var id = image.GetTopic("t")!.Id;

        var byName = ClusterController.DeleteTopic(image, "t");
        var byId = ClusterController.DeleteTopic(image, id);

        Assert.Equal(id, ((RemoveTopicRecord)Assert.Single(byName.Records).Message).TopicId);
        Assert.Equal(id, ((RemoveTopicRecord)Assert.Single(byId.Records).Message).TopicId);
        Assert.Equal(("t", id), (byName.Response.Name, byName.Response.TopicId));
    }

    [Fact]
    public void DeleteTopic_Unknown_ErrorAndNoRecords()
    {
        var byName = ClusterController.DeleteTopic(ImageWithBroker(), "nope");
        var byId = ClusterController.DeleteTopic(ImageWithBroker(), KafkaUuid.NewRandom());

        Assert.Empty(byName.Records);
        Assert.Equal(ErrorCode.UnknownTopicOrPartition, byName.Response.Error);
        Assert.Empty(byId.Records);
        Assert.Equal(ErrorCode.UnknownTopicId, byId.Response.Error);
    }

    [Fact]
    public void CreatePartitions_FromTwoToFive_ThreePartitionRecordsAfterTheExisting()
    {
        var image = WithTopic("t", 2);

        var (records, result) = _controller.CreatePartitions(image, "t", 5);

        Assert.True(result.IsSuccess);
        Assert.Equal([2, 3, 4], records.Select(r => ((PartitionRecord)r.Message).PartitionId));
        Assert.All(records, r => Assert.Equal(image.GetTopic("t")!.Id, ((PartitionRecord)r.Message).TopicId));
    }

    [Fact]
    public void CreatePartitions_NotAnIncrease_InvalidPartitions()
    {
        var (records, result) = _controller.CreatePartitions(WithTopic("t", 2), "t", 2);

        Assert.Empty(records);
        Assert.Equal((ErrorCode.InvalidPartitions, "Topic already has 2 partition(s)."), (result.Error, result.ErrorMessage));
    }

    [Fact]
    public void AlterConfigs_SetChangedAndDeleteMissing_OnlyRecordsForChangedKeys()
    {
        var image = WithTopic("t", 1);
        var resource = new ConfigResource(ConfigResourceType.Topic, "t");
        image = Apply(image, ClusterController.AlterConfigs(image, resource, [new("retention.ms", AlterConfigOpType.Set, "1000")]).Records);

        var (records, result) = ClusterController.AlterConfigs(
            image,
            resource,
            [new("retention.ms", AlterConfigOpType.Set, "1000"), new("cleanup.policy", AlterConfigOpType.Set, "compact"), new("segment.ms", AlterConfigOpType.Delete, null)]);

        Assert.True(result.IsSuccess);
        var record = (ConfigRecord)Assert.Single(records).Message;
        Assert.Equal(((sbyte)ConfigResourceType.Topic, "t", "cleanup.policy", "compact"), (record.ResourceType, record.ResourceName, record.Name, record.Value));
    }

    [Theory]
    [InlineData("no.such.config", ErrorCode.InvalidConfig, "Unknown topic config name: no.such.config")]
    [InlineData("retention.ms", ErrorCode.InvalidRequest, "Null value not supported for : retention.ms")]
    public void AlterConfigs_Invalid_ErrorAndNoRecords(string key, ErrorCode error, string message)
    {
        var (records, result) = ClusterController.AlterConfigs(WithTopic("t", 1), new ConfigResource(ConfigResourceType.Topic, "t"), [new(key, AlterConfigOpType.Set, null)]);

        Assert.Empty(records);
        Assert.Equal((error, message), (result.Error, result.ErrorMessage));
    }

    [Fact]
    public void RegisterBroker_SameIncarnation_NoRecordsAndTheExistingEpoch()
    {
        var incarnation = KafkaUuid.NewRandom();
        var first = ClusterController.RegisterBroker(ClusterImage.Empty, 12, 3, incarnation, [], null, false);
        var image = Apply(ClusterImage.Empty, first.Records);

        var again = ClusterController.RegisterBroker(image, 40, 3, incarnation, [], null, false);

        Assert.Equal(12, first.Response.BrokerEpoch);
        Assert.Equal(12, ((RegisterBrokerRecord)Assert.Single(first.Records).Message).BrokerEpoch);
        Assert.Empty(again.Records);
        Assert.Equal(12, again.Response.BrokerEpoch);
    }

    [Fact]
    public void AllocateProducerIds_RegisteredThenStale_BlockThenStaleBrokerEpoch()
    {
        var image = ImageWithBroker();

        var granted = ClusterController.AllocateProducerIds(image, 1, 7, 1000);
        var stale = ClusterController.AllocateProducerIds(image, 1, 8, 1000);

        Assert.Equal(1000, ((ProducerIdsRecord)Assert.Single(granted.Records).Message).NextProducerId);
        Assert.Equal(new ProducerIdBlock(1, 0, 1000), granted.Response.Block);
        Assert.Empty(stale.Records);
        Assert.Equal(ErrorCode.StaleBrokerEpoch, stale.Response.Error);
    }

    [Fact]
    public void Bootstrap_NewAndBootstrappedImage_FeatureRecordsOnce()
    {
        var records = ClusterController.Bootstrap(ClusterImage.Empty, 7, 2);
        var image = Apply(ClusterImage.Empty, records);

        Assert.Equal([MetadataStore.MetadataVersionFeature, MetadataStore.TransactionVersionFeature], records.Select(r => ((FeatureLevelRecord)r.Message).Name));
        Assert.Empty(ClusterController.Bootstrap(image, 7, 2));
    }
}
