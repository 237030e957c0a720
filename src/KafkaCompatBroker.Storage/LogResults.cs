using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// What an append did: the offsets it assigned, the largest timestamp, and LogAppendTime when the log stamped it
/// (-1 otherwise). <see cref="Duplicate"/>: the batch was a producer's retry of a batch already in the log,
/// so nothing was written and the offsets (and LogAppendTime, the batch's timestamp, as Kafka answers) are the original's.
/// <see cref="FlushRequired"/>: flush.messages asks for these records to be on disk before they are acknowledged
/// (<see cref="PartitionLog.AppendWithoutFlush"/> leaves that to <see cref="PartitionLog.WaitForFlushAsync"/>).
/// </summary>
public readonly record struct LogAppendResult(
    long FirstOffset,
    long LastOffset,
    long MaxTimestamp,
    long OffsetOfMaxTimestamp,
    long LogAppendTime,
    long LogStartOffset,
    int BatchCount,
    long RecordCount,
    int Bytes,
    bool Duplicate = false,
    bool FlushRequired = false);

/// <summary>
/// The answer to a fetch: at most one file region (whole batches, the first one holding the start
/// offset) plus the log's offsets at the time of the read. <see cref="UpperBoundOffset"/>: an offset at or
/// after the end of the returned batches (-1 without data), the bound for collecting aborted transactions.
/// </summary>
public readonly record struct LogReadResult(
    FileRegion? Region,
    long FirstBatchBaseOffset,
    long HighWatermark,
    long LogStartOffset,
    long LogEndOffset,
    long UpperBoundOffset = -1);

/// <summary>A record found by timestamp (or the log's max timestamp): its offset and timestamp.</summary>
public readonly record struct TimestampAndOffset(long Timestamp, long Offset);

/// <summary>Where a record set was refused, with the Kafka error code a broker answers with.</summary>
public sealed class LogAppendException(ErrorCode error, string message) : Exception(message)
{
    public ErrorCode Error { get; } = error;
}
