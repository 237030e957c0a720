using System.Buffers;
using System.Globalization;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.MetadataRecords;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Controller;

/// <summary>
/// The cluster metadata as a log (KRaft's design on a single-node quorum): topics, partitions, configs,
/// features and broker registrations are metadata records appended to the partition log
/// "__cluster_metadata-0", replayed at start-up on top of the newest snapshot. This is the single writer
/// (later, the Raft leader): each operation validates against the current image, then appends all its
/// records as one batch (so a crash never leaves half an operation), fsyncs, and publishes the new image.
/// Readers use <see cref="Image"/> without locks.
/// </summary>
public sealed class MetadataStore : IDisposable
{
    public const string MetadataVersionFeature = "metadata.version";
    public const string TransactionVersionFeature = "transaction.version";
    public const string MetadataTopicName = "__cluster_metadata";
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

    private readonly Lock _lock = new();
    private readonly MetadataStoreOptions _options;
    private readonly ILogger _logger;
    private readonly PartitionLog _log;
    private readonly ArrayBufferWriter<byte> _writeBuffer = new();
    private ClusterImage _image;
    private SnapshotId? _latestSnapshot;
    private long _recordsSinceSnapshot;
    private long _lastAppendTimestamp;
    private bool _disposed;

    private MetadataStore(MetadataStoreOptions options, ILogger logger, PartitionLog log, ClusterImage image, SnapshotId? latestSnapshot, long replayed)
    {
        _options = options;
        _logger = logger;
        _log = log;
        _image = image;
        _latestSnapshot = latestSnapshot;
        _recordsSinceSnapshot = replayed;
        RecordsReplayedAtOpen = replayed;
    }

    /// <summary>
    /// Raised after each committed operation, under the writer's lock (so in log order): create or delete
    /// partition logs here as topics come and go. Keep handlers short; exceptions they throw are logged.
    /// Not raised for the replay in <see cref="Open"/>: read <see cref="Image"/> after opening.
    /// </summary>
    public event EventHandler<ImageChangedEventArgs>? ImageChanged;

    /// <summary>The current image; replaced atomically on every change.</summary>
    public ClusterImage Image => Volatile.Read(ref _image);

    /// <summary>The directory "__cluster_metadata-0" holding the log segments and the snapshots.</summary>
    public string Directory => _log.Directory;

    /// <summary>The metadata partition log (for the Raft layer and for tests).</summary>
    public PartitionLog Log => _log;

    /// <summary>The newest snapshot written or loaded, if any.</summary>
    public SnapshotId? LatestSnapshot
    {
        get
        {
            lock (_lock)
            {
                return _latestSnapshot;
            }
        }
    }

    /// <summary>How many records <see cref="Open"/> replayed from the log (after the snapshot it loaded).</summary>
    public long RecordsReplayedAtOpen { get; }

    // ------------------------------------------------------------------ open and replay

