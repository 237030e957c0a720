using KafkaCompatBroker.Broker.Handlers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker;

/// <summary>The outcome of a fetch read of one partition: the data (file regions) up to the isolation bound, or an error.</summary>
public readonly record struct PartitionReadResult(ErrorCode Error, FileRegion? Region, long HighWatermark, long LastStableOffset, long LogStartOffset, int AbortedStart = 0, int AbortedCount = 0)
{
    public static PartitionReadResult Failed(ErrorCode error) => new(error, null, -1, -1, -1);
}

/// <summary>
/// One partition this broker hosts (Kafka's Partition): its topic id, log, leader epoch and high watermark, and the
/// fetches parked on it. A request resolves the partition once (<see cref="ReplicaManager.GetPartition"/>) and reads
/// the epoch and the log from this object, so a concurrent metadata change cannot pull either from under it. The
/// high watermark is the partition's own state: the leader computes it from the in-sync replicas' log ends and
/// hands it to the log, which needs it for retention, compaction, the last stable offset and the checkpoint.
/// </summary>
public sealed class Partition
{
    // Leader/ISR state: the leader epoch and the high watermark (computed from the ISR's log ends) change under it.
    private readonly Lock _lock = new();
    private int _leaderEpoch;
    private long _highWatermark;
    private int _stopped;

    internal Partition(KafkaUuid topicId, TopicPartition topicPartition, int leaderEpoch, PartitionLog log)
    {
        TopicId = topicId;
        TopicPartition = topicPartition;
        Log = log;
        _leaderEpoch = leaderEpoch;
        _highWatermark = log.HighWatermark;
    }

    public KafkaUuid TopicId { get; }

    public TopicPartition TopicPartition { get; }

    public PartitionLog Log { get; }

    public int LeaderEpoch => Volatile.Read(ref _leaderEpoch);

    /// <summary>The offset below which records are committed (replicated to the whole ISR) and visible to consumers.</summary>
    public long HighWatermark => Volatile.Read(ref _highWatermark);

    /// <summary>True once the broker stopped hosting this partition (its topic was deleted or its log replaced).</summary>
    public bool IsStopped => Volatile.Read(ref _stopped) != 0;

    /// <summary>The long-poll fetches parked on this partition (Kafka's delayed-fetch purgatory, keyed by partition).</summary>
    internal DelayedFetchWatchers Watchers { get; } = new();

    /// <summary>
    /// Kafka's Partition.makeLeader: records the leader epoch the metadata gives and recomputes the high watermark.
    /// ONE-REPLICA: the ISR is this broker alone, so becoming leader makes everything in the log committed; with
    /// followers the high watermark would start at the checkpointed one and wait for the ISR to catch up.
    /// </summary>
    internal void MakeLeader(int leaderEpoch)
    {
        lock (_lock)
        {
            Volatile.Write(ref _leaderEpoch, leaderEpoch);
        }

        MaybeIncrementHighWatermark(Log.LogEndOffset);
    }

    /// <summary>
    /// After an append is acknowledgeable locally: <paramref name="localEnd"/> is this replica's end of
    /// acknowledgeable records (the log end, or the end of the flushed records when flush.messages applies).
    /// </summary>
    internal void OnAppended(long localEnd) => MaybeIncrementHighWatermark(localEnd);

    /// <summary>
    /// Kafka's Partition.maybeIncrementLeaderHW: the high watermark is the smallest log end among the in-sync
    /// replicas, never moving back. ONE-REPLICA: the ISR is this broker, so it is <paramref name="localEnd"/>; a
    /// cluster takes the minimum with the followers' fetch offsets here, and acks=all produce would wait on it.
    /// Moving it wakes the fetches parked on this partition, and only them.
    /// </summary>
    private void MaybeIncrementHighWatermark(long localEnd)
    {
        long highWatermark;
        lock (_lock)
        {
            highWatermark = Math.Min(localEnd, Log.LogEndOffset);
            if (highWatermark <= _highWatermark)
            {
                return;
            }

            Volatile.Write(ref _highWatermark, highWatermark);
        }

        // Outside the lock (the log takes its own): the log's copy feeds its last stable offset, retention and checkpoint.
        Log.UpdateHighWatermark(highWatermark);
        Watchers.WakeAll();
    }

    /// <summary>
    /// A fetch read (Kafka's Partition.fetchRecords / readRecords): checks the fetch's current leader epoch, then
    /// reads whole batches from <paramref name="fetchOffset"/> up to the high watermark (read_uncommitted) or the
    /// last stable offset (read_committed, collecting the aborted transactions within the data into <paramref name="aborted"/>).
    /// </summary>
    public PartitionReadResult Read(long fetchOffset, int currentLeaderEpoch, int maxBytes, bool minOneBatch, bool readCommitted, List<AbortedTxn> aborted)
    {
        if (OffsetForLeaderEpochHandler.CheckCurrentLeaderEpoch(currentLeaderEpoch, LeaderEpoch) is var epochError and not ErrorCode.None)
        {
            return PartitionReadResult.Failed(epochError);
        }

        try
        {
            // The last stable offset is read before the high watermark: it never passes the log's copy, which never passes ours.
            var lastStable = Log.LastStableOffset;
            var highWatermark = HighWatermark;
            var data = Log.Read(fetchOffset, maxBytes, readCommitted ? lastStable : highWatermark, minOneBatch);
            var abortedStart = aborted.Count;
            if (readCommitted && data.Region is not null)
            {
                Log.CollectAbortedTransactions(fetchOffset, data.UpperBoundOffset, aborted);
            }

            return new PartitionReadResult(ErrorCode.None, data.Region, highWatermark, lastStable, data.LogStartOffset, abortedStart, aborted.Count - abortedStart);
        }
        catch (OffsetOutOfRangeException)
        {
            return PartitionReadResult.Failed(ErrorCode.OffsetOutOfRange);
        }
        catch (KafkaStorageException)
        {
            // A log closed under the read because the partition stopped being hosted is an unknown partition now.
            return PartitionReadResult.Failed(IsStopped ? ErrorCode.UnknownTopicOrPartition : ErrorCode.KafkaStorageError);
        }
    }

    /// <summary>Stops hosting: later requests get UNKNOWN_TOPIC_OR_PARTITION, and parked fetches wake to see it.</summary>
    internal void Stop()
    {
        Volatile.Write(ref _stopped, 1);
        Watchers.WakeAll();
    }
}
