using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.MetadataRecords;

namespace KafkaCompatBroker.Controller;

/// <summary>
/// What changed between two images (Kafka's MetadataDelta with its TopicsDelta, ConfigurationsDelta, FeaturesDelta,
/// ClusterDelta): the publishers of <see cref="MetadataLoader"/> read it to touch only what changed. Topics are named
/// by id, so a topic deleted and another of the same name created in one delta are two different topics.
/// </summary>
public sealed class MetadataDelta
{
    private static readonly HashSet<int> NoPartitions = [];

    private readonly HashSet<KafkaUuid> _createdTopics = [];
    private readonly Dictionary<KafkaUuid, TopicImage> _deletedTopics = [];
    private readonly Dictionary<KafkaUuid, HashSet<int>> _changedPartitions = [];
    private readonly HashSet<ConfigResource> _changedConfigs = [];
    private readonly HashSet<string> _changedFeatures = new(StringComparer.Ordinal);
    private readonly HashSet<int> _changedBrokers = [];
    private readonly List<MetadataRecord> _records = [];

    private MetadataDelta(ClusterImage previous, bool isInitial)
    {
        Previous = previous;
        IsInitial = isInitial;
    }

    /// <summary>The image the delta applies to.</summary>
    public ClusterImage Previous { get; }

    /// <summary>
    /// The first delta a publisher sees: from the empty image to the loaded one (every topic, config, feature and
    /// broker is new). Publishers do their start-up work here (e.g. delete logs of topics deleted while down).
    /// </summary>
    public bool IsInitial { get; }

    /// <summary>The records the delta was built from, in log order (none for an initial delta).</summary>
    public IReadOnlyList<MetadataRecord> Records => _records;

    /// <summary>Topics created (by id; they are in the new image).</summary>
    public IReadOnlySet<KafkaUuid> CreatedTopics => _createdTopics;

    /// <summary>Topics deleted (by id), as they were in <see cref="Previous"/>; a topic created and deleted within the delta is in neither.</summary>
    public IReadOnlyDictionary<KafkaUuid, TopicImage> DeletedTopics => _deletedTopics;

    /// <summary>Partitions added or changed (replicas, leader, epochs), by topic id; those of deleted topics are not listed.</summary>
    public IEnumerable<KeyValuePair<KafkaUuid, IReadOnlySet<int>>> ChangedPartitions =>
        _changedPartitions.Select(kv => new KeyValuePair<KafkaUuid, IReadOnlySet<int>>(kv.Key, kv.Value));

    /// <summary>Config resources whose overrides changed (a topic's configs also when the topic was deleted with them).</summary>
    public IReadOnlySet<ConfigResource> ChangedConfigs => _changedConfigs;

    /// <summary>Finalized features whose level changed.</summary>
    public IReadOnlySet<string> ChangedFeatures => _changedFeatures;

    /// <summary>Brokers registered, unregistered, fenced, unfenced or otherwise changed.</summary>
    public IReadOnlySet<int> ChangedBrokers => _changedBrokers;

    /// <summary>Whether a producer-id block was handed out.</summary>
    public bool ProducerIdsChanged { get; private set; }

    /// <summary>Whether any BROKER resource (the cluster default or one broker) changed its configs.</summary>
    public bool BrokerConfigsChanged { get; private set; }

    /// <summary>The partitions of <paramref name="topicId"/> that were added or changed (empty if none).</summary>
    public IReadOnlySet<int> ChangedPartitionsOf(KafkaUuid topicId) => _changedPartitions.TryGetValue(topicId, out var set) ? set : NoPartitions;

    /// <summary>Whether the topic named <paramref name="topic"/> had its config overrides changed.</summary>
    public bool TopicConfigsChanged(string topic) => _changedConfigs.Contains(new ConfigResource(ConfigResourceType.Topic, topic));

