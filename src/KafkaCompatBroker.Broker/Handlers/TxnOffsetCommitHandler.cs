using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// TxnOffsetCommit (key 28), v0–5 (flexible from v3): a transactional producer commits consumer offsets
/// as part of its transaction, as Kafka's KafkaApis and group coordinator answer it. Every error is per
/// partition. Unknown topics and partitions are UNKNOWN_TOPIC_OR_PARTITION and left out; for the rest, in
/// order: INVALID_GROUP_ID (empty group id), NOT_COORDINATOR (no <c>__consumer_offsets</c> yet: the client
/// looks the coordinator up again, which creates it), the transaction coordinator's answer on whether the
/// group's offsets partition is in the transaction (AddOffsetsToTxn; v5, transactions V2, adds it
/// implicitly). As Kafka's ReplicaManager, that check is skipped when
/// <c>transaction.partition.verification.enable</c> is false, except for v5, which must add the partition;
/// its errors are mapped as AddPartitionsToTxnManager maps them (PRODUCER_FENCED → INVALID_PRODUCER_EPOCH,
/// TRANSACTION_ABORTABLE → INVALID_TXN_STATE before v4). Then the group checks: v3+ carry generation / member / group instance id (ILLEGAL_GENERATION,
/// UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID); a missing group is created empty for generation -1. Metadata over
/// offset.metadata.max.bytes is OFFSET_METADATA_TOO_LARGE. Accepted offsets are written as one transactional
/// batch and stay invisible to OffsetFetch until the transaction's COMMIT marker.
/// </summary>
public sealed class TxnOffsetCommitHandler(BrokerContext broker) : ApiHandler<TxnOffsetCommitRequest, TxnOffsetCommitResponse>
{
    public override ApiKey Key => ApiKey.TxnOffsetCommit;

    public override short MinVersion => 0;

    public override short MaxVersion => 5;

    /// <summary>The first version whose verification adds the offsets partition to the transaction (Transactions V2, KIP-890).</summary>
    private const short AddPartitionVersion = 5;

    protected override ValueTask<TxnOffsetCommitResponse?> HandleAsync(RequestContext context, TxnOffsetCommitRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var image = broker.Metadata.Image;
        var response = new TxnOffsetCommitResponse();
        var toCommit = new List<OffsetToCommit>();
        var pending = new List<TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition>();
        foreach (var topic in request.Topics)
        {
            var known = image.GetTopic(topic.Name);
            var topicResponse = new TxnOffsetCommitResponse.TxnOffsetCommitResponseTopic { Name = topic.Name };
            foreach (var partition in topic.Partitions)
            {
                var partitionResponse = new TxnOffsetCommitResponse.TxnOffsetCommitResponsePartition { PartitionIndex = partition.PartitionIndex };
                if (known is null || !known.Partitions.ContainsKey(partition.PartitionIndex))
                {
                    partitionResponse.ErrorCode = (short)ErrorCode.UnknownTopicOrPartition;
                }
                else
                {
                    toCommit.Add(new OffsetToCommit(
                        new TopicPartition(topic.Name, partition.PartitionIndex),
                        partition.CommittedOffset,
                        version >= 2 ? partition.CommittedLeaderEpoch : -1,
                        partition.CommittedMetadata));
                    pending.Add(partitionResponse);
                }

                topicResponse.Partitions.Add(partitionResponse);
            }

            response.Topics.Add(topicResponse);
        }

        if (toCommit.Count > 0)
        {
            var errors = Commit(request, version, toCommit);
            for (var i = 0; i < pending.Count; i++)
            {
                pending[i].ErrorCode = (short)errors[i];
            }
        }

        return ValueTask.FromResult<TxnOffsetCommitResponse?>(response);
    }

    private ErrorCode[] Commit(TxnOffsetCommitRequest request, short version, List<OffsetToCommit> offsets)
    {
        var error = ErrorCode.None;
        if (request.GroupId.Length == 0)
        {
            error = ErrorCode.InvalidGroupId;
        }
        else if (broker.Metadata.Image.GetTopic(ConsumerOffsetsTopic.Name) is null)
        {
            error = ErrorCode.NotCoordinator;
        }
        else if (broker.TransactionVerifier is { } verifier && (version >= AddPartitionVersion || broker.TransactionCoordinator.PartitionVerificationEnable))
        {
            error = ForClient(FromVerification(
                verifier.VerifyOffsetsPartition(request.TransactionalId, request.ProducerId, request.ProducerEpoch, request.GroupId, addIfMissing: version >= AddPartitionVersion), version));
        }

        if (error != ErrorCode.None)
        {
            var errors = new ErrorCode[offsets.Count];
            Array.Fill(errors, error);
            return errors;
        }

        // v0–2 have no group fields: their defaults (generation -1, no member) are a commit outside group membership.
        var group = new TxnOffsetCommitParams(
            request.GroupId,
            request.ProducerId,
            request.ProducerEpoch,
            version >= 3 ? request.GenerationId : -1,
            version >= 3 ? request.MemberId : "",
            version >= 3 ? request.GroupInstanceId : null);
        return broker.GroupCoordinator.TxnOffsetCommit(group, offsets);
    }

    /// <summary>
    /// AddPartitionsToTxnManager's answer to the producer: a fenced producer is INVALID_PRODUCER_EPOCH, and
    /// TRANSACTION_ABORTABLE reaches only clients that know it (v4+, txnOffsetCommitRequestVersionToTransactionSupportedOperation).
    /// </summary>
    private static ErrorCode FromVerification(ErrorCode error, short version) => error switch
    {
        ErrorCode.ProducerFenced => ErrorCode.InvalidProducerEpoch,
        ErrorCode.TransactionAbortable when version < 4 => ErrorCode.InvalidTxnState,
        _ => error,
    };

    /// <summary>
    /// Kafka's mapping of a failed coordinator write (the verification included) to what the client is told:
    /// NETWORK_EXCEPTION, which older clients do not retry well, becomes COORDINATOR_LOAD_IN_PROGRESS (retried
    /// without a coordinator lookup); partition-level errors become coordinator errors.
    /// </summary>
    private static ErrorCode ForClient(ErrorCode error) => error switch
    {
        ErrorCode.NetworkException => ErrorCode.CoordinatorLoadInProgress,
        ErrorCode.UnknownTopicOrPartition or ErrorCode.NotEnoughReplicas or ErrorCode.RequestTimedOut => ErrorCode.CoordinatorNotAvailable,
        ErrorCode.NotLeaderOrFollower or ErrorCode.KafkaStorageError => ErrorCode.NotCoordinator,
        _ => error,
    };
}
