using System.Globalization;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.MetadataRecords;

namespace KafkaCompatBroker.Controller;

/// <summary>
/// The controller's decisions (Kafka's QuorumController with its ReplicationControlManager, ConfigurationControlManager,
/// ClusterControlManager, ProducerIdControlManager and FeatureControlManager): each operation validates against an image,
/// places replicas and returns the records that carry it out plus the answer, without writing anything. The caller
/// (<see cref="LocalClusterController"/>) commits the records as one batch, so a crash never leaves half an operation.
/// Topic placement is in ClusterController.Placement.cs.
/// </summary>
public sealed partial class ClusterController(int defaultNumPartitions = 1, short defaultReplicationFactor = 1)
{
    public const int MaxTopicNameLength = 249;

    /// <summary>
    /// The most records one user operation may write, and the most partitions one CreateTopics request may ask
    /// for: Kafka's QuorumController.MAX_RECORDS_PER_USER_OP (the BoundedList every operation collects its
    /// records in) and ReplicationControlManager.MAX_PARTITIONS_PER_BATCH, both 10,000. Counts read from the
    /// wire are checked against it before anything they size is allocated.
    /// </summary>
    public const int MaxRecordsPerUserOperation = 10_000;

    /// <summary>ReplicationControlManager.validateTotalNumberOfPartitions' PolicyViolationException.</summary>
    public const string ExcessivePartitionsMessage = "Excessively large number of partitions per request.";

    /// <summary>What Kafka's controller answers when an operation overflows its bounded record list (EventHandlerExceptionInfo).</summary>
    public const string ExcessiveBatchMessage = "Unable to perform excessively large batch operation.";

    internal const short PartitionRecordVersion = 0;
    internal const short RegisterBrokerRecordVersion = 3;

    /// <summary>num.partitions: partitions of a topic created with numPartitions -1.</summary>
    public int DefaultNumPartitions { get; } = defaultNumPartitions;

    /// <summary>default.replication.factor: replicas of a topic created with replicationFactor -1.</summary>
    public short DefaultReplicationFactor { get; } = defaultReplicationFactor;

    // ------------------------------------------------------------------ features

    /// <summary>The records that bootstrap a new metadata log (none when metadata.version is already set).</summary>
    public static IReadOnlyList<MetadataRecord> Bootstrap(ClusterImage image, short metadataVersion, short transactionVersion) =>
        image.Features.ContainsKey(MetadataStore.MetadataVersionFeature)
            ? []
            :
            [
                // A new cluster also starts at transaction.version 2 (Transactions V2, KIP-890), as Kafka 4.x formats it.
                new MetadataRecord(new FeatureLevelRecord { Name = MetadataStore.MetadataVersionFeature, FeatureLevel = metadataVersion }, 0),
                new MetadataRecord(new FeatureLevelRecord { Name = MetadataStore.TransactionVersionFeature, FeatureLevel = transactionVersion }, 0),
            ];

    // ------------------------------------------------------------------ brokers

    /// <summary>
    /// Registers (or re-registers, e.g. after a restart) a broker. The broker epoch is the offset of its
    /// RegisterBrokerRecord (<paramref name="nextOffset"/>, where the batch will start); registering again with the
    /// same incarnation id changes nothing.
    /// </summary>
    public static ControllerResult<RegisterBrokerResult> RegisterBroker(
        ClusterImage image, long nextOffset, int brokerId, KafkaUuid incarnationId, IReadOnlyList<BrokerEndpoint> endpoints, string? rack, bool fenced)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(endpoints);
        if (brokerId < 0)
        {
            return ControllerResult<RegisterBrokerResult>.Of(new RegisterBrokerResult(ErrorCode.InvalidRequest, $"Invalid broker id {brokerId}", -1));
        }

        if (image.Brokers.TryGetValue(brokerId, out var existing) && existing.IncarnationId == incarnationId)
        {
            return ControllerResult<RegisterBrokerResult>.Of(new RegisterBrokerResult(ErrorCode.None, null, existing.BrokerEpoch));
        }

