using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// EndTxn (key 26), v0–5: commits or aborts the producer's transaction; the markers are in every partition
/// of the transaction when the answer is sent. v5 is Transactions V2 (KIP-890): the epoch is bumped at
/// every end and the response carries the producer id and epoch to continue with. PRODUCER_FENCED is
/// INVALID_PRODUCER_EPOCH below v2.
/// </summary>
public sealed class EndTxnHandler(BrokerContext broker) : ApiHandler<EndTxnRequest, EndTxnResponse>
{
    public override ApiKey Key => ApiKey.EndTxn;

    public override short MinVersion => 0;

    public override short MaxVersion => 5;

    protected override ValueTask<EndTxnResponse?> HandleAsync(RequestContext context, EndTxnRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var result = broker.TransactionCoordinator.EndTransaction(
            request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.Committed, clientTransactionVersion: (short)(version >= 5 ? 2 : 0));
        var error = version < 2 && result.Error == ErrorCode.ProducerFenced ? ErrorCode.InvalidProducerEpoch : result.Error;
        return ValueTask.FromResult<EndTxnResponse?>(new EndTxnResponse
        {
            ErrorCode = (short)error,
            ProducerId = version >= 5 ? result.ProducerId : -1,
            ProducerEpoch = version >= 5 ? result.ProducerEpoch : (short)-1,
        });
    }
}
