using System.Collections.Immutable;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.MetadataRecords;

namespace KafkaCompatBroker.Controller;

/// <summary>A metadata record that does not fit the image it is replayed onto (e.g. a partition of an unknown topic).</summary>
public sealed class MetadataReplayException(string message) : Exception(message);

/// <summary>
/// The cluster's metadata at one offset of the metadata log: an immutable value, replaced as a whole on
/// every change so that request handlers read it without locks. The Apply methods are the replay logic:
/// each returns the image with one record applied (one method per record type).
/// </summary>
public sealed record ClusterImage
{
    private static readonly ImmutableSortedDictionary<string, string> EmptyConfig = ImmutableSortedDictionary.Create<string, string>(StringComparer.Ordinal);

    public static readonly ClusterImage Empty = new();

    /// <summary>The cluster id (from meta.properties; not part of the log).</summary>
    public string ClusterId { get; init; } = "";

    /// <summary>The offset after the last record applied (the next record's offset); the id of a snapshot of this image.</summary>
    public long EndOffset { get; init; }

    public ImmutableSortedDictionary<int, BrokerRegistration> Brokers { get; init; } = ImmutableSortedDictionary<int, BrokerRegistration>.Empty;

    /// <summary>Finalized feature levels by name (e.g. metadata.version).</summary>
    public ImmutableSortedDictionary<string, short> Features { get; init; } = ImmutableSortedDictionary.Create<string, short>(StringComparer.Ordinal);

    /// <summary>The first producer id not yet handed out in a block (ProducerIdsRecord); ids below it are never reused.</summary>
    public long NextProducerId { get; init; }

    public ImmutableSortedDictionary<string, TopicImage> TopicsByName { get; init; } = ImmutableSortedDictionary.Create<string, TopicImage>(StringComparer.Ordinal);

    public ImmutableDictionary<KafkaUuid, TopicImage> TopicsById { get; init; } = ImmutableDictionary<KafkaUuid, TopicImage>.Empty;

    /// <summary>Config overrides per resource (only keys that are set).</summary>
    public ImmutableSortedDictionary<ConfigResource, ImmutableSortedDictionary<string, string>> Configs { get; init; } =
        ImmutableSortedDictionary<ConfigResource, ImmutableSortedDictionary<string, string>>.Empty;

    public TopicImage? GetTopic(string name) => TopicsByName.GetValueOrDefault(name);

    public TopicImage? GetTopic(KafkaUuid id) => TopicsById.GetValueOrDefault(id);

    public ImmutableSortedDictionary<string, string> GetConfigs(ConfigResource resource) => Configs.GetValueOrDefault(resource) ?? EmptyConfig;

    public ImmutableSortedDictionary<string, string> GetTopicConfigs(string topic) => GetConfigs(new ConfigResource(ConfigResourceType.Topic, topic));

    /// <summary>Brokers that can take new replicas (registered, unfenced, not shutting down), by id.</summary>
    public IEnumerable<BrokerRegistration> LiveBrokers => Brokers.Values.Where(b => b.IsLive);

    // ------------------------------------------------------------------ replay

    /// <summary>Applies one record (the image's end offset is not moved; see <see cref="WithEndOffset"/>).</summary>
    public ClusterImage Apply(in MetadataRecord record) => record.Message switch
    {
        RegisterBrokerRecord r => ApplyRegisterBroker(r),
        UnregisterBrokerRecord r => ApplyUnregisterBroker(r),
        FenceBrokerRecord r => ApplyFenceBroker(r),
        UnfenceBrokerRecord r => ApplyUnfenceBroker(r),
        BrokerRegistrationChangeRecord r => ApplyBrokerRegistrationChange(r),
        TopicRecord r => ApplyTopic(r),
        PartitionRecord r => ApplyPartition(r),
        PartitionChangeRecord r => ApplyPartitionChange(r),
        ConfigRecord r => ApplyConfig(r),
        RemoveTopicRecord r => ApplyRemoveTopic(r),
        FeatureLevelRecord r => ApplyFeatureLevel(r),
        ProducerIdsRecord r => this with { NextProducerId = Math.Max(NextProducerId, r.NextProducerId) },

        // Records of features this broker does not model yet (ACLs, quotas, SCRAM, ...) are skipped.
        _ => this,
    };

    public ClusterImage WithEndOffset(long endOffset) => this with { EndOffset = endOffset };