        var registration = new BrokerRegistration(brokerId, incarnationId, nextOffset, [.. endpoints], rack, fenced, InControlledShutdown: false);
        return new([RegisterBrokerRecordFor(registration)], new RegisterBrokerResult(ErrorCode.None, null, nextOffset));
    }

    internal static MetadataRecord RegisterBrokerRecordFor(BrokerRegistration broker)
    {
        var record = new RegisterBrokerRecord
        {
            BrokerId = broker.BrokerId,
            IncarnationId = broker.IncarnationId,
            BrokerEpoch = broker.BrokerEpoch,
            Rack = broker.Rack,
            Fenced = broker.Fenced,
            InControlledShutdown = broker.InControlledShutdown,
        };
        foreach (var e in broker.Endpoints)
        {
            record.EndPoints.Add(new RegisterBrokerRecord.BrokerEndpoint { Name = e.Listener, Host = e.Host, Port = (ushort)e.Port, SecurityProtocol = e.SecurityProtocol });
        }

        return new MetadataRecord(record, RegisterBrokerRecordVersion);
    }

    // ------------------------------------------------------------------ producer ids

    /// <summary>
    /// Hands a broker the next block of <paramref name="blockSize"/> producer ids (Kafka's ProducerIdControlManager):
    /// the ProducerIdsRecord moves the cluster's next id past the block, so no id is handed out twice, also after a
    /// restart. The broker must be registered with that epoch.
    /// </summary>
    public static ControllerResult<ProducerIdBlockResult> AllocateProducerIds(ClusterImage image, int brokerId, long brokerEpoch, int blockSize)
    {
        ArgumentNullException.ThrowIfNull(image);
        if (!image.Brokers.TryGetValue(brokerId, out var broker) || broker.BrokerEpoch != brokerEpoch)
        {
            return ControllerResult<ProducerIdBlockResult>.Of(new ProducerIdBlockResult(ErrorCode.StaleBrokerEpoch, $"broker {brokerId} with epoch {brokerEpoch} is not registered", default));
        }

        var first = image.NextProducerId;
        if (first > long.MaxValue - blockSize)
        {
            return ControllerResult<ProducerIdBlockResult>.Of(new ProducerIdBlockResult(ErrorCode.UnknownServerError, "producer ids are exhausted", default));
        }

        return new(
            [new MetadataRecord(new ProducerIdsRecord { BrokerId = brokerId, BrokerEpoch = brokerEpoch, NextProducerId = first + blockSize }, 0)],
            new ProducerIdBlockResult(ErrorCode.None, null, new ProducerIdBlock(brokerId, first, blockSize)));
    }

    // ------------------------------------------------------------------ topics

    /// <summary>
    /// Creates a topic: TopicRecord, its ConfigRecords and one PartitionRecord per partition, in one batch.
    /// Either <paramref name="numPartitions"/> and <paramref name="replicationFactor"/> (-1: the defaults) or
    /// explicit <paramref name="assignments"/> (partition index → broker ids; then both must be -1).
    /// </summary>
    public ControllerResult<CreateTopicResult> CreateTopic(
        ClusterImage image,
        string name,
        int numPartitions = -1,
        short replicationFactor = -1,
        IReadOnlyDictionary<int, IReadOnlyList<int>>? assignments = null,
        IEnumerable<KeyValuePair<string, string?>>? configs = null,
        bool validateOnly = false)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(name);

        // ReplicationControlManager.validateTotalNumberOfPartitions runs before any other check.
        var requested = assignments is { Count: > 0 } ? assignments.Count : numPartitions == -1 ? DefaultNumPartitions : Math.Max(numPartitions, 0);
        if (requested > MaxRecordsPerUserOperation)
        {
            return Failed(ErrorCode.PolicyViolation, ExcessivePartitionsMessage);
        }

        if (ValidateTopicName(name) is { } invalidName)
        {
            return Failed(ErrorCode.InvalidTopicException, invalidName);
        }

        if (image.TopicsByName.ContainsKey(name))
        {
            return Failed(ErrorCode.TopicAlreadyExists, $"Topic '{name}' already exists.");
        }

        var normalized = NormalizeTopicName(name);
        foreach (var existing in image.TopicsByName.Keys)
        {
            if (NormalizeTopicName(existing) == normalized)
            {
                return Failed(ErrorCode.InvalidTopicException, $"Topic '{name}' collides with existing topic: {existing}");
            }
        }

        var configMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in configs ?? [])
        {
            if (value is null)
            {
                return Failed(ErrorCode.InvalidRequest, $"Null value not supported for topic configs: {key}");
            }

            configMap[key] = value;
        }

        if (TopicConfigs.Validate(configMap) is { } invalidConfig)
        {
            return Failed(ErrorCode.InvalidConfig, invalidConfig);
        }

        var (placementError, placementMessage, placement) = PlaceNewTopic(image, numPartitions, replicationFactor, assignments, configMap.Count);
        if (placementError != ErrorCode.None)
        {
            return Failed(placementError, placementMessage!);
        }

        var rf = (short)placement[0].Count;
        if (validateOnly)
        {
            return ControllerResult<CreateTopicResult>.Of(new CreateTopicResult(ErrorCode.None, null, KafkaUuid.Zero, placement.Count, rf));
        }

        var topicId = KafkaUuid.NewRandom();
        while (image.TopicsById.ContainsKey(topicId))
        {
            topicId = KafkaUuid.NewRandom();
        }

        var records = new List<MetadataRecord>(1 + configMap.Count + placement.Count)
        {
            new(new TopicRecord { Name = name, TopicId = topicId }, 0),
        };
        foreach (var (key, value) in configMap)
        {
            records.Add(ConfigRecordFor(new ConfigResource(ConfigResourceType.Topic, name), key, value));
        }

        for (var p = 0; p < placement.Count; p++)
        {
            records.Add(PartitionRecordFor(image, topicId, p, placement[p]));
        }

        return new(records, new CreateTopicResult(ErrorCode.None, null, topicId, placement.Count, rf));

        static ControllerResult<CreateTopicResult> Failed(ErrorCode error, string message) => ControllerResult<CreateTopicResult>.Of(CreateTopicResult.Failed(error, message));
    }

    /// <summary>Deletes a topic by name (one RemoveTopicRecord; its configs go with it).</summary>
    public static ControllerResult<DeleteTopicResult> DeleteTopic(ClusterImage image, string name)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(name);
        return image.GetTopic(name) is { } topic
            ? DeleteTopic(topic)
            : ControllerResult<DeleteTopicResult>.Of(new DeleteTopicResult(ErrorCode.UnknownTopicOrPartition, $"Topic '{name}' does not exist.", name, KafkaUuid.Zero));
    }

    /// <summary>Deletes a topic by id.</summary>
    public static ControllerResult<DeleteTopicResult> DeleteTopic(ClusterImage image, KafkaUuid topicId)
    {
        ArgumentNullException.ThrowIfNull(image);
        return image.GetTopic(topicId) is { } topic
            ? DeleteTopic(topic)
            : ControllerResult<DeleteTopicResult>.Of(new DeleteTopicResult(ErrorCode.UnknownTopicId, $"Topic id {topicId} does not exist.", null, topicId));
    }

    private static ControllerResult<DeleteTopicResult> DeleteTopic(TopicImage topic) =>
        new([new MetadataRecord(new RemoveTopicRecord { TopicId = topic.Id }, 0)], new DeleteTopicResult(ErrorCode.None, null, topic.Name, topic.Id));

    /// <summary>
    /// Raises a topic's partition count to <paramref name="newTotal"/>; the new partitions get the topic's
    /// replication factor, placed automatically or by <paramref name="assignments"/> (one replica list per new partition).
    /// Adding more than <paramref name="maxNewPartitions"/> (what is left of the request's record budget) is
    /// POLICY_VIOLATION, checked before the placement is built.
    /// </summary>
    public ControllerResult<MetadataResult> CreatePartitions(
        ClusterImage image, string topic, int newTotal, IReadOnlyList<IReadOnlyList<int>>? assignments = null, bool validateOnly = false, int maxNewPartitions = MaxRecordsPerUserOperation)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(topic);
        if (image.GetTopic(topic) is not { } existing)
        {
            return Failed(ErrorCode.UnknownTopicOrPartition, $"Topic '{topic}' does not exist.");
        }

        var current = existing.Partitions.Count;
        if (newTotal < current)
        {
            return Failed(ErrorCode.InvalidPartitions, $"The topic {topic} currently has {current} partition(s); {newTotal} would not be an increase.");
        }

        if (newTotal == current)
        {
            return Failed(ErrorCode.InvalidPartitions, $"Topic already has {current} partition(s).");
        }

        var additional = newTotal - current;
        var replication = existing.Partitions.Count > 0 ? existing.Partitions.Values.First().Replicas.Length : DefaultReplicationFactor;
        List<List<int>> placement;
        if (assignments is not null)
        {
            if (assignments.Count != additional)
            {
                return Failed(ErrorCode.InvalidReplicaAssignment, $"Attempted to add {additional} additional partition(s), but only {assignments.Count} assignment(s) were specified.");
            }

            placement = [.. assignments.Select(a => a.ToList())];
            if (ValidateManualAssignment(image, placement, replication) is { } invalid)
            {
                return Failed(ErrorCode.InvalidReplicaAssignment, invalid);
            }

            if (additional > maxNewPartitions)
            {
                return Failed(ErrorCode.PolicyViolation, ExcessiveBatchMessage);
            }
        }
        else
        {
            var (placementError, placementMessage) = Place(image, current, additional, replication, maxNewPartitions, out placement);
            if (placementError != ErrorCode.None)
            {
                return Failed(placementError, placementMessage);
            }
        }

        if (validateOnly)
        {
            return ControllerResult<MetadataResult>.Of(MetadataResult.Success);
        }

        var records = new List<MetadataRecord>(additional);
        for (var i = 0; i < additional; i++)
        {
            records.Add(PartitionRecordFor(image, existing.Id, current + i, placement[i]));
        }

        return new(records, MetadataResult.Success);
    }

    private static ControllerResult<MetadataResult> Failed(ErrorCode error, string? message) => ControllerResult<MetadataResult>.Of(new MetadataResult(error, message));

    // ------------------------------------------------------------------ configs

    /// <summary>
    /// IncrementalAlterConfigs on one resource (a topic; a broker: its id, or "" for the cluster default; a group).
    /// All ops are validated together and become one batch of ConfigRecords (a null value deletes a key).
    /// <paramref name="validate"/> checks the resource's resulting set of configs (null when valid, otherwise the
    /// INVALID_CONFIG message): the broker's rules for resources whose keys the controller does not know (groups).
    /// It runs on the controller's event path, so it must be pure.
    /// </summary>
    public static ControllerResult<MetadataResult> AlterConfigs(
        ClusterImage image, ConfigResource resource, IReadOnlyList<AlterConfigOp> ops, bool validateOnly = false, Func<IReadOnlyDictionary<string, string>, string?>? validate = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(ops);
        switch (resource.Type)
        {
            case ConfigResourceType.Topic:
                if (image.GetTopic(resource.Name) is null)
                {
                    return Failed(ErrorCode.UnknownTopicOrPartition, $"The topic '{resource.Name}' does not exist.");
                }

                break;
            case ConfigResourceType.Broker:
                if (resource.Name.Length > 0 && !int.TryParse(resource.Name, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                {
                    return Failed(ErrorCode.InvalidRequest, $"Illegal broker id \"{resource.Name}\": it must be a non-negative integer, or empty for the cluster default.");
                }

                break;
            case ConfigResourceType.Group:
                // Kafka's ControllerConfigurationValidator: group configs belong to a named group.
                if (resource.Name.Length == 0)
                {
                    return Failed(ErrorCode.InvalidRequest, "Default group resources are not allowed.");
                }

                break;
            default:
                return Failed(ErrorCode.InvalidRequest, $"Unsupported config resource type {(sbyte)resource.Type}.");
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var op in ops)
        {
            if (!seen.Add(op.Name))
            {
                return Failed(ErrorCode.InvalidRequest, $"Error due to duplicate config keys: {op.Name}");
            }
        }

        var before = image.GetConfigs(resource);
        var after = new SortedDictionary<string, string>(before, StringComparer.Ordinal);
        var isTopic = resource.Type == ConfigResourceType.Topic;
        foreach (var op in ops)
        {
            if (isTopic && !TopicConfigs.IsKnown(op.Name))
            {
                return Failed(ErrorCode.InvalidConfig, $"Unknown topic config name: {op.Name}");
            }

            switch (op.Op)
            {
                case AlterConfigOpType.Set:
                    if (op.Value is null)
                    {
                        return Failed(ErrorCode.InvalidRequest, $"Null value not supported for : {op.Name}");
                    }

                    after[op.Name] = op.Value;
                    break;
                case AlterConfigOpType.Delete:
                    after.Remove(op.Name);
                    break;
                case AlterConfigOpType.Append:
                case AlterConfigOpType.Subtract:
                    var verb = op.Op == AlterConfigOpType.Append ? "append" : "subtract";
                    if (!isTopic || !TopicConfigs.IsList(op.Name))
                    {
                        return Failed(ErrorCode.InvalidConfig, $"Config value {verb} is not allowed for config key: {op.Name}");
                    }

                    after[op.Name] = ConfigLists.Apply(after.TryGetValue(op.Name, out var currentValue) ? currentValue : TopicConfigs.ListDefault(op.Name), op.Op, op.Value ?? "");
                    break;
                default:
                    return Failed(ErrorCode.InvalidRequest, $"Unknown config operation {(byte)op.Op} for {op.Name}");
            }
        }

        if (isTopic && TopicConfigs.Validate(after) is { } invalid)
        {
            return Failed(ErrorCode.InvalidConfig, invalid);
        }

        if (validate?.Invoke(after) is { } rejected)
        {
            return Failed(ErrorCode.InvalidConfig, rejected);
        }

        if (validateOnly)
        {
            return ControllerResult<MetadataResult>.Of(MetadataResult.Success);
        }

        var records = new List<MetadataRecord>();
        foreach (var op in ops)
        {
            var had = before.TryGetValue(op.Name, out var oldValue);
            var has = after.TryGetValue(op.Name, out var newValue);
            if (had != has || !string.Equals(oldValue, newValue, StringComparison.Ordinal))
            {
                records.Add(ConfigRecordFor(resource, op.Name, newValue));
            }
        }

        return new(records, MetadataResult.Success);
    }

    private static MetadataRecord ConfigRecordFor(ConfigResource resource, string key, string? value) =>
        new(new ConfigRecord { ResourceType = (sbyte)resource.Type, ResourceName = resource.Name, Name = key, Value = value }, 0);

    // ------------------------------------------------------------------ names

    /// <summary>Kafka's topic name rules; null when <paramref name="name"/> is legal, otherwise the message.</summary>
    public static string? ValidateTopicName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            return "Topic name is illegal, it can't be empty";
        }

        if (name is "." or "..")
        {
            return "Topic name cannot be \".\" or \"..\"";
        }

        if (name.Length > MaxTopicNameLength)
        {
            return $"Topic name is illegal, it can't be longer than {MaxTopicNameLength} characters, topic name: {name}";
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return $"Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'";
            }
        }

        return null;
    }

    /// <summary>Names that differ only in '.' versus '_' collide (their metric names would be the same).</summary>
    private static string NormalizeTopicName(string name) => name.Replace('.', '_');
}