    /// <summary>The delta from the empty image (with <paramref name="image"/>'s cluster id) to <paramref name="image"/>.</summary>
    public static MetadataDelta Initial(ClusterImage image)
    {
        ArgumentNullException.ThrowIfNull(image);
        var delta = new MetadataDelta(ClusterImage.Empty with { ClusterId = image.ClusterId }, isInitial: true);
        foreach (var topic in image.TopicsById.Values)
        {
            delta._createdTopics.Add(topic.Id);
            delta._changedPartitions[topic.Id] = [.. topic.Partitions.Keys];
        }

        foreach (var resource in image.Configs.Keys)
        {
            delta.ConfigChanged(resource);
        }

        delta._changedFeatures.UnionWith(image.Features.Keys);
        delta._changedBrokers.UnionWith(image.Brokers.Keys);
        delta.ProducerIdsChanged = image.NextProducerId > 0;
        return delta;
    }

    private void ConfigChanged(ConfigResource resource)
    {
        _changedConfigs.Add(resource);
        BrokerConfigsChanged |= resource.Type == ConfigResourceType.Broker;
    }

    /// <summary>Replays records onto an image, noting what each changes (Kafka's MetadataDelta.replay).</summary>
    public sealed class Builder
    {
        private readonly MetadataDelta _delta;

        public Builder(ClusterImage previous)
        {
            ArgumentNullException.ThrowIfNull(previous);
            _delta = new MetadataDelta(previous, isInitial: false);
            Image = previous;
        }

        /// <summary>The image with the records so far applied (its end offset is not moved).</summary>
        public ClusterImage Image { get; private set; }

        /// <summary>Applies one record to <see cref="Image"/> and notes the change; throws <see cref="MetadataReplayException"/> when it does not fit.</summary>
        public void Apply(in MetadataRecord record)
        {
            var before = Image;
            Image = before.Apply(record);
            _delta._records.Add(record);
            switch (record.Message)
            {
                case TopicRecord r:
                    _delta._createdTopics.Add(r.TopicId);
                    break;
                case PartitionRecord r:
                    PartitionChanged(r.TopicId, r.PartitionId);
                    break;
                case PartitionChangeRecord r:
                    PartitionChanged(r.TopicId, r.PartitionId);
                    break;
                case RemoveTopicRecord r:
                    var topic = before.GetTopic(r.TopicId)!;
                    _delta._changedPartitions.Remove(r.TopicId);
                    if (!_delta._createdTopics.Remove(r.TopicId))
                    {
                        _delta._deletedTopics[r.TopicId] = topic;
                    }

                    var configs = new ConfigResource(ConfigResourceType.Topic, topic.Name);
                    if (before.Configs.ContainsKey(configs))
                    {
                        _delta.ConfigChanged(configs);
                    }

                    break;
                case ConfigRecord r:
                    _delta.ConfigChanged(new ConfigResource((ConfigResourceType)r.ResourceType, r.ResourceName));
                    break;
                case FeatureLevelRecord r:
                    _delta._changedFeatures.Add(r.Name);
                    break;
                case RegisterBrokerRecord r:
                    _delta._changedBrokers.Add(r.BrokerId);
                    break;
                case UnregisterBrokerRecord r:
                    _delta._changedBrokers.Add(r.BrokerId);
                    break;
                case FenceBrokerRecord r:
                    _delta._changedBrokers.Add(r.Id);
                    break;
                case UnfenceBrokerRecord r:
                    _delta._changedBrokers.Add(r.Id);
                    break;
                case BrokerRegistrationChangeRecord r:
                    _delta._changedBrokers.Add(r.BrokerId);
                    break;
                case ProducerIdsRecord:
                    _delta.ProducerIdsChanged = true;
                    break;
            }
        }

        /// <summary>The delta, and the new image ending at <paramref name="endOffset"/>.</summary>
        public (MetadataDelta Delta, ClusterImage Image) Build(long endOffset) => (_delta, Image.WithEndOffset(endOffset));

        private void PartitionChanged(KafkaUuid topicId, int partition)
        {
            if (!_delta._changedPartitions.TryGetValue(topicId, out var set))
            {
                _delta._changedPartitions[topicId] = set = [];
            }

            set.Add(partition);
        }
    }
}
