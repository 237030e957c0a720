using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DescribeTransactions (key 65), v0 (KIP-664): state, timeout, start time, producer id/epoch and
/// partitions of each transactional id; TRANSACTIONAL_ID_NOT_FOUND for an unknown one, INVALID_REQUEST
/// for "". While markers are being written the partitions are those still without one, as in Kafka.
/// </summary>
public sealed class DescribeTransactionsHandler(BrokerContext broker) : ApiHandler<DescribeTransactionsRequest, DescribeTransactionsResponse>
{
    public override ApiKey Key => ApiKey.DescribeTransactions;

    public override short MinVersion => 0;

    public override short MaxVersion => 0;

    protected override ValueTask<DescribeTransactionsResponse?> HandleAsync(RequestContext context, DescribeTransactionsRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeTransactionsResponse();
        foreach (var transactionalId in request.TransactionalIds)
        {
            var description = broker.TransactionCoordinator.Describe(transactionalId);
            var state = new DescribeTransactionsResponse.TransactionStateData
            {
                ErrorCode = (short)description.Error,
                TransactionalId = transactionalId,
                TransactionState = description.State,
                TransactionTimeoutMs = description.TimeoutMs,
                TransactionStartTimeMs = description.StartTimeMs,
                ProducerId = description.ProducerId,
                ProducerEpoch = description.ProducerEpoch,
            };
            foreach (var topic in description.Partitions.GroupBy(p => p.Topic, StringComparer.Ordinal))
            {
                state.Topics.Add(new DescribeTransactionsResponse.TopicData { Topic = topic.Key, Partitions = [.. topic.Select(p => p.Partition)] });
            }

            response.TransactionStates.Add(state);
        }

        return ValueTask.FromResult<DescribeTransactionsResponse?>(response);
    }
}