    /// <summary>
    /// Opens (creating if needed) the metadata log in <see cref="MetadataStoreOptions.MetadataLogDir"/>: loads the
    /// newest valid snapshot, recovers the log (a torn tail is cut off), replays the records after the snapshot,
    /// and bootstraps metadata.version in a new log.
    /// </summary>
    public static MetadataStore Open(MetadataStoreOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var topicPartition = new TopicPartition(MetadataTopicName, 0);
        var directory = Path.Combine(options.MetadataLogDir, topicPartition.DirectoryName);
        System.IO.Directory.CreateDirectory(directory);
        foreach (var partial in System.IO.Directory.EnumerateFiles(directory, "*" + SnapshotId.PartialSuffix))
        {
            logger.LogInformation("Removing partial snapshot {File}", partial);
            File.Delete(partial);
        }

        var initial = ClusterImage.Empty with { ClusterId = options.ClusterId };
        var (snapshot, image) = LoadNewestSnapshot(directory, initial, logger);

        var log = PartitionLog.Open(directory, topicPartition, options.LogConfig, new PartitionLogCheckpoint(snapshot?.EndOffset ?? 0, 0), cleanShutdown: false, logger, options.Time);
        try
        {
            var from = log.LogStartOffset;
            if (snapshot is { } id)
            {
                if (id.EndOffset > log.LogEndOffset)
                {
                    logger.LogWarning("The metadata log ends at {LogEnd}, before snapshot {Snapshot}: starting the log at the snapshot", log.LogEndOffset, id);
                    log.TruncateFullyAndStartAt(id.EndOffset);
                }
                else if (log.LogStartOffset > id.EndOffset)
                {
                    throw new KafkaStorageException($"the metadata log starts at {log.LogStartOffset}, after snapshot {id}: records {id.EndOffset} to {log.LogStartOffset - 1} are missing");
                }

                from = id.EndOffset;
            }
            else if (log.LogStartOffset > 0)
            {
                throw new KafkaStorageException($"the metadata log starts at {log.LogStartOffset} and there is no snapshot: records below it are missing");
            }

            var replayed = Replay(log, from, ref image);
            image = image.WithEndOffset(log.LogEndOffset);
            log.UpdateHighWatermark(log.LogEndOffset);
            logger.LogInformation(
                "Loaded cluster metadata: snapshot {Snapshot}, {Replayed} record(s) replayed from offset {From}, {Topics} topic(s), {Brokers} broker(s)",
                snapshot?.ToString() ?? "none",
                replayed,
                from,
                image.TopicsByName.Count,
                image.Brokers.Count);

            var store = new MetadataStore(options, logger, log, image, snapshot, replayed);
            if (!image.Features.ContainsKey(MetadataVersionFeature))
            {
                lock (store._lock)
                {
                    // A new cluster also starts at transaction.version 2 (Transactions V2, KIP-890), as Kafka 4.x formats it.
                    store.CommitLocked(
                    [
                        new MetadataRecord(new FeatureLevelRecord { Name = MetadataVersionFeature, FeatureLevel = options.MetadataVersion }, 0),
                        new MetadataRecord(new FeatureLevelRecord { Name = TransactionVersionFeature, FeatureLevel = options.TransactionVersion }, 0),
                    ]);
                }
            }

            return store;
        }
        catch
        {
            log.Close();
            throw;
        }
    }

    private static (SnapshotId? Id, ClusterImage Image) LoadNewestSnapshot(string directory, ClusterImage initial, ILogger logger)
    {
        var snapshots = MetadataSnapshots.List(directory);
        for (var i = snapshots.Count - 1; i >= 0; i--)
        {
            var path = Path.Combine(directory, snapshots[i].FileName);
            try
            {
                var image = MetadataSnapshots.Read(path, initial).WithEndOffset(snapshots[i].EndOffset);
                return (snapshots[i], image);
            }
            catch (Exception e) when (e is MetadataParseException or MetadataReplayException or RecordsException or KafkaProtocolException or IOException)
            {
                logger.LogWarning(e, "Skipping invalid metadata snapshot {Path}", path);
            }
        }

        return (null, initial);
    }

    private static long Replay(PartitionLog log, long from, ref ClusterImage image)
    {
        var replaying = image;
        var position = from;
        long replayed = 0;
        var records = new List<(long Offset, MetadataRecord Record)>();
        using var scratch = new PooledBufferWriter();
        log.ForEachBatch(from, (ReadOnlySpan<byte> batch, in RecordBatchHeader header) =>
        {
            if (!header.IsControl)
            {
                records.Clear();
                MetadataBatches.Read(batch, position, scratch, records);
                foreach (var (offset, record) in records)
                {
                    try
                    {
                        replaying = replaying.Apply(record);
                    }
                    catch (MetadataReplayException e)
                    {
                        throw new MetadataReplayException($"replay of the metadata record at offset {offset} failed: {e.Message}");
                    }

                    replayed++;
                }
            }

            position = Math.Max(position, header.NextOffset);
        });
        image = replaying;
        return replayed;
    }

    // ------------------------------------------------------------------ brokers

