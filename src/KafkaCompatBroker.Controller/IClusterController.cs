using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Controller;

/// <summary>
/// The cluster controller as handlers and start-up reach it (Kafka's Controller interface): every operation is decided
/// against the latest committed metadata, committed as one batch, and answered once the batch is committed and
/// published to this broker's image (so a created topic's partitions are hosted when the answer comes). In-process
/// today (<see cref="LocalClusterController"/>); forwarded to the quorum's active controller over the network later.
/// </summary>
public interface IClusterController
{
    /// <summary>Creates a topic (see <see cref="ClusterController.CreateTopic"/>); validate-only writes nothing.</summary>
    ValueTask<CreateTopicResult> CreateTopicAsync(
        string name,
        int numPartitions = -1,
        short replicationFactor = -1,
        IReadOnlyDictionary<int, IReadOnlyList<int>>? assignments = null,
        IEnumerable<KeyValuePair<string, string?>>? configs = null,
        bool validateOnly = false);

    /// <summary>Deletes a topic by name.</summary>
    ValueTask<DeleteTopicResult> DeleteTopicAsync(string name);

    /// <summary>Deletes a topic by id.</summary>
    ValueTask<DeleteTopicResult> DeleteTopicAsync(KafkaUuid topicId);

    /// <summary>Adds partitions to a topic (see <see cref="ClusterController.CreatePartitions"/>).</summary>
    ValueTask<MetadataResult> CreatePartitionsAsync(
        string topic, int newTotal, IReadOnlyList<IReadOnlyList<int>>? assignments = null, bool validateOnly = false, int maxNewPartitions = ClusterController.MaxRecordsPerUserOperation);

    /// <summary>Alters one resource's configs (see <see cref="ClusterController.AlterConfigs"/>); <paramref name="validate"/> must be pure.</summary>
    ValueTask<MetadataResult> AlterConfigsAsync(
        ConfigResource resource, IReadOnlyList<AlterConfigOp> ops, bool validateOnly = false, Func<IReadOnlyDictionary<string, string>, string?>? validate = null);

    /// <summary>Registers (or re-registers) a broker; the answer carries its broker epoch.</summary>
    ValueTask<RegisterBrokerResult> RegisterBrokerAsync(int brokerId, KafkaUuid incarnationId, IReadOnlyList<BrokerEndpoint> endpoints, string? rack = null, bool fenced = false);

    /// <summary>Hands a broker the next block of producer ids.</summary>
    ValueTask<ProducerIdBlockResult> AllocateProducerIdsAsync(int brokerId, long brokerEpoch, int blockSize = ProducerIdBlock.DefaultSize);
}
