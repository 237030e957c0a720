namespace KafkaCompatBroker.Storage;

/// <summary>One appended batch of a producer, as duplicate detection needs it (Kafka's BatchMetadata).</summary>
public readonly record struct ProducerBatchMetadata(int LastSequence, long LastOffset, int OffsetDelta, long Timestamp)
{
    public int FirstSequence => ProducerStateEntry.DecrementSequence(LastSequence, OffsetDelta);

    public long FirstOffset => LastOffset - OffsetDelta;
}

/// <summary>
/// What a partition knows of one producer (Kafka's ProducerStateEntry): its epoch, the metadata of its
/// last <see cref="BatchesToRetain"/> batches (a producer has at most 5 requests in flight, so a retry is
/// one of them), the coordinator epoch of its last marker, the first offset of its open transaction
/// (-1: none) and the timestamp of its last batch or marker. Mutated only under the partition log's lock.
/// </summary>
public sealed class ProducerStateEntry
{
    public const int BatchesToRetain = 5;

    private readonly ProducerBatchMetadata[] _batches = new ProducerBatchMetadata[BatchesToRetain];
    private int _head;
    private int _count;

    public ProducerStateEntry(long producerId)
    {
        ProducerId = producerId;
    }

    public long ProducerId { get; private set; }

    /// <summary>The producer's epoch; -1 (Kafka's NO_PRODUCER_EPOCH) for a producer not seen yet.</summary>
    public short ProducerEpoch { get; internal set; } = -1;

    public int CoordinatorEpoch { get; internal set; } = -1;

    public long LastTimestamp { get; internal set; } = -1;

    /// <summary>The first offset of the producer's open transaction, or -1.</summary>
    public long CurrentTxnFirstOffset { get; internal set; } = -1;

    public int BatchCount => _count;

    public bool IsEmpty => _count == 0;

    /// <summary>The last sequence of the newest batch, or -1.</summary>
    public int LastSequence => _count == 0 ? -1 : Batch(_count - 1).LastSequence;

    /// <summary>The first sequence of the oldest retained batch, or -1.</summary>
    public int FirstSequence => _count == 0 ? -1 : Batch(0).FirstSequence;

    /// <summary>The last offset of the newest batch, or -1.</summary>
    public long LastDataOffset => _count == 0 ? -1 : Batch(_count - 1).LastOffset;

    /// <summary>The retained batch <paramref name="index"/> (0 = oldest).</summary>
    public ProducerBatchMetadata Batch(int index) => _batches[(_head + index) % BatchesToRetain];

    /// <summary>Kafka's sequence arithmetic: sequences wrap from int.MaxValue to 0.</summary>
    public static int IncrementSequence(int sequence, int increment) =>
        sequence > int.MaxValue - increment ? increment - (int.MaxValue - sequence) - 1 : sequence + increment;

    public static int DecrementSequence(int sequence, int decrement) =>
        sequence < decrement ? int.MaxValue - (decrement - sequence) + 1 : sequence - decrement;

    /// <summary>A new epoch starts with no batches (sequences restart).</summary>
    internal void MaybeUpdateEpoch(short epoch)
    {
        if (epoch != ProducerEpoch)
        {
            ProducerEpoch = epoch;
            _head = 0;
            _count = 0;
        }
    }

    internal void AddBatch(short epoch, int lastSequence, long lastOffset, int offsetDelta, long timestamp)
    {
        MaybeUpdateEpoch(epoch);
        AddBatchMetadata(new ProducerBatchMetadata(lastSequence, lastOffset, offsetDelta, timestamp));
        LastTimestamp = timestamp;
    }

    internal void AddBatchMetadata(ProducerBatchMetadata batch)
    {
        if (_count == BatchesToRetain)
        {
            _head = (_head + 1) % BatchesToRetain;
            _count--;
        }

        _batches[(_head + _count) % BatchesToRetain] = batch;
        _count++;
    }

    /// <summary>The retained batch with exactly this epoch and sequence range (a retry of it), or null.</summary>
    public ProducerBatchMetadata? FindDuplicate(short epoch, int firstSequence, int lastSequence)
    {
        if (epoch != ProducerEpoch)
        {
            return null;
        }

        for (var i = 0; i < _count; i++)
        {
            var batch = Batch(i);
            if (batch.LastSequence == lastSequence && batch.FirstSequence == firstSequence)
            {
                return batch;
            }
        }

        return null;
    }

    /// <summary>Makes this entry a copy of <paramref name="other"/> (no allocation).</summary>
    internal void CopyFrom(ProducerStateEntry other)
    {
        ProducerId = other.ProducerId;
        ProducerEpoch = other.ProducerEpoch;
        CoordinatorEpoch = other.CoordinatorEpoch;
        LastTimestamp = other.LastTimestamp;
        CurrentTxnFirstOffset = other.CurrentTxnFirstOffset;
        Array.Copy(other._batches, _batches, BatchesToRetain);
        _head = other._head;
        _count = other._count;
    }

    /// <summary>Resets to a producer not seen yet.</summary>
    internal void Reset(long producerId)
    {
        ProducerId = producerId;
        ProducerEpoch = -1;
        CoordinatorEpoch = -1;
        LastTimestamp = -1;
        CurrentTxnFirstOffset = -1;
        _head = 0;
        _count = 0;
    }

    public override string ToString() =>
        $"ProducerStateEntry(producerId={ProducerId}, producerEpoch={ProducerEpoch}, currentTxnFirstOffset={CurrentTxnFirstOffset}, coordinatorEpoch={CoordinatorEpoch}, lastTimestamp={LastTimestamp}, batches={_count})";
}
