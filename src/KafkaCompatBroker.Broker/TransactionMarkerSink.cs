using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The transaction coordinator's markers, written locally through <see cref="TransactionMarkerWriter"/>.
/// A partition of a deleted topic is skipped (NONE), as Kafka's marker channel drops partitions whose topic
/// is gone.
/// </summary>
public sealed class TransactionMarkerSink(BrokerContext broker) : ITransactionMarkerSink
{
    public ErrorCode Write(TopicPartition partition, long producerId, short producerEpoch, int coordinatorEpoch, bool commit)
    {
        if (broker.Metadata.Image.GetTopic(partition.Topic) is not { } topic || !topic.Partitions.ContainsKey(partition.Partition))
        {
            return ErrorCode.None;
        }

        return broker.MarkerWriter.Write(partition.Topic, partition.Partition, producerId, producerEpoch, coordinatorEpoch, commit).Error;
    }
}
