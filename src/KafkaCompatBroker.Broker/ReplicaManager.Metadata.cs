using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The replica manager as a metadata publisher (Kafka's BrokerMetadataPublisher → ReplicaManager.applyDelta): from each
/// delta it touches only what changed — new partitions this broker leads get a log and a <see cref="Partition"/> (a
/// changed leader epoch reaches the hosted one), deleted topics' partitions stop being hosted and their logs are
/// deleted, by topic id, and configs are applied to the topics whose overrides or the broker's log defaults changed.
/// </summary>
public sealed partial class ReplicaManager : IMetadataPublisher
{
    string IMetadataPublisher.Name => nameof(ReplicaManager);

    /// <summary>Test hook: every partition <see cref="ApplyDelta"/> looks at, before it touches its log.</summary>
    internal Action<TopicPartition>? PartitionApplied { get; set; }

    void IMetadataPublisher.OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage) => ApplyDelta(delta, newImage);

    /// <summary>Makes the hosted logs follow <paramref name="delta"/>; the initial delta also deletes logs of topics deleted while the broker was down.</summary>
    public void ApplyDelta(MetadataDelta delta, ClusterImage image)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(image);
        foreach (var (id, old) in delta.DeletedTopics)
        {
            foreach (var partition in old.Partitions.Keys)
            {
                // By id: a new topic of the same name may already have its own log here.
                var tp = new TopicPartition(old.Name, partition);
                PartitionApplied?.Invoke(tp);
                StopHosting(tp, id);
            }
        }

        // The broker's dynamic log.* configs are every topic's defaults: a change there reaches every hosted log.
        var defaultsChanged = delta.ChangedConfigs.Contains(new ConfigResource(ConfigResourceType.Broker, ""))
            || delta.ChangedConfigs.Contains(new ConfigResource(ConfigResourceType.Broker, _settings.NodeId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (defaultsChanged)
        {
            foreach (var topic in image.TopicsById.Values)
            {
                ApplyTopic(topic, image, delta.ChangedPartitionsOf(topic.Id), configChanged: true);
            }
        }
        else
        {
            foreach (var (topicId, partitions) in delta.ChangedPartitions)
            {
                if (image.GetTopic(topicId) is { } topic)
                {
                    ApplyTopic(topic, image, partitions, delta.TopicConfigsChanged(topic.Name));
                }
            }

            foreach (var resource in delta.ChangedConfigs)
            {
                if (resource.Type == ConfigResourceType.Topic && image.GetTopic(resource.Name) is { } topic && delta.ChangedPartitionsOf(topic.Id).Count == 0)
                {
                    ApplyTopic(topic, image, delta.ChangedPartitionsOf(topic.Id), configChanged: true);
                }
            }
        }

        if (delta.IsInitial)
        {
            DeleteStrayLogs(image);
        }
    }

    /// <summary>
    /// Creates the logs of <paramref name="changed"/> partitions this broker leads, and with <paramref name="configChanged"/>
    /// applies the topic's config to every hosted partition of it.
    /// </summary>
    private void ApplyTopic(TopicImage topic, ClusterImage image, IReadOnlySet<int> changed, bool configChanged)
    {
        var config = ConfigFor(image, topic.Name);
        var created = 0;
        foreach (var partition in topic.Partitions.Values)
        {
            var isChanged = changed.Contains(partition.PartitionId);
            if ((!isChanged && !configChanged) || partition.Leader != _settings.NodeId)
            {
                // ONE-REPLICA: a partition led elsewhere has no local replica yet; with replication this broker becomes its follower.
                continue;
            }

            var tp = new TopicPartition(topic.Name, partition.PartitionId);
            PartitionApplied?.Invoke(tp);
            var log = _logs.GetLog(tp);
            if (isChanged && (log is null || log.TopicId != topic.Id))
            {
                // New, or a log without its topic id yet (it adopts it), or a stray of a deleted topic of the same name (replaced).
                var hosted = _logs.GetOrCreateLog(tp, config, topic.Id);
                created += hosted == log ? 0 : 1;
                log = hosted;
            }

            if (log is not null && log.Config != config)
            {
                log.UpdateConfig(config);
            }

            if (isChanged && log is not null)
            {
                // A new partition, a new leader epoch or a replaced log: the Partition follows it.
                HostPartition(topic.Id, tp, partition.LeaderEpoch, log);
            }
        }

        if (created > 0)
        {
            // One line per topic: __consumer_offsets alone has 50 partitions.
            if (created == topic.Partitions.Count)
            {
                _logger.LogInformation("Created the logs of topic {Topic}: {Count} partition(s)", topic.Name, created);
            }
            else
            {
                _logger.LogInformation("Created {Count} more partition log(s) of topic {Topic}, now {Partitions} partition(s)", created, topic.Name, topic.Partitions.Count);
            }
        }
    }

    /// <summary>At start-up: logs on disk for topics that no longer exist were deleted while the broker was down.</summary>
    private void DeleteStrayLogs(ClusterImage image)
    {
        foreach (var log in _logs.AllLogs)
        {
            var topic = image.GetTopic(log.TopicPartition.Topic);
            if (topic is null || !topic.Partitions.ContainsKey(log.TopicPartition.Partition))
            {
                _logger.LogInformation("Deleting the log of {Partition}: its topic no longer exists", log.TopicPartition);
                _logs.DeleteLog(log.TopicPartition);
            }
        }
    }

    /// <summary>Stops following the metadata.</summary>
    public void Dispose() => _metadata.Loader.Remove(this);
}