    /// <summary>
    /// Registers (or re-registers, e.g. after a restart) a broker. The broker epoch is the offset of its
    /// RegisterBrokerRecord; registering again with the same incarnation id changes nothing.
    /// </summary>
    public RegisterBrokerResult RegisterBroker(int brokerId, KafkaUuid incarnationId, IReadOnlyList<BrokerEndpoint> endpoints, string? rack = null, bool fenced = false)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        lock (_lock)
        {
            ThrowIfDisposed();
            if (brokerId < 0)
            {
                return new RegisterBrokerResult(ErrorCode.InvalidRequest, $"Invalid broker id {brokerId}", -1);
            }

            if (_image.Brokers.TryGetValue(brokerId, out var existing) && existing.IncarnationId == incarnationId)
            {
                return new RegisterBrokerResult(ErrorCode.None, null, existing.BrokerEpoch);
            }

            var epoch = _log.LogEndOffset;
            var registration = new BrokerRegistration(brokerId, incarnationId, epoch, [.. endpoints], rack, fenced, InControlledShutdown: false);
            CommitLocked([RegisterBrokerRecordFor(registration)]);
            return new RegisterBrokerResult(ErrorCode.None, null, epoch);
        }
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
    /// Hands a broker the next block of <paramref name="blockSize"/> producer ids (Kafka's
    /// ProducerIdControlManager): the ProducerIdsRecord moves the cluster's next id past the block, so no id
    /// is handed out twice, also after a restart. The broker must be registered with that epoch.
    /// </summary>
    public ProducerIdBlockResult AllocateProducerIds(int brokerId, long brokerEpoch, int blockSize = ProducerIdBlock.DefaultSize)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            if (!_image.Brokers.TryGetValue(brokerId, out var broker) || broker.BrokerEpoch != brokerEpoch)
            {
                return new ProducerIdBlockResult(ErrorCode.StaleBrokerEpoch, $"broker {brokerId} with epoch {brokerEpoch} is not registered", default);
            }

            var first = _image.NextProducerId;
            if (first > long.MaxValue - blockSize)
            {
                return new ProducerIdBlockResult(ErrorCode.UnknownServerError, "producer ids are exhausted", default);
            }