    public ClusterImage ApplyRegisterBroker(RegisterBrokerRecord record)
    {
        var endpoints = record.EndPoints.Select(e => new BrokerEndpoint(e.Name, e.Host, e.Port, e.SecurityProtocol)).ToImmutableArray();
        var registration = new BrokerRegistration(record.BrokerId, record.IncarnationId, record.BrokerEpoch, endpoints, record.Rack, record.Fenced, record.InControlledShutdown);
        return this with { Brokers = Brokers.SetItem(record.BrokerId, registration) };
    }

    public ClusterImage ApplyUnregisterBroker(UnregisterBrokerRecord record)
    {
        var broker = RequireBroker(record.BrokerId, record.BrokerEpoch, "UnregisterBrokerRecord");
        return this with { Brokers = Brokers.Remove(broker.BrokerId) };
    }

    public ClusterImage ApplyFenceBroker(FenceBrokerRecord record)
    {
        var broker = RequireBroker(record.Id, record.Epoch, "FenceBrokerRecord");
        return this with { Brokers = Brokers.SetItem(broker.BrokerId, broker with { Fenced = true }) };
    }

    public ClusterImage ApplyUnfenceBroker(UnfenceBrokerRecord record)
    {
        var broker = RequireBroker(record.Id, record.Epoch, "UnfenceBrokerRecord");
        return this with { Brokers = Brokers.SetItem(broker.BrokerId, broker with { Fenced = false }) };
    }

    public ClusterImage ApplyBrokerRegistrationChange(BrokerRegistrationChangeRecord record)
    {
        var broker = RequireBroker(record.BrokerId, record.BrokerEpoch, "BrokerRegistrationChangeRecord");

        // Fenced / InControlledShutdown: 0 = no change, 1 = yes (fenced / in controlled shutdown), -1 = no.
        var changed = broker with
        {
            Fenced = record.Fenced switch { 1 => true, -1 => false, _ => broker.Fenced },
            InControlledShutdown = record.InControlledShutdown switch { 1 => true, _ => broker.InControlledShutdown },
        };
        return this with { Brokers = Brokers.SetItem(broker.BrokerId, changed) };
    }

    public ClusterImage ApplyTopic(TopicRecord record)
    {
        if (TopicsByName.ContainsKey(record.Name) || TopicsById.ContainsKey(record.TopicId))
        {
            throw new MetadataReplayException($"TopicRecord for {record.Name} ({record.TopicId}): a topic with that name or id exists");
        }

        var topic = new TopicImage(record.Name, record.TopicId, ImmutableSortedDictionary<int, PartitionImage>.Empty);
        return WithTopic(topic);
    }

    public ClusterImage ApplyPartition(PartitionRecord record)
    {
        var topic = RequireTopic(record.TopicId, "PartitionRecord");
        var partition = new PartitionImage(
            record.PartitionId,
            record.TopicId,
            [.. record.Replicas],
            [.. record.Isr],
            [.. record.RemovingReplicas],
            [.. record.AddingReplicas],
            record.Leader,
            record.LeaderEpoch,
            record.PartitionEpoch);
        return WithTopic(topic with { Partitions = topic.Partitions.SetItem(record.PartitionId, partition) });
    }

    public ClusterImage ApplyPartitionChange(PartitionChangeRecord record)
    {
        var topic = RequireTopic(record.TopicId, "PartitionChangeRecord");
        if (!topic.Partitions.TryGetValue(record.PartitionId, out var partition))
        {
            throw new MetadataReplayException($"PartitionChangeRecord for unknown partition {record.PartitionId} of topic {topic.Name}");
        }

        // Null lists and Leader -2 (NO_LEADER_CHANGE) leave a field as it is; a leader change bumps the
        // leader epoch; every change bumps the partition epoch (Kafka's PartitionRegistration.merge).
        var leaderChanged = record.Leader != -2;
        var changed = partition with
        {
            Replicas = record.Replicas is { } replicas ? [.. replicas] : partition.Replicas,
            Isr = record.Isr is { } isr ? [.. isr] : partition.Isr,
            RemovingReplicas = record.RemovingReplicas is { } removing ? [.. removing] : partition.RemovingReplicas,
            AddingReplicas = record.AddingReplicas is { } adding ? [.. adding] : partition.AddingReplicas,
            Leader = leaderChanged ? record.Leader : partition.Leader,
            LeaderEpoch = leaderChanged ? partition.LeaderEpoch + 1 : partition.LeaderEpoch,
            PartitionEpoch = partition.PartitionEpoch + 1,
        };
        return WithTopic(topic with { Partitions = topic.Partitions.SetItem(record.PartitionId, changed) });
    }

