using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>Kafka's TransactionState; the numbers are the ids written to <c>__transaction_state</c>.</summary>
public enum TransactionState : sbyte
{
    Empty = 0,
    Ongoing = 1,
    PrepareCommit = 2,
    PrepareAbort = 3,
    CompleteCommit = 4,
    CompleteAbort = 5,
    Dead = 6,
    PrepareEpochFence = 7,
}

/// <summary>Names as Kafka's TransactionState.stateName() (what DescribeTransactions / ListTransactions show).</summary>
public static class TransactionStates
{
    public static string Name(TransactionState state) => state switch
    {
        TransactionState.Empty => "Empty",
        TransactionState.Ongoing => "Ongoing",
        TransactionState.PrepareCommit => "PrepareCommit",
        TransactionState.PrepareAbort => "PrepareAbort",
        TransactionState.CompleteCommit => "CompleteCommit",
        TransactionState.CompleteAbort => "CompleteAbort",
        TransactionState.Dead => "Dead",
        TransactionState.PrepareEpochFence => "PrepareEpochFence",
        _ => state.ToString(),
    };

    public static bool TryParse(string name, out TransactionState state)
    {
        foreach (var candidate in Enum.GetValues<TransactionState>())
        {
            if (Name(candidate) == name)
            {
                state = candidate;
                return true;
            }
        }

        state = default;
        return false;
    }
}

/// <summary>The transaction coordinator's settings (Kafka's TransactionConfig / TransactionStateManagerConfig).</summary>
public sealed class TransactionCoordinatorConfig
{
    /// <summary>transaction.max.timeout.ms: the largest transaction timeout a producer may ask for.</summary>
    public int TransactionMaxTimeoutMs { get; init; } = 900_000;

    /// <summary>transactional.id.expiration.ms: an idle transactional id is forgotten after this long.</summary>
    public long TransactionalIdExpirationMs { get; init; } = 604_800_000;

    /// <summary>transaction.abort.timed.out.transaction.cleanup.interval.ms.</summary>
    public long AbortTimedOutTransactionsIntervalMs { get; init; } = 10_000;

    /// <summary>transaction.remove.expired.transaction.cleanup.interval.ms.</summary>
    public long RemoveExpiredTransactionalIdsIntervalMs { get; init; } = 3_600_000;

    /// <summary>How soon markers that could not be written are tried again.</summary>
    public long MarkerRetryIntervalMs { get; init; } = 1_000;

    /// <summary>The cluster's finalized transaction.version (2: Transactions V2, KIP-890).</summary>
    public short TransactionVersionLevel { get; init; } = 2;

    /// <summary>transaction.two.phase.commit.enable (KIP-939); when false, InitProducerId with enable_2pc is refused.</summary>
    public bool TwoPhaseCommitEnable { get; init; }

    /// <summary>transaction.partition.verification.enable (KIP-890): Produce checks the partition is in the transaction.</summary>
    public bool PartitionVerificationEnable { get; init; } = true;
}

/// <summary>
/// Where the transaction coordinator persists its state: the transactional id's partition of
/// <c>__transaction_state</c>. Appends are synchronous, so a state change is in the log before it is applied.
/// </summary>
public interface ITransactionLog
{
    /// <summary>Appends one record (value null = tombstone); throws <see cref="TransactionLogException"/> when it cannot.</summary>
    void Append(string transactionalId, byte[] key, byte[]? value);

    /// <summary>The coordinator epoch of the transactional id's partition (its leader epoch), written into markers.</summary>
    int CoordinatorEpoch(string transactionalId);
}

/// <summary>A write to the transaction log failed; <see cref="Error"/> is what the client is told.</summary>
public sealed class TransactionLogException(ErrorCode error, string message) : Exception(message)
{
    public ErrorCode Error { get; } = error;
}

/// <summary>Writes one COMMIT / ABORT marker to a partition of the transaction.</summary>
public interface ITransactionMarkerSink
{
    /// <summary>NONE when the marker is in the log (or the partition no longer exists); otherwise the partition's error.</summary>
    ErrorCode Write(TopicPartition partition, long producerId, short producerEpoch, int coordinatorEpoch, bool commit);
}

/// <summary>Hands out producer ids that are never reused (Kafka's ProducerIdManager).</summary>
public interface IProducerIdSource
{
    /// <summary>The next id; throws <see cref="ProducerIdException"/> when none can be had.</summary>
    long GenerateProducerId();
}

/// <summary>No producer id could be allocated; <see cref="Error"/> is what the client is told.</summary>
public sealed class ProducerIdException(ErrorCode error, string message) : Exception(message)
{
    public ErrorCode Error { get; } = error;
}

/// <summary>The answer to InitProducerId.</summary>
public readonly record struct InitProducerIdResult(ErrorCode Error, long ProducerId, short ProducerEpoch)
{
    public static InitProducerIdResult Failed(ErrorCode error) => new(error, -1, -1);
}

/// <summary>The answer to EndTxn (v5+ carries the producer id and epoch to use next).</summary>
public readonly record struct EndTxnResult(ErrorCode Error, long ProducerId, short ProducerEpoch)
{
    public static EndTxnResult Failed(ErrorCode error) => new(error, -1, -1);
}

/// <summary>One transaction as DescribeTransactions shows it.</summary>
public sealed record TransactionDescription(
    ErrorCode Error,
    string TransactionalId,
    string State,
    int TimeoutMs,
    long StartTimeMs,
    long ProducerId,
    short ProducerEpoch,
    IReadOnlyList<TopicPartition> Partitions);

/// <summary>One transaction as ListTransactions shows it.</summary>
public readonly record struct TransactionListing(string TransactionalId, long ProducerId, string State);
