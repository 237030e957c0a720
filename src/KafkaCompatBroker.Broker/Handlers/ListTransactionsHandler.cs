using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// ListTransactions (key 66), v0–2 (KIP-664, KIP-994, KIP-1152): the transactional ids this coordinator
/// knows, filtered by state names (unknown names are echoed in unknown_state_filters), producer ids, v1's
/// minimum running time (duration_filter, -1 = any) and v2's transactional id regular expression (a
/// whole-id match; null or "" = any; an invalid one is INVALID_REGULAR_EXPRESSION).
/// </summary>
public sealed class ListTransactionsHandler(BrokerContext broker) : ApiHandler<ListTransactionsRequest, ListTransactionsResponse>
{
    public override ApiKey Key => ApiKey.ListTransactions;

    public override short MinVersion => 0;

    public override short MaxVersion => 2;

    protected override ValueTask<ListTransactionsResponse?> HandleAsync(RequestContext context, ListTransactionsRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var (error, unknown, transactions) = broker.TransactionCoordinator.List(
            request.StateFilters,
            request.ProducerIdFilters,
            version >= 1 ? request.DurationFilter : -1,
            version >= 2 ? request.TransactionalIdPattern : null);
        var response = new ListTransactionsResponse { ErrorCode = (short)error, UnknownStateFilters = [.. unknown] };
        foreach (var transaction in transactions)
        {
            response.TransactionStates.Add(new ListTransactionsResponse.TransactionStateData
            {
                TransactionalId = transaction.TransactionalId,
                ProducerId = transaction.ProducerId,
                TransactionState = transaction.State,
            });
        }

        return ValueTask.FromResult<ListTransactionsResponse?>(response);
    }
}
