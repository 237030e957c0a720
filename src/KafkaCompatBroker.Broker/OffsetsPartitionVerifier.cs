using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// TxnOffsetCommit's check against the transaction coordinator: the group's <c>__consumer_offsets</c>
/// partition must be in the producer's ongoing transaction (added by AddOffsetsToTxn, or implicitly with
/// Transactions V2 when <paramref name="broker"/>'s TxnOffsetCommit is v5+).
/// </summary>
public sealed class OffsetsPartitionVerifier(BrokerContext broker) : ITransactionVerifier
{
    public ErrorCode VerifyOffsetsPartition(string transactionalId, long producerId, short producerEpoch, string groupId, bool addIfMissing)
    {
        if (broker.Metadata.Image.GetTopic(ConsumerOffsetsTopic.Name) is not { } topic)
        {
            return ErrorCode.CoordinatorNotAvailable;
        }

        var partition = new TopicPartition(ConsumerOffsetsTopic.Name, ConsumerOffsetsTopic.PartitionFor(groupId, topic.Partitions.Count));
        return broker.TransactionCoordinator.VerifyPartition(transactionalId, producerId, producerEpoch, partition, addIfMissing);
    }
}