    public ClusterImage ApplyConfig(ConfigRecord record)
    {
        var resource = new ConfigResource((ConfigResourceType)record.ResourceType, record.ResourceName);
        var current = GetConfigs(resource);
        var updated = record.Value is null ? current.Remove(record.Name) : current.SetItem(record.Name, record.Value);
        return this with { Configs = updated.IsEmpty ? Configs.Remove(resource) : Configs.SetItem(resource, updated) };
    }

    public ClusterImage ApplyRemoveTopic(RemoveTopicRecord record)
    {
        var topic = RequireTopic(record.TopicId, "RemoveTopicRecord");

        // Kafka drops the topic's config overrides with the topic.
        return this with
        {
            TopicsByName = TopicsByName.Remove(topic.Name),
            TopicsById = TopicsById.Remove(topic.Id),
            Configs = Configs.Remove(new ConfigResource(ConfigResourceType.Topic, topic.Name)),
        };
    }

    public ClusterImage ApplyFeatureLevel(FeatureLevelRecord record) =>

        // Level 0 removes a feature (Kafka's FeaturesDelta), except metadata.version which cannot be removed.
        this with { Features = record.FeatureLevel == 0 && record.Name != MetadataStore.MetadataVersionFeature ? Features.Remove(record.Name) : Features.SetItem(record.Name, record.FeatureLevel) };

    private ClusterImage WithTopic(TopicImage topic) =>
        this with { TopicsByName = TopicsByName.SetItem(topic.Name, topic), TopicsById = TopicsById.SetItem(topic.Id, topic) };

    private TopicImage RequireTopic(KafkaUuid id, string recordName) =>
        TopicsById.GetValueOrDefault(id) ?? throw new MetadataReplayException($"{recordName} for unknown topic id {id}");

    private BrokerRegistration RequireBroker(int id, long epoch, string recordName)
    {
        if (!Brokers.TryGetValue(id, out var broker))
        {
            throw new MetadataReplayException($"{recordName} for unregistered broker {id}");
        }

        if (broker.BrokerEpoch != epoch)
        {
            throw new MetadataReplayException($"{recordName} for broker {id} with epoch {epoch}, but the registration's epoch is {broker.BrokerEpoch}");
        }

        return broker;
    }

    // ------------------------------------------------------------------ image as records (snapshots)

    /// <summary>
    /// The records that rebuild this image from an empty one, in a deterministic order (features, brokers,
    /// topics with their partitions, configs): the contents of a snapshot.
    /// </summary>
    public IEnumerable<MetadataRecord> ToRecords()
    {
        if (Features.TryGetValue(MetadataStore.MetadataVersionFeature, out var metadataVersion))
        {
            yield return new MetadataRecord(new FeatureLevelRecord { Name = MetadataStore.MetadataVersionFeature, FeatureLevel = metadataVersion }, 0);
        }

        foreach (var (name, level) in Features)
        {
            if (name != MetadataStore.MetadataVersionFeature)
            {
                yield return new MetadataRecord(new FeatureLevelRecord { Name = name, FeatureLevel = level }, 0);
            }
        }

        foreach (var broker in Brokers.Values)
        {
            yield return ClusterController.RegisterBrokerRecordFor(broker);
        }

        if (NextProducerId > 0)
        {
            // Broker id and epoch only say who asked; a snapshot keeps the high-water mark of allocated ids.
            yield return new MetadataRecord(new ProducerIdsRecord { BrokerId = -1, BrokerEpoch = -1, NextProducerId = NextProducerId }, 0);
        }

        foreach (var topic in TopicsByName.Values)
        {
            yield return new MetadataRecord(new TopicRecord { Name = topic.Name, TopicId = topic.Id }, 0);
            foreach (var p in topic.Partitions.Values)
            {
                yield return new MetadataRecord(
                    new PartitionRecord
                    {
                        PartitionId = p.PartitionId,
                        TopicId = p.TopicId,
                        Replicas = [.. p.Replicas],
                        Isr = [.. p.Isr],
                        RemovingReplicas = [.. p.RemovingReplicas],
                        AddingReplicas = [.. p.AddingReplicas],
                        Leader = p.Leader,
                        LeaderEpoch = p.LeaderEpoch,
                        PartitionEpoch = p.PartitionEpoch,
                    },
                    ClusterController.PartitionRecordVersion);
            }
        }

        foreach (var (resource, configs) in Configs)
        {
            foreach (var (key, value) in configs)
            {
                yield return new MetadataRecord(new ConfigRecord { ResourceType = (sbyte)resource.Type, ResourceName = resource.Name, Name = key, Value = value }, 0);
            }
        }
    }
}
