using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker;

/// <summary>A partition in a fetch: its topic by name (up to Fetch v12) or by id (v13+), and the partition index.</summary>
public readonly record struct FetchPartitionKey(KafkaUuid TopicId, string Topic, int Partition);

/// <summary>
/// A partition of an incremental fetch session (KIP-227): what the client last asked for (fetch
/// offset, max bytes, current leader epoch) and what the broker last told it (high watermark, log
/// start offset), so an incremental response can leave out partitions with nothing new.
/// </summary>
public sealed class CachedFetchPartition(FetchPartitionKey key)
{
    public FetchPartitionKey Key { get; } = key;

    public long FetchOffset { get; set; }

    public int MaxBytes { get; set; }

    public int CurrentLeaderEpoch { get; set; } = -1;

    /// <summary>The high watermark last sent; -1 after an error, so the partition is sent again once it clears.</summary>
    public long HighWatermark { get; set; } = -1;

    public long LogStartOffset { get; set; } = -1;

    public void UpdateRequest(long fetchOffset, int maxBytes, int currentLeaderEpoch)
    {
        FetchOffset = fetchOffset;
        MaxBytes = maxBytes;
        CurrentLeaderEpoch = currentLeaderEpoch;
    }

    /// <summary>
    /// Kafka's CachedPartition.maybeUpdateResponseData: whether an incremental response must include
    /// the partition (new records, a changed high watermark or log start offset, or an error), and
    /// when <paramref name="update"/> remember what is being sent.
    /// </summary>
    public bool MaybeUpdateResponseData(short errorCode, long highWatermark, long logStartOffset, long recordsLength, bool update)
    {
        var mustRespond = recordsLength > 0;
        if (HighWatermark != highWatermark)
        {
            mustRespond = true;
            if (update)
            {
                HighWatermark = highWatermark;
            }
        }

        if (LogStartOffset != logStartOffset)
        {
            mustRespond = true;
            if (update)
            {
                LogStartOffset = logStartOffset;
            }
        }

        if (errorCode != 0)
        {
            mustRespond = true;
            if (update)
            {
                HighWatermark = -1;
            }
        }

        return mustRespond;
    }
}

/// <summary>
/// An incremental fetch session: its id, the epoch the next request must carry, whether it names
/// topics by id (Fetch v13+), and its partitions in order (partitions sent in a response move to the
/// end, so every partition gets its turn when the response size limit cuts a response short).
/// Callers lock the session while they use it.
/// </summary>
public sealed class FetchSession(int id, bool usesTopicIds, long nowMs)
{
    private readonly Dictionary<FetchPartitionKey, CachedFetchPartition> _byKey = [];

    /// <summary>Guards the session's partitions and epoch while a fetch of the session reads or updates them.</summary>
    public Lock Lock { get; } = new();

    public int Id { get; } = id;

    /// <summary>The epoch the next incremental request must carry (1 after creation).</summary>
    public int Epoch { get; set; } = 1;

    public bool UsesTopicIds { get; } = usesTopicIds;

    public long CreatedMs { get; } = nowMs;

    public long LastUsedMs { get; set; } = nowMs;

    /// <summary>The partitions in fetch order.</summary>
    public List<CachedFetchPartition> Partitions { get; } = [];

    public int Size => Partitions.Count;

    public CachedFetchPartition? Find(FetchPartitionKey key) => _byKey.GetValueOrDefault(key);

    /// <summary>Adds the partition at the end, or updates its request parameters when already in the session.</summary>
    public void AddOrUpdate(FetchPartitionKey key, long fetchOffset, int maxBytes, int currentLeaderEpoch)
    {
        if (!_byKey.TryGetValue(key, out var partition))
        {
            partition = new CachedFetchPartition(key);
            _byKey.Add(key, partition);
            Partitions.Add(partition);
        }

        partition.UpdateRequest(fetchOffset, maxBytes, currentLeaderEpoch);
    }

    public void Remove(FetchPartitionKey key)
    {
        if (_byKey.Remove(key, out var partition))
        {
            Partitions.Remove(partition);
        }
    }

    /// <summary>Moves the partitions sent in a response to the end of the fetch order, keeping their relative order.</summary>
    public void MoveToEnd(List<CachedFetchPartition> sent)
    {
        if (sent.Count == 0 || sent.Count == Partitions.Count)
        {
            return;
        }

        if (!IsSubsequence(sent))
        {
            // The session changed while the fetch waited (a concurrent request updated it): move by set.
            var sentSet = new HashSet<CachedFetchPartition>(sent);
            Partitions.RemoveAll(sentSet.Contains);
            Partitions.AddRange(sent);
            return;
        }

        // Usual case, without allocating: the sent partitions were read in fetch order, so one pass keeps the others in place.
        var kept = 0;
        var next = 0;
        for (var i = 0; i < Partitions.Count; i++)
        {
            if (next < sent.Count && ReferenceEquals(Partitions[i], sent[next]))
            {
                next++;
            }
            else
            {
                Partitions[kept++] = Partitions[i];
            }
        }

        Partitions.RemoveRange(kept, Partitions.Count - kept);
        Partitions.AddRange(sent);
    }

    /// <summary>Whether <paramref name="sent"/> are session partitions in fetch order.</summary>
    private bool IsSubsequence(List<CachedFetchPartition> sent)
    {
        var next = 0;
        for (var i = 0; i < Partitions.Count && next < sent.Count; i++)
        {
            if (ReferenceEquals(Partitions[i], sent[next]))
            {
                next++;
            }
        }

        return next == sent.Count;
    }

    /// <summary>Kafka's FetchMetadata.nextEpoch: epochs wrap from int.MaxValue to 1.</summary>
    public static int NextEpoch(int epoch) => epoch < 0 ? epoch : epoch == int.MaxValue ? 1 : epoch + 1;
}
