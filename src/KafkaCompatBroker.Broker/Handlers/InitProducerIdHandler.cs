using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// InitProducerId (key 22), v0–6. Without a transactional id: a fresh producer id at epoch 0 (idempotent
/// producers). With one: the transaction coordinator's next epoch for it (see
/// <see cref="Coordinator.TransactionCoordinator.InitProducerId"/>); v3+ carry the caller's producer id
/// and epoch (KIP-360), -1/-1 when it has none (one set without the other is INVALID_REQUEST). v6
/// (KIP-939): enable_2pc is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED while
/// transaction.two.phase.commit.enable is false, and ongoing_txn_producer_id/epoch are -1. PRODUCER_FENCED is
/// INVALID_PRODUCER_EPOCH below v4. While the transactional id's <c>__transaction_state</c> partition is still being
/// created the answer is COORDINATOR_LOAD_IN_PROGRESS (retried by clients).
/// </summary>
public sealed class InitProducerIdHandler(BrokerContext broker) : ApiHandler<InitProducerIdRequest, InitProducerIdResponse>
{
    public override ApiKey Key => ApiKey.InitProducerId;

    public override short MinVersion => 0;

    public override short MaxVersion => 6;

    protected override ValueTask<InitProducerIdResponse?> HandleAsync(RequestContext context, InitProducerIdRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        if (request.TransactionalId is not null && !broker.TransactionState.EnsureCreated())
        {
            return Answer(new InitProducerIdResponse { ErrorCode = (short)ErrorCode.CoordinatorNotAvailable, ProducerId = -1, ProducerEpoch = -1 });
        }

        if (request.TransactionalId is { } transactionalId && broker.TransactionState.IsLoading(transactionalId))
        {
            // As Kafka's TransactionStateManager, before a producer id is allocated for it.
            return Answer(new InitProducerIdResponse { ErrorCode = (short)ErrorCode.CoordinatorLoadInProgress, ProducerId = -1, ProducerEpoch = -1 });
        }

        var result = broker.TransactionCoordinator.InitProducerId(
            request.TransactionalId,
            request.TransactionTimeoutMs,
            version >= 3 ? request.ProducerId : -1,
            version >= 3 ? request.ProducerEpoch : (short)-1,
            version >= 6 && request.Enable2Pc);
        // Clients below v4 do not know PRODUCER_FENCED (KIP-588); Kafka tells them INVALID_PRODUCER_EPOCH.
        var error = version < 4 && result.Error == ErrorCode.ProducerFenced ? ErrorCode.InvalidProducerEpoch : result.Error;
        return Answer(new InitProducerIdResponse
        {
            ErrorCode = (short)error,
            ProducerId = result.ProducerId,
            ProducerEpoch = result.ProducerEpoch,
            OngoingTxnProducerId = -1,
            OngoingTxnProducerEpoch = -1,
        });
    }

    private static ValueTask<InitProducerIdResponse?> Answer(InitProducerIdResponse response) => ValueTask.FromResult<InitProducerIdResponse?>(response);
}