            CommitLocked([new MetadataRecord(new ProducerIdsRecord { BrokerId = brokerId, BrokerEpoch = brokerEpoch, NextProducerId = first + blockSize }, 0)]);
            return new ProducerIdBlockResult(ErrorCode.None, null, new ProducerIdBlock(brokerId, first, blockSize));
        }
    }

    // ------------------------------------------------------------------ topics

    /// <summary>
    /// Creates a topic: TopicRecord, its ConfigRecords and one PartitionRecord per partition, in one batch.
    /// Either <paramref name="numPartitions"/> and <paramref name="replicationFactor"/> (-1: the defaults) or
    /// explicit <paramref name="assignments"/> (partition index → broker ids; then both must be -1).
    /// </summary>
    public CreateTopicResult CreateTopic(
        string name,
        int numPartitions = -1,
        short replicationFactor = -1,
        IReadOnlyDictionary<int, IReadOnlyList<int>>? assignments = null,
        IEnumerable<KeyValuePair<string, string?>>? configs = null,
        bool validateOnly = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            ThrowIfDisposed();

            // ReplicationControlManager.validateTotalNumberOfPartitions runs before any other check.
            var requested = assignments is { Count: > 0 } ? assignments.Count : numPartitions == -1 ? _options.DefaultNumPartitions : Math.Max(numPartitions, 0);
            if (requested > MaxRecordsPerUserOperation)
            {
                return CreateTopicResult.Failed(ErrorCode.PolicyViolation, ExcessivePartitionsMessage);
            }

            var image = _image;
            if (ValidateTopicName(name) is { } invalidName)
            {
                return CreateTopicResult.Failed(ErrorCode.InvalidTopicException, invalidName);
            }

            if (image.TopicsByName.ContainsKey(name))
            {
                return CreateTopicResult.Failed(ErrorCode.TopicAlreadyExists, $"Topic '{name}' already exists.");
            }

            var normalized = NormalizeTopicName(name);
            foreach (var existing in image.TopicsByName.Keys)
            {
                if (NormalizeTopicName(existing) == normalized)
                {
                    return CreateTopicResult.Failed(ErrorCode.InvalidTopicException, $"Topic '{name}' collides with existing topic: {existing}");
                }
            }

            var configMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in configs ?? [])
            {
                if (value is null)
                {
                    return CreateTopicResult.Failed(ErrorCode.InvalidRequest, $"Null value not supported for topic configs: {key}");
                }

                configMap[key] = value;
            }

            if (TopicConfigs.Validate(configMap) is { } invalidConfig)
            {
                return CreateTopicResult.Failed(ErrorCode.InvalidConfig, invalidConfig);
            }

            List<List<int>> placement;
            if (assignments is { Count: > 0 })
            {
                if (numPartitions != -1)
                {
                    return CreateTopicResult.Failed(ErrorCode.InvalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1.");
                }

                if (replicationFactor != -1)
                {
                    return CreateTopicResult.Failed(ErrorCode.InvalidRequest, "A manual partition assignment was specified, but replicationFactor was not set to -1.");
                }

                placement = [];
                for (var i = 0; i < assignments.Count; i++)
                {
                    if (!assignments.TryGetValue(i, out var replicas))
                    {
                        return CreateTopicResult.Failed(ErrorCode.InvalidReplicaAssignment, "Partitions should be a consecutive 0-based integer sequence");
                    }

                    placement.Add([.. replicas]);
                }

                if (ValidateManualAssignment(image, placement, placement[0].Count) is { } invalidAssignment)
                {
                    return CreateTopicResult.Failed(ErrorCode.InvalidReplicaAssignment, invalidAssignment);
                }

                if (placement.Count > MaxRecordsPerUserOperation - 1 - configMap.Count)
                {
                    return CreateTopicResult.Failed(ErrorCode.PolicyViolation, ExcessiveBatchMessage);
                }
            }
            else
            {
                var partitions = numPartitions == -1 ? _options.DefaultNumPartitions : numPartitions;
                var replication = replicationFactor == -1 ? _options.DefaultReplicationFactor : replicationFactor;
                if (partitions <= 0)
                {
                    return CreateTopicResult.Failed(ErrorCode.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.");
                }

                if (replication <= 0)
                {
                    return CreateTopicResult.Failed(ErrorCode.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.");
                }

                // The TopicRecord and the ConfigRecords share the operation's record budget with the PartitionRecords.
                var (placementError, placementMessage) = Place(image, 0, partitions, replication, MaxRecordsPerUserOperation - 1 - configMap.Count, out placement);
                if (placementError != ErrorCode.None)
                {
                    return CreateTopicResult.Failed(placementError, placementMessage!);
                }
            }

            var rf = (short)placement[0].Count;
            if (validateOnly)
            {
                return new CreateTopicResult(ErrorCode.None, null, KafkaUuid.Zero, placement.Count, rf);
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

            CommitLocked(records);
            return new CreateTopicResult(ErrorCode.None, null, topicId, placement.Count, rf);
        }
    }

    /// <summary>Deletes a topic by name (one RemoveTopicRecord; its configs go with it).</summary>
    public DeleteTopicResult DeleteTopic(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        lock (_lock)
        {
            ThrowIfDisposed();
            return _image.GetTopic(name) is { } topic
                ? DeleteTopicLocked(topic)
                : new DeleteTopicResult(ErrorCode.UnknownTopicOrPartition, $"Topic '{name}' does not exist.", name, KafkaUuid.Zero);
        }
    }

    /// <summary>Deletes a topic by id.</summary>
    public DeleteTopicResult DeleteTopic(KafkaUuid topicId)
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            return _image.GetTopic(topicId) is { } topic
                ? DeleteTopicLocked(topic)
                : new DeleteTopicResult(ErrorCode.UnknownTopicId, $"Topic id {topicId} does not exist.", null, topicId);
        }
    }

    private DeleteTopicResult DeleteTopicLocked(TopicImage topic)
    {
        CommitLocked([new MetadataRecord(new RemoveTopicRecord { TopicId = topic.Id }, 0)]);
        return new DeleteTopicResult(ErrorCode.None, null, topic.Name, topic.Id);
    }

    /// <summary>
    /// Raises a topic's partition count to <paramref name="newTotal"/>; the new partitions get the topic's
    /// replication factor, placed automatically or by <paramref name="assignments"/> (one replica list per new partition).
    /// Adding more than <paramref name="maxNewPartitions"/> (what is left of the request's record budget) is
    /// POLICY_VIOLATION, checked before the placement is built.
    /// </summary>
    public MetadataResult CreatePartitions(string topic, int newTotal, IReadOnlyList<IReadOnlyList<int>>? assignments = null, bool validateOnly = false, int maxNewPartitions = MaxRecordsPerUserOperation)
    {
        ArgumentNullException.ThrowIfNull(topic);
        lock (_lock)
        {
            ThrowIfDisposed();
            var image = _image;
            if (image.GetTopic(topic) is not { } existing)
            {
                return new MetadataResult(ErrorCode.UnknownTopicOrPartition, $"Topic '{topic}' does not exist.");
            }

            var current = existing.Partitions.Count;
            if (newTotal < current)
            {
                return new MetadataResult(ErrorCode.InvalidPartitions, $"The topic {topic} currently has {current} partition(s); {newTotal} would not be an increase.");
            }

            if (newTotal == current)
            {
                return new MetadataResult(ErrorCode.InvalidPartitions, $"Topic already has {current} partition(s).");
            }

            var additional = newTotal - current;
            var replication = existing.Partitions.Count > 0 ? existing.Partitions.Values.First().Replicas.Length : _options.DefaultReplicationFactor;
            List<List<int>> placement;
            if (assignments is not null)
            {
                if (assignments.Count != additional)
                {
                    return new MetadataResult(ErrorCode.InvalidReplicaAssignment, $"Attempted to add {additional} additional partition(s), but only {assignments.Count} assignment(s) were specified.");
                }

                placement = [.. assignments.Select(a => a.ToList())];
                if (ValidateManualAssignment(image, placement, replication) is { } invalid)
                {
                    return new MetadataResult(ErrorCode.InvalidReplicaAssignment, invalid);
                }

                if (additional > maxNewPartitions)
                {
                    return new MetadataResult(ErrorCode.PolicyViolation, ExcessiveBatchMessage);
                }
            }
            else
            {
                var (placementError, placementMessage) = Place(image, current, additional, replication, maxNewPartitions, out placement);
                if (placementError != ErrorCode.None)
                {
                    return new MetadataResult(placementError, placementMessage);
                }
            }

            if (validateOnly)
            {
                return MetadataResult.Success;
            }

            var records = new List<MetadataRecord>(additional);
            for (var i = 0; i < additional; i++)
            {
                records.Add(PartitionRecordFor(image, existing.Id, current + i, placement[i]));
            }

            CommitLocked(records);
            return MetadataResult.Success;
        }
    }

    // ------------------------------------------------------------------ configs

    /// <summary>
    /// IncrementalAlterConfigs on one resource (a topic; a broker: its id, or "" for the cluster default; a group).
    /// All ops are validated together and committed as one batch of ConfigRecords (a null value deletes a key).
    /// <paramref name="validate"/> checks the resource's resulting set of configs (null when valid, otherwise the
    /// INVALID_CONFIG message): the broker's rules for resources whose keys the controller does not know (groups).
    /// </summary>
    public MetadataResult AlterConfigs(ConfigResource resource, IReadOnlyList<AlterConfigOp> ops, bool validateOnly = false, Func<IReadOnlyDictionary<string, string>, string?>? validate = null)
    {
        ArgumentNullException.ThrowIfNull(ops);
        lock (_lock)
        {
            ThrowIfDisposed();
            var image = _image;
            switch (resource.Type)
            {
                case ConfigResourceType.Topic:
                    if (image.GetTopic(resource.Name) is null)
                    {
                        return new MetadataResult(ErrorCode.UnknownTopicOrPartition, $"The topic '{resource.Name}' does not exist.");
                    }

                    break;
                case ConfigResourceType.Broker:
                    if (resource.Name.Length > 0 && !int.TryParse(resource.Name, NumberStyles.None, CultureInfo.InvariantCulture, out _))
                    {
                        return new MetadataResult(ErrorCode.InvalidRequest, $"Illegal broker id \"{resource.Name}\": it must be a non-negative integer, or empty for the cluster default.");
                    }

                    break;
                case ConfigResourceType.Group:
                    // Kafka's ControllerConfigurationValidator: group configs belong to a named group.
                    if (resource.Name.Length == 0)
                    {
                        return new MetadataResult(ErrorCode.InvalidRequest, "Default group resources are not allowed.");
                    }

                    break;
                default:
                    return new MetadataResult(ErrorCode.InvalidRequest, $"Unsupported config resource type {(sbyte)resource.Type}.");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var op in ops)
            {
                if (!seen.Add(op.Name))
                {
                    return new MetadataResult(ErrorCode.InvalidRequest, $"Error due to duplicate config keys: {op.Name}");
                }
            }

            var before = image.GetConfigs(resource);
            var after = new SortedDictionary<string, string>(before, StringComparer.Ordinal);
            var isTopic = resource.Type == ConfigResourceType.Topic;
            foreach (var op in ops)
            {
                if (isTopic && !TopicConfigs.IsKnown(op.Name))
                {
                    return new MetadataResult(ErrorCode.InvalidConfig, $"Unknown topic config name: {op.Name}");
                }

                switch (op.Op)
                {
                    case AlterConfigOpType.Set:
                        if (op.Value is null)
                        {
                            return new MetadataResult(ErrorCode.InvalidRequest, $"Null value not supported for : {op.Name}");
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
                            return new MetadataResult(ErrorCode.InvalidConfig, $"Config value {verb} is not allowed for config key: {op.Name}");
                        }

                        after[op.Name] = ConfigLists.Apply(after.TryGetValue(op.Name, out var currentValue) ? currentValue : TopicConfigs.ListDefault(op.Name), op.Op, op.Value ?? "");
                        break;
                    default:
                        return new MetadataResult(ErrorCode.InvalidRequest, $"Unknown config operation {(byte)op.Op} for {op.Name}");
                }
            }

            if (isTopic && TopicConfigs.Validate(after) is { } invalid)
            {
                return new MetadataResult(ErrorCode.InvalidConfig, invalid);
            }

            if (validate?.Invoke(after) is { } rejected)
            {
                return new MetadataResult(ErrorCode.InvalidConfig, rejected);
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

            if (!validateOnly && records.Count > 0)
            {
                CommitLocked(records);
            }

            return MetadataResult.Success;
        }
    }

    private static MetadataRecord ConfigRecordFor(ConfigResource resource, string key, string? value) =>
        new(new ConfigRecord { ResourceType = (sbyte)resource.Type, ResourceName = resource.Name, Name = key, Value = value }, 0);

    // ------------------------------------------------------------------ snapshots

    /// <summary>Writes a snapshot of the current image now (no-op if one exists at this offset); returns its id.</summary>
    public SnapshotId WriteSnapshot()
    {
        lock (_lock)
        {
            ThrowIfDisposed();
            return WriteSnapshotLocked();
        }
    }

    private SnapshotId WriteSnapshotLocked()
    {
        var image = _image;
        var id = new SnapshotId(image.EndOffset, _options.LeaderEpoch);
        if (_latestSnapshot == id)
        {
            return id;
        }

        var now = _options.Time.GetUtcNow().ToUnixTimeMilliseconds();
        var path = MetadataSnapshots.Write(Directory, id, image, _lastAppendTimestamp, now);
        _latestSnapshot = id;
        _recordsSinceSnapshot = 0;
        _logger.LogInformation("Wrote metadata snapshot {Path}", path);

        foreach (var older in MetadataSnapshots.List(Directory))
        {
            if (older != id && older.EndOffset <= id.EndOffset)
            {
                File.Delete(Path.Combine(Directory, older.FileName));
            }
        }

        if (_options.DeleteLogBeforeSnapshot)
        {
            _log.DeleteRecordsBefore(id.EndOffset);
        }

        return id;
    }

    // ------------------------------------------------------------------ commit

    /// <summary>
    /// Applies <paramref name="records"/> to a copy of the image (so a record that does not fit fails before
    /// anything is written), appends them as one batch, fsyncs, and publishes the new image. Caller holds the lock.
    /// </summary>
    private void CommitLocked(IReadOnlyList<MetadataRecord> records)
    {
        var previous = _image;
        var image = previous;
        foreach (var record in records)
        {
            image = image.Apply(record);
        }

        var now = _options.Time.GetUtcNow().ToUnixTimeMilliseconds();
        _writeBuffer.ResetWrittenCount();
        MetadataBatches.Write(_writeBuffer, records, now, _options.LeaderEpoch);
        var result = _log.Append(new ReadOnlySequence<byte>(_writeBuffer.WrittenMemory), _options.LeaderEpoch, AppendOrigin.Coordinator);
        _log.Flush();
        _log.UpdateHighWatermark(_log.LogEndOffset);

        image = image.WithEndOffset(result.LastOffset + 1);
        Volatile.Write(ref _image, image);
        _lastAppendTimestamp = now;
        _recordsSinceSnapshot += records.Count;

        try
        {
            ImageChanged?.Invoke(this, new ImageChangedEventArgs(previous, image, records));
        }
#pragma warning disable CA1031 // a listener's failure must not turn a committed change into a reported failure
        catch (Exception e)
#pragma warning restore CA1031
        {
            _logger.LogError(e, "An ImageChanged listener failed at metadata offset {Offset}", result.FirstOffset);
        }

        if (_options.SnapshotIntervalRecords > 0 && _recordsSinceSnapshot >= _options.SnapshotIntervalRecords)
        {
            WriteSnapshotLocked();
        }
    }

    // ------------------------------------------------------------------ validation and placement

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

    /// <summary>
    /// Rack-unaware round-robin placement over the live brokers (sorted by id) from a random start, so leaders
    /// spread. INVALID_REPLICATION_FACTOR when there are too few brokers (StripedReplicaPlacer checks that before
    /// it places anything), then POLICY_VIOLATION when <paramref name="count"/> partition records would not fit
    /// in <paramref name="maxPartitions"/>: both before any list sized by a count from the wire is allocated.
    /// </summary>
    private static (ErrorCode Error, string? Message) Place(ClusterImage image, int firstPartition, int count, int replicationFactor, int maxPartitions, out List<List<int>> placement)
    {
        placement = [];
        var brokers = image.LiveBrokers.Select(b => b.BrokerId).ToArray();
        if (replicationFactor > brokers.Length)
        {
            return (ErrorCode.InvalidReplicationFactor, $"Unable to replicate the partition {replicationFactor} time(s): The target replication factor of {replicationFactor} cannot be reached because only {brokers.Length} broker(s) are registered.");
        }

        if (count > maxPartitions)
        {
            return (ErrorCode.PolicyViolation, ExcessiveBatchMessage);
        }

        placement.Capacity = count;

        var start = brokers.Length > 1 ? Random.Shared.Next(brokers.Length) : 0;
        for (var p = 0; p < count; p++)
        {
            var replicas = new List<int>(replicationFactor);
            for (var r = 0; r < replicationFactor; r++)
            {
                replicas.Add(brokers[(start + firstPartition + p + r) % brokers.Length]);
            }

            placement.Add(replicas);
        }

        return (ErrorCode.None, null);
    }

    private static string? ValidateManualAssignment(ClusterImage image, List<List<int>> placement, int replicationFactor)
    {
        for (var p = 0; p < placement.Count; p++)
        {
            var replicas = placement[p];
            if (replicas.Count == 0)
            {
                return "The manual partition assignment includes an empty replica list.";
            }

            var seen = new HashSet<int>();
            foreach (var broker in replicas)
            {
                if (!seen.Add(broker))
                {
                    return $"The manual partition assignment includes the broker {broker} more than once.";
                }

                if (!image.Brokers.ContainsKey(broker))
                {
                    return $"The manual partition assignment includes broker {broker}, but no such broker is registered.";
                }
            }

            if (replicas.Count != replicationFactor)
            {
                return $"The manual partition assignment includes a partition with {replicas.Count} replica(s), but this is inconsistent with previous partitions, which have {replicationFactor} replica(s).";
            }

            if (!replicas.Any(b => image.Brokers[b].IsLive))
            {
                return $"All brokers specified in the manual partition assignment for partition {p} are fenced or in controlled shutdown.";
            }
        }

        return null;
    }

    /// <summary>A new partition: the live replicas are the ISR, the first of them leads, epochs start at 0.</summary>
    private static MetadataRecord PartitionRecordFor(ClusterImage image, KafkaUuid topicId, int partitionId, List<int> replicas)
    {
        var isr = replicas.Where(b => image.Brokers.TryGetValue(b, out var broker) && broker.IsLive).ToList();
        return new MetadataRecord(
            new PartitionRecord
            {
                PartitionId = partitionId,
                TopicId = topicId,
                Replicas = [.. replicas],
                Isr = isr,
                Leader = isr.Count > 0 ? isr[0] : -1,
                LeaderEpoch = 0,
                PartitionEpoch = 0,
            },
            PartitionRecordVersion);
    }

    // ------------------------------------------------------------------ lifecycle

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    /// <summary>Closes the metadata log (flushed).</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _log.Close();
        }
    }
}
