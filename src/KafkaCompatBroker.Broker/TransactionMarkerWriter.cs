using System.Buffers;
using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// Writes transaction markers (COMMIT / ABORT control batches) to the partitions this broker leads: what
/// the transaction coordinator does at the end of a transaction and what WriteTxnMarkers asks for. The
/// partition's producer state ends the producer's transaction when the marker is appended.
/// </summary>
public sealed class TransactionMarkerWriter(BrokerContext broker) : ITransactionMarkerSink
{
    /// <summary>
    /// The transaction coordinator's markers. A partition of a deleted topic is skipped (NONE), as Kafka's
    /// marker channel drops partitions whose topic is gone.
    /// </summary>
    ErrorCode ITransactionMarkerSink.Write(TopicPartition partition, long producerId, short producerEpoch, int coordinatorEpoch, bool commit)
    {
        if (broker.Metadata.Image.GetTopic(partition.Topic) is not { } topic || !topic.Partitions.ContainsKey(partition.Partition))
        {
            return ErrorCode.None;
        }

        return Write(partition.Topic, partition.Partition, producerId, producerEpoch, coordinatorEpoch, commit).Error;
    }

    /// <summary>Appends one marker; returns the partition's error (NONE when the marker is in the log).</summary>
    public PartitionAppendResult Write(string topic, int partition, long producerId, short producerEpoch, int coordinatorEpoch, bool commit)
    {
        using var batch = new PooledBufferWriter(128);
        ControlRecords.WriteEndTransactionBatch(
            batch,
            commit ? ControlRecordType.Commit : ControlRecordType.Abort,
            producerId,
            producerEpoch,
            coordinatorEpoch,
            broker.Time.GetUtcNow().ToUnixTimeMilliseconds());
        var result = broker.Replicas.Append(topic, partition, new ReadOnlySequence<byte>(batch.WrittenMemory), AppendOrigin.Coordinator);
        if (result.Error == ErrorCode.None && topic == ConsumerOffsetsTopic.Name)
        {
            // The marker completes the producer's pending transactional offsets in this partition.
            broker.GroupCoordinator.CompleteTransaction(producerId, commit, partition);
        }

        return result;
    }
}
