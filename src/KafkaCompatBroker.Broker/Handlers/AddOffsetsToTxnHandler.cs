using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// AddOffsetsToTxn (key 25), v0–4: adds the group's <c>__consumer_offsets</c> partition to the producer's
/// transaction, so its TxnOffsetCommit becomes part of it (Transactions V1; V2 clients skip this call).
/// Errors as AddPartitionsToTxn; PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v2.
/// </summary>
public sealed class AddOffsetsToTxnHandler(BrokerContext broker) : ApiHandler<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse>
{
    public override ApiKey Key => ApiKey.AddOffsetsToTxn;

    public override short MinVersion => 0;

    public override short MaxVersion => 4;

    protected override ValueTask<AddOffsetsToTxnResponse?> HandleAsync(RequestContext context, AddOffsetsToTxnRequest request, CancellationToken cancellationToken)
    {
        ErrorCode error;
        if (!broker.ConsumerOffsets.EnsureCreated() || broker.Metadata.Image.GetTopic(ConsumerOffsetsTopic.Name) is not { } offsetsTopic)
        {
            error = ErrorCode.CoordinatorNotAvailable;
        }
        else
        {
            var partition = new TopicPartition(ConsumerOffsetsTopic.Name, ConsumerOffsetsTopic.PartitionFor(request.GroupId, offsetsTopic.Partitions.Count));
            error = broker.TransactionCoordinator.AddPartitions(request.TransactionalId, request.ProducerId, request.ProducerEpoch, [partition]);
            if (context.ApiVersion < 2 && error == ErrorCode.ProducerFenced)
            {
                error = ErrorCode.InvalidProducerEpoch;
            }
        }

        return ValueTask.FromResult<AddOffsetsToTxnResponse?>(new AddOffsetsToTxnResponse { ErrorCode = (short)error });
    }
}
