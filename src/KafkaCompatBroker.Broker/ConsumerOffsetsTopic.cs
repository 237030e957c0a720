using System.Buffers;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The internal compacted topic <c>__consumer_offsets</c>: created on first use (as Kafka does on the
/// first FindCoordinator for a group) with <c>offsets.topic.num.partitions</c> partitions, written by
/// the group coordinator (each group in partition <c>abs(javaHashCode(groupId)) % partitions</c>, as
/// Kafka places it) and read back at start-up to restore offsets and groups.
/// </summary>
public sealed class ConsumerOffsetsTopic(BrokerSettings settings, MetadataStore metadata, ReplicaManager replicas, TimeProvider time, ILogger<ConsumerOffsetsTopic> log)
    : IGroupRecordLog, IGroupShardLoader
{
    public const string Name = "__consumer_offsets";
    private readonly Lock _createLock = new();

    /// <summary>The partition of a group: Kafka's <c>Utils.abs(groupId.hashCode()) % partitionCount</c>.</summary>
    public static int PartitionFor(string groupId, int partitionCount) => GroupCoordinator.PartitionFor(groupId, partitionCount);

    /// <summary>Creates the topic when it does not exist yet; false when it cannot be created.</summary>
    public bool EnsureCreated()
    {
        var config = settings.Config;
        return InternalTopic.EnsureCreated(
            metadata,
            _createLock,
            Name,
            config.GetInt("offsets.topic.num.partitions"),
            config.GetInt("offsets.topic.replication.factor"),
            [
                new("cleanup.policy", "compact"),
                new("compression.type", "producer"),
                new("segment.bytes", config.GetInt("offsets.topic.segment.bytes").ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ],
            log);
    }

    /// <summary>
    /// Whether the group's partition log is not ready yet: the topic is in the metadata image but the partition's
    /// log is still being created (the image is published before the replica manager creates the logs). Kafka
    /// answers COORDINATOR_LOAD_IN_PROGRESS meanwhile, and FindCoordinator COORDINATOR_NOT_AVAILABLE until the
    /// partition has a leader. A topic that does not exist yet is not loading: the first lookup or write creates it.
    /// Whether the shard itself is loaded is the coordinator's state (<see cref="GroupCoordinator.CoordinatorError"/>).
    /// </summary>
    public bool IsLoading(string groupId) =>
        metadata.Image.GetTopic(Name) is { } topic && replicas.GetLog(Name, PartitionFor(groupId, topic.Partitions.Count)) is null;

    public void Append(string groupId, IReadOnlyList<GroupRecord> records) => AppendBatch(groupId, records, producerId: -1, producerEpoch: -1, transactional: false);

    public int AppendTransactional(string groupId, IReadOnlyList<GroupRecord> records, long producerId, short producerEpoch) =>
        AppendBatch(groupId, records, producerId, producerEpoch, transactional: true);

    /// <summary>One batch in the group's partition; a transactional one carries the producer's id and epoch and base sequence -1 (no sequence checks for coordinator writes).</summary>
    private int AppendBatch(string groupId, IReadOnlyList<GroupRecord> records, long producerId, short producerEpoch, bool transactional)
    {
        if (!EnsureCreated() || metadata.Image.GetTopic(Name) is not { } topic)
        {
            throw new GroupRecordLogException(ErrorCode.CoordinatorNotAvailable, $"{Name} could not be created");
        }

        var partition = PartitionFor(groupId, topic.Partitions.Count);
        if (replicas.GetLog(Name, partition) is null)
        {
            // The topic is in the image but the replica manager is still creating its logs (the load itself writes).
            throw new GroupRecordLogException(ErrorCode.CoordinatorLoadInProgress, $"{Name}-{partition} is not loaded yet");
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        using var builder = new RecordBatchBuilder(CompressionFromConfig(), producerId, producerEpoch, baseSequence: -1, isTransactional: transactional);
        foreach (var record in records)
        {
            builder.Append(now, record.Key, record.Value);
        }

        using var batch = new PooledBufferWriter(builder.RecordsSize + 128);
        builder.WriteTo(batch);
        var result = replicas.Append(Name, partition, new ReadOnlySequence<byte>(batch.WrittenMemory), AppendOrigin.Coordinator);
        if (result.Error != ErrorCode.None)
        {
            // Kafka's mapping of a failed coordinator append to what the client is told; a transactional
            // write keeps the producer's own errors (fenced or stale epoch, transaction state).
            var error = result.Error switch
            {
                ErrorCode.UnknownTopicOrPartition or ErrorCode.NotEnoughReplicas or ErrorCode.NotEnoughReplicasAfterAppend or ErrorCode.KafkaStorageError
                    => ErrorCode.CoordinatorNotAvailable,
                ErrorCode.NotLeaderOrFollower => ErrorCode.NotCoordinator,
                ErrorCode.MessageTooLarge or ErrorCode.RecordListTooLarge or ErrorCode.InvalidFetchSize => ErrorCode.InvalidCommitOffsetSize,
                ErrorCode.InvalidProducerEpoch or ErrorCode.ProducerFenced or ErrorCode.InvalidTxnState or ErrorCode.InvalidProducerIdMapping
                    or ErrorCode.TransactionCoordinatorFenced when transactional => result.Error,
                _ => ErrorCode.UnknownServerError,
            };
            throw new GroupRecordLogException(error, $"appending to {Name}-{partition} failed: {result.Error} {result.ErrorMessage}");
        }

        return partition;
    }

    private CompressionType CompressionFromConfig() => settings.Config.GetInt("offsets.topic.compression.codec") switch
    {
        1 => CompressionType.Gzip,
        2 => CompressionType.Snappy,
        3 => CompressionType.Lz4,
        4 => CompressionType.Zstd,
        _ => CompressionType.None,
    };

    /// <summary>
    /// Replays one partition into a loading shard (start-up, and a shard loaded when this broker becomes the
    /// partition's leader): offsets (last record per key wins, tombstones remove; offsets of a transactional batch
    /// stay pending until a COMMIT/ABORT marker of their producer in the same partition, and those without one stay
    /// pending for the transaction coordinator to end), KIP-848 consumer group records (types 3 to 8) in log order,
    /// then each classic group's last metadata record. Records of share and streams groups (9+) are counted and left
    /// to their own loaders. A record that does not decode is logged and skipped: one bad record must not cost every
    /// group its offsets. The runtime finishes the load (<c>GroupCoordinatorShard.OnLoaded</c>).
    /// </summary>
    public void Load(int partition, GroupCoordinatorShard shard)
    {
        if (metadata.Image.GetTopic(Name) is null || replicas.GetLog(Name, partition) is not { } partitionLog)
        {
            return;
        }

        var groups = new Dictionary<string, byte[]?>(StringComparer.Ordinal);
        long offsetRecords = 0, consumerGroupRecords = 0, otherRecords = 0;
        using var scratch = new PooledBufferWriter();
        ForEachRecord(partitionLog, scratch, shard, partition, (key, value, producerId) =>
        {
            try
            {
                var parsed = GroupRecords.ReadKey(key);
                switch (parsed.Type)
                {
                    case 0 or 1:
                        // Offsets of a transactional batch stay pending until the producer's marker in this partition.
                        shard.ReplayOffsetRecord(
                            partition, producerId, parsed.GroupId, new TopicPartition(parsed.Topic!, parsed.Partition), value is null ? null : GroupRecords.ReadOffsetValue(value));
                        offsetRecords++;
                        break;
                    case GroupRecords.GroupMetadataKeyType:
                        groups[parsed.GroupId] = value;
                        break;
                    case >= 3 and <= 8:
                        // KIP-848 consumer group records replay in log order (a group lives in one partition).
                        shard.ReplayConsumerGroupRecord(key, value);
                        consumerGroupRecords++;
                        break;
                    default:
                        otherRecords++;
                        break;
                }
            }
            catch (KafkaProtocolException e)
            {
                log.LogWarning("Skipping an undecodable record in {Log}: {Reason}", partitionLog.TopicPartition, e.Message);
            }
        });

        foreach (var (groupId, value) in groups)
        {
            try
            {
                shard.RestoreGroup(groupId, value is null ? null : GroupRecords.ReadGroupMetadataValue(value));
            }
            catch (KafkaProtocolException e)
            {
                log.LogWarning("Skipping the undecodable metadata of group {GroupId}: {Reason}", groupId, e.Message);
            }
        }

        if (groups.Count + offsetRecords + consumerGroupRecords + otherRecords > 0)
        {
            log.LogInformation(
                "Loaded {Topic}-{Partition}: {Groups} group metadata records, {Offsets} offset records, {ConsumerGroup} consumer group records, {Other} other records",
                Name, partition, groups.Count, offsetRecords, consumerGroupRecords, otherRecords);
        }
    }

    private delegate void RecordVisitor(ReadOnlySpan<byte> key, byte[]? value, long transactionalProducerId);

    /// <summary>
    /// Visits every keyed record with the producer id of its batch when the batch is transactional (-1
    /// otherwise); a COMMIT/ABORT marker completes that producer's pending offsets in the partition.
    /// </summary>
    private void ForEachRecord(PartitionLog partitionLog, PooledBufferWriter scratch, GroupCoordinatorShard shard, int partition, RecordVisitor visit) =>
        partitionLog.ForEachBatch(partitionLog.LogStartOffset, (ReadOnlySpan<byte> batch, in RecordBatchHeader header) =>
        {
            var reader = RecordBatch.ReadRecords(batch, scratch, 64 << 20);
            if (header.IsControl)
            {
                if (reader.MoveNext())
                {
                    ReplayControlRecord(reader.Current, header, shard, partition, partitionLog);
                }

                return;
            }

            var producerId = header.IsTransactional ? header.ProducerId : -1;
            while (reader.MoveNext())
            {
                var record = reader.Current;
                if (!record.IsKeyNull)
                {
                    visit(record.Key, record.IsValueNull ? null : record.Value.ToArray(), producerId);
                }
            }
        });

    private void ReplayControlRecord(in Record record, in RecordBatchHeader header, GroupCoordinatorShard shard, int partition, PartitionLog partitionLog)
    {
        try
        {
            if (!record.IsKeyNull && ControlRecords.ReadType(record.Key) is var type && type is ControlRecordType.Commit or ControlRecordType.Abort)
            {
                shard.CompleteTransaction(header.ProducerId, type == ControlRecordType.Commit, partition);
            }
        }
        catch (RecordsException e)
        {
            log.LogWarning("Skipping an undecodable control record in {Log}: {Reason}", partitionLog.TopicPartition, e.Message);
        }
    }
}
