using System.Buffers;
using System.Globalization;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The internal compacted topic <c>__transaction_state</c>: created on first use (the first FindCoordinator
/// for a transactional id, or the first InitProducerId) with <c>transaction.state.log.num.partitions</c>
/// partitions, uncompressed as Kafka enforces, written by the transaction coordinator (each transactional
/// id in partition <c>abs(javaHashCode(id)) % partitions</c>) and replayed at start-up.
/// </summary>
public sealed class TransactionStateTopic(BrokerSettings settings, MetadataStore metadata, ReplicaManager replicas, TimeProvider time, ILogger<TransactionStateTopic> log)
    : ITransactionLog
{
    public const string Name = "__transaction_state";
    private readonly Lock _createLock = new();
    private volatile bool _loaded;

    /// <summary>Creates the topic when it does not exist yet; false when it cannot be created.</summary>
    public bool EnsureCreated()
    {
        var config = settings.Config;
        return InternalTopic.EnsureCreated(
            metadata,
            _createLock,
            Name,
            config.GetInt("transaction.state.log.num.partitions"),
            config.GetInt("transaction.state.log.replication.factor"),
            [
                new("cleanup.policy", "compact"),
                new("compression.type", "uncompressed"),
                new("unclean.leader.election.enable", "false"),
                new("min.insync.replicas", config.GetInt("transaction.state.log.min.isr").ToString(CultureInfo.InvariantCulture)),
                new("segment.bytes", config.GetInt("transaction.state.log.segment.bytes").ToString(CultureInfo.InvariantCulture)),
            ],
            log);
    }

    /// <summary>
    /// Whether the transactional id's partition is not ready yet: the start-up load has not finished, or the topic
    /// is in the metadata image but the partition's log is still being created. Kafka's TransactionStateManager
    /// answers COORDINATOR_LOAD_IN_PROGRESS meanwhile. A topic that does not exist yet is not loading.
    /// </summary>
    public bool IsLoading(string transactionalId) =>
        !_loaded || (metadata.Image.GetTopic(Name) is { } topic
            && replicas.GetLog(Name, ConsumerOffsetsTopic.PartitionFor(transactionalId, topic.Partitions.Count)) is null);

    public void Append(string transactionalId, byte[] key, byte[]? value)
    {
        if (!EnsureCreated() || metadata.Image.GetTopic(Name) is not { } topic)
        {
            throw new TransactionLogException(ErrorCode.CoordinatorNotAvailable, $"{Name} could not be created");
        }

        var partition = ConsumerOffsetsTopic.PartitionFor(transactionalId, topic.Partitions.Count);
        if (replicas.GetLog(Name, partition) is null)
        {
            // The topic is in the image but the replica manager is still creating its logs (the load itself writes).
            throw new TransactionLogException(ErrorCode.CoordinatorLoadInProgress, $"{Name}-{partition} is not loaded yet");
        }

        using var builder = new RecordBatchBuilder(CompressionType.None);
        builder.Append(time.GetUtcNow().ToUnixTimeMilliseconds(), key, value);
        using var batch = new PooledBufferWriter(builder.RecordsSize + 128);
        builder.WriteTo(batch);
        var result = replicas.Append(Name, partition, new ReadOnlySequence<byte>(batch.WrittenMemory), AppendOrigin.Coordinator);
        if (result.Error != ErrorCode.None)
        {
            // TransactionStateManager's mapping of a failed append to what the client is told.
            var error = result.Error switch
            {
                ErrorCode.UnknownTopicOrPartition or ErrorCode.NotEnoughReplicas or ErrorCode.NotEnoughReplicasAfterAppend or ErrorCode.RequestTimedOut
                    => ErrorCode.CoordinatorNotAvailable,
                ErrorCode.NotLeaderOrFollower or ErrorCode.KafkaStorageError => ErrorCode.NotCoordinator,
                _ => ErrorCode.UnknownServerError,
            };
            throw new TransactionLogException(error, $"appending to {Name}-{partition} failed: {result.Error} {result.ErrorMessage}");
        }
    }

    public int CoordinatorEpoch(string transactionalId)
    {
        if (metadata.Image.GetTopic(Name) is not { } topic)
        {
            return 0;
        }

        var partition = ConsumerOffsetsTopic.PartitionFor(transactionalId, topic.Partitions.Count);
        return topic.Partitions.TryGetValue(partition, out var image) ? Math.Max(0, image.LeaderEpoch) : 0;
    }

    /// <summary>
    /// Replays every partition into the coordinator at start-up (last record per transactional id wins,
    /// tombstones remove), then lets it complete transactions left in PrepareCommit/PrepareAbort. A record
    /// that does not decode is logged and skipped.
    /// </summary>
    public void Load(TransactionCoordinator coordinator)
    {
        if (metadata.Image.GetTopic(Name) is not { } topic)
        {
            coordinator.OnLoaded();
            _loaded = true;
            return;
        }

        long records = 0;
        using var scratch = new PooledBufferWriter();
        foreach (var partition in topic.Partitions.Keys)
        {
            if (replicas.GetLog(Name, partition) is not { } partitionLog)
            {
                continue;
            }

            partitionLog.ForEachBatch(partitionLog.LogStartOffset, (ReadOnlySpan<byte> batch, in RecordBatchHeader header) =>
            {
                if (header.IsControl)
                {
                    return;
                }

                var reader = RecordBatch.ReadRecords(batch, scratch, 64 << 20);
                while (reader.MoveNext())
                {
                    var record = reader.Current;
                    if (record.IsKeyNull)
                    {
                        continue;
                    }

                    try
                    {
                        var transactionalId = TransactionRecords.ReadKey(record.Key);
                        coordinator.Replay(transactionalId, record.IsValueNull ? default : record.Value, record.IsValueNull);
                        records++;
                    }
                    catch (KafkaProtocolException e)
                    {
                        log.LogWarning("Skipping an undecodable record in {Log}: {Reason}", partitionLog.TopicPartition, e.Message);
                    }
                }
            });
        }

        log.LogInformation("Loaded {Topic}: {Records} records", Name, records);
        coordinator.OnLoaded();
        _loaded = true;
    }
}
