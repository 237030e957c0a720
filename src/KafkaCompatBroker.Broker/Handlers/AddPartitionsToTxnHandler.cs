using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// AddPartitionsToTxn (key 24), v0–5. v0–3 (the client form) add one transaction's partitions; v4+ (the
/// broker form of KIP-890) batch transactions, each either verified (<c>verify_only</c>: NONE when the
/// partition is in the ongoing transaction, TRANSACTION_ABORTABLE when not) or added (v5: Transactions V2).
/// As Kafka's KafkaApis: partitions that do not exist get UNKNOWN_TOPIC_OR_PARTITION and the others of the
/// same transaction OPERATION_NOT_ATTEMPTED without asking the coordinator; otherwise the coordinator's
/// error applies to every partition. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH below v2 (older clients do not
/// know it). The v4+ top-level error is NONE (there is no authorizer).
/// </summary>
public sealed class AddPartitionsToTxnHandler(BrokerContext broker) : ApiHandler<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse>
{
    private const short BatchedVersion = 4;

    public override ApiKey Key => ApiKey.AddPartitionsToTxn;

    public override short MinVersion => 0;

    public override short MaxVersion => 5;

    protected override ValueTask<AddPartitionsToTxnResponse?> HandleAsync(RequestContext context, AddPartitionsToTxnRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var response = new AddPartitionsToTxnResponse();
        if (version < BatchedVersion)
        {
            response.ResultsByTopicV3AndBelow = Handle(
                request.V3AndBelowTransactionalId, request.V3AndBelowProducerId, request.V3AndBelowProducerEpoch, request.V3AndBelowTopics, verifyOnly: false, version);
        }
        else
        {
            foreach (var transaction in request.Transactions)
            {
                response.ResultsByTransaction.Add(new AddPartitionsToTxnResponse.AddPartitionsToTxnResult
                {
                    TransactionalId = transaction.TransactionalId,
                    TopicResults = Handle(transaction.TransactionalId, transaction.ProducerId, transaction.ProducerEpoch, transaction.Topics, transaction.VerifyOnly, version),
                });
            }
        }

        return ValueTask.FromResult<AddPartitionsToTxnResponse?>(response);
    }

    private List<AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult> Handle(
        string transactionalId, long producerId, short producerEpoch, List<AddPartitionsToTxnRequest.AddPartitionsToTxnTopic> topics, bool verifyOnly, short version)
    {
        var partitions = new List<TopicPartition>();
        var unknown = new HashSet<TopicPartition>();
        var image = broker.Metadata.Image;
        foreach (var topic in topics)
        {
            var topicImage = image.GetTopic(topic.Name);
            foreach (var partition in topic.Partitions)
            {
                var tp = new TopicPartition(topic.Name, partition);
                partitions.Add(tp);
                if (topicImage is null || !topicImage.Partitions.ContainsKey(partition))
                {
                    unknown.Add(tp);
                }
            }
        }

        IReadOnlyDictionary<TopicPartition, ErrorCode> errors;
        if (unknown.Count > 0)
        {
            errors = partitions.Distinct().ToDictionary(p => p, p => unknown.Contains(p) ? ErrorCode.UnknownTopicOrPartition : ErrorCode.OperationNotAttempted);
        }
        else if (verifyOnly)
        {
            errors = broker.TransactionCoordinator.VerifyPartitions(transactionalId, producerId, producerEpoch, partitions);
        }
        else
        {
            // v5 is what a Transactions V2 broker sends; the client forms are Transactions V1.
            var error = broker.TransactionCoordinator.AddPartitions(transactionalId, producerId, producerEpoch, partitions, clientTransactionVersion: (short)(version >= 5 ? 2 : 0));
            if (version < 2 && error == ErrorCode.ProducerFenced)
            {
                error = ErrorCode.InvalidProducerEpoch;
            }

            errors = partitions.Distinct().ToDictionary(p => p, _ => error);
        }

        var results = new List<AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult>();
        foreach (var group in errors.GroupBy(e => e.Key.Topic, StringComparer.Ordinal))
        {
            var topicResult = new AddPartitionsToTxnResponse.AddPartitionsToTxnTopicResult { Name = group.Key };
            foreach (var (tp, error) in group.OrderBy(e => e.Key.Partition))
            {
                topicResult.ResultsByPartition.Add(new AddPartitionsToTxnResponse.AddPartitionsToTxnPartitionResult { PartitionIndex = tp.Partition, PartitionErrorCode = (short)error });
            }

            results.Add(topicResult);
        }

        return results;
    }
}
