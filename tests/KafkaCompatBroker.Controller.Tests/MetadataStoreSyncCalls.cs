using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker;

/// <summary>
/// Synchronous shorthands of <see cref="IClusterController"/> calls for tests (linked into Broker.Tests too): each waits
/// for the answer, which the in-process controller gives once the change is published.
/// </summary>
internal static class MetadataStoreSyncCalls
{
    public static CreateTopicResult CreateTopic(
        this MetadataStore store,
        string name,
        int numPartitions = -1,
        short replicationFactor = -1,
        IReadOnlyDictionary<int, IReadOnlyList<int>>? assignments = null,
        IEnumerable<KeyValuePair<string, string?>>? configs = null,
        bool validateOnly = false) =>
        Wait(store.Controller.CreateTopicAsync(name, numPartitions, replicationFactor, assignments, configs, validateOnly));

    public static DeleteTopicResult DeleteTopic(this MetadataStore store, string name) => Wait(store.Controller.DeleteTopicAsync(name));

    public static DeleteTopicResult DeleteTopic(this MetadataStore store, KafkaUuid topicId) => Wait(store.Controller.DeleteTopicAsync(topicId));

    public static MetadataResult CreatePartitions(
        this MetadataStore store, string topic, int newTotal, IReadOnlyList<IReadOnlyList<int>>? assignments = null, bool validateOnly = false, int maxNewPartitions = ClusterController.MaxRecordsPerUserOperation) =>
        Wait(store.Controller.CreatePartitionsAsync(topic, newTotal, assignments, validateOnly, maxNewPartitions));

    public static MetadataResult AlterConfigs(
        this MetadataStore store, ConfigResource resource, IReadOnlyList<AlterConfigOp> ops, bool validateOnly = false, Func<IReadOnlyDictionary<string, string>, string?>? validate = null) =>
        Wait(store.Controller.AlterConfigsAsync(resource, ops, validateOnly, validate));

    public static RegisterBrokerResult RegisterBroker(
        this MetadataStore store, int brokerId, KafkaUuid incarnationId, IReadOnlyList<BrokerEndpoint> endpoints, string? rack = null, bool fenced = false) =>
        Wait(store.Controller.RegisterBrokerAsync(brokerId, incarnationId, endpoints, rack, fenced));

    public static ProducerIdBlockResult AllocateProducerIds(this MetadataStore store, int brokerId, long brokerEpoch, int blockSize = ProducerIdBlock.DefaultSize) =>
        Wait(store.Controller.AllocateProducerIdsAsync(brokerId, brokerEpoch, blockSize));

    private static T Wait<T>(ValueTask<T> call) => call.AsTask().GetAwaiter().GetResult();
}
