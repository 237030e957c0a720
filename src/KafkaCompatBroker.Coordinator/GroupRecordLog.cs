using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// Where the group coordinator writes its records: the group's partition of <c>__consumer_offsets</c>.
/// Appends are synchronous (a local log append), so a state change is durable in the log before the
/// coordinator answers the request that caused it.
/// </summary>
public interface IGroupRecordLog
{
    /// <summary>Appends the records of one group as one batch; throws <see cref="GroupRecordLogException"/> when it cannot.</summary>
    void Append(string groupId, IReadOnlyList<GroupRecord> records);

    /// <summary>
    /// Appends a TxnOffsetCommit's offset records as one transactional batch of the producer (base
    /// sequence -1): they stay pending until a COMMIT or ABORT marker of the producer is written to the
    /// same partition. Returns the <c>__consumer_offsets</c> partition written; throws
    /// <see cref="GroupRecordLogException"/> when it cannot (producer errors such as INVALID_PRODUCER_EPOCH pass through).
    /// </summary>
    int AppendTransactional(string groupId, IReadOnlyList<GroupRecord> records, long producerId, short producerEpoch);
}

/// <summary>A coordinator write failed; <see cref="Error"/> is what the client is told (Kafka's mapping of log errors).</summary>
public sealed class GroupRecordLogException(ErrorCode error, string message) : Exception(message)
{
    public ErrorCode Error { get; } = error;
}
