using System.Buffers.Binary;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Storage;

/// <summary>A transaction that a COMMIT or ABORT marker ended: its producer, first data offset and marker offset.</summary>
public readonly record struct CompletedTxn(long ProducerId, long FirstOffset, long LastOffset, bool IsAborted);

/// <summary>
/// The producer state of one partition (Kafka's ProducerStateManager + ProducerAppendInfo): the known
/// producers, the open transactions (by first offset, for the first unstable offset) and the completed
/// ones not yet below the high watermark. An append is checked in two steps, both under the log's lock:
/// <see cref="BeginAppend"/> + <see cref="Apply"/> per batch check and stage the changes (in reused scratch
/// entries, so nothing is allocated for known producers), and <see cref="CommitAppend"/> makes them real
/// once the batches are written. A refused batch throws <see cref="LogAppendException"/> and changes nothing.
/// </summary>
public sealed class ProducerStateManager(TopicPartition topicPartition)
{
    private const short SnapshotVersion = 1;
    private const int SnapshotHeaderSize = 2 + 4 + 8 + 4;
    private const int SnapshotEntrySize = 8 + 2 + 4 + 8 + 8 + 1;
    private const int SnapshotBatchSize = 4 + 8 + 4 + 8;

    private readonly Dictionary<long, ProducerStateEntry> _producers = [];
    private readonly SortedDictionary<long, long> _ongoing = [];
    private readonly SortedDictionary<long, CompletedTxn> _unreplicated = [];

    // Scratch of the append in progress.
    private readonly Dictionary<long, Pending> _pending = [];
    private readonly List<Pending> _pool = [];
    private readonly List<(long ProducerId, long FirstOffset)> _started = [];
    private readonly List<CompletedTxn> _completed = [];
    private int _poolUsed;

    public TopicPartition TopicPartition { get; } = topicPartition;

    /// <summary>The offset after the last batch applied (where a snapshot of this state is taken).</summary>
    public long MapEndOffset { get; internal set; }

    public int ProducerCount => _producers.Count;

    /// <summary>The first offset of the oldest transaction without a marker, or of a completed one not yet below the high watermark; -1 when none.</summary>
    public long FirstUnstableOffset
    {
        get
        {
            var first = -1L;
            foreach (var offset in _ongoing.Keys)
            {
                first = offset;
                break;
            }

            foreach (var offset in _unreplicated.Keys)
            {
                first = first < 0 ? offset : Math.Min(first, offset);
                break;
            }

            return first;
        }
    }

    /// <summary>The entry of a producer, or null.</summary>
    public ProducerStateEntry? Get(long producerId) => _producers.GetValueOrDefault(producerId);

    /// <summary>Copies of the active producers' state (for DescribeProducers).</summary>
    public List<ProducerStateEntry> ActiveProducers()
    {
        var list = new List<ProducerStateEntry>(_producers.Count);
        foreach (var entry in _producers.Values)
        {
            var copy = new ProducerStateEntry(entry.ProducerId);
            copy.CopyFrom(entry);
            list.Add(copy);
        }

        return list;
    }

    // ------------------------------------------------------------------ append

    internal void BeginAppend()
    {
        _pending.Clear();
        _poolUsed = 0;
        _started.Clear();
        _completed.Clear();
    }

    /// <summary>A retained batch of the producer (committed state) with the same epoch and sequence range as <paramref name="header"/>.</summary>
    internal ProducerBatchMetadata? FindDuplicate(in RecordBatchHeader header) =>
        _producers.TryGetValue(header.ProducerId, out var entry)
            ? entry.FindDuplicate(header.ProducerEpoch, header.BaseSequence, LastSequence(header))
            : null;

    /// <summary>
    /// Checks one batch of a producer (producer id ≥ 0) whose base offset is <paramref name="baseOffset"/>
    /// and stages its effect; <paramref name="marker"/> is the end-transaction marker of a control batch
    /// (null for data, and for an empty control batch, which compaction left and which changes nothing).
    /// </summary>
    internal void Apply(in RecordBatchHeader header, long baseOffset, AppendOrigin origin, EndTransactionMarker? marker)
    {
        if (header.IsControl && marker is null)
        {
            return;
        }

        var pending = PendingFor(header.ProducerId);
        var entry = pending.Entry;
        var lastOffset = baseOffset + header.LastOffsetDelta;
        if (marker is { } m)
        {
            CheckProducerEpoch(entry, header.ProducerEpoch, baseOffset, origin);
            if (entry.CoordinatorEpoch > m.CoordinatorEpoch && origin != AppendOrigin.Replication)
            {
                throw new LogAppendException(
                    ErrorCode.TransactionCoordinatorFenced,
                    $"Invalid coordinator epoch for producerId {header.ProducerId} at offset {baseOffset} in partition {TopicPartition}: {m.CoordinatorEpoch} (zombie), {entry.CoordinatorEpoch} (current)");
            }

            // A marker without data of its transaction changes neither the LSO nor the transaction index.
            if (entry.CurrentTxnFirstOffset >= 0)
            {
                _completed.Add(new CompletedTxn(header.ProducerId, entry.CurrentTxnFirstOffset, baseOffset, m.Type == ControlRecordType.Abort));
            }

            entry.MaybeUpdateEpoch(header.ProducerEpoch);
            entry.CurrentTxnFirstOffset = -1;
            entry.CoordinatorEpoch = m.CoordinatorEpoch;
            entry.LastTimestamp = header.MaxTimestamp;
            return;
        }

        CheckProducerEpoch(entry, header.ProducerEpoch, baseOffset, origin);
        if (origin == AppendOrigin.Client)
        {
            CheckSequence(pending, header.ProducerEpoch, header.BaseSequence, baseOffset);
        }

        entry.AddBatch(header.ProducerEpoch, LastSequence(header), lastOffset, header.LastOffsetDelta, header.MaxTimestamp);
        if (entry.CurrentTxnFirstOffset >= 0 && !header.IsTransactional)
        {
            throw new LogAppendException(ErrorCode.InvalidTxnState, $"Expected transactional write from producer {header.ProducerId} at offset {baseOffset} in partition {TopicPartition}");
        }

        if (entry.CurrentTxnFirstOffset < 0 && header.IsTransactional)
        {
            entry.CurrentTxnFirstOffset = baseOffset;
            _started.Add((header.ProducerId, baseOffset));
        }
    }

    private void CheckProducerEpoch(ProducerStateEntry entry, short epoch, long offset, AppendOrigin origin)
    {
        // Markers are checked as Kafka's legacy transaction versions do (epoch ≥ current): a bumped epoch (transactions V2, fencing) is accepted.
        if (epoch < entry.ProducerEpoch && origin != AppendOrigin.Replication)
        {
            throw new LogAppendException(
                ErrorCode.InvalidProducerEpoch,
                $"Epoch of producer {entry.ProducerId} at offset {offset} in {TopicPartition} is {epoch}, which is smaller than the last seen epoch {entry.ProducerEpoch}");
        }
    }

    private void CheckSequence(Pending pending, short epoch, int firstSequence, long offset)
    {
        var entry = pending.Entry;
        if (epoch != entry.ProducerEpoch)
        {
            if (firstSequence != 0 && entry.ProducerEpoch != -1)
            {
                throw new LogAppendException(
                    ErrorCode.OutOfOrderSequenceNumber,
                    $"Invalid sequence number for new epoch of producer {entry.ProducerId} at offset {offset} in partition {TopicPartition}: {epoch} (request epoch), {firstSequence} (seq. number), {entry.ProducerEpoch} (current producer epoch)");
            }

            return;
        }

        // A producer whose state is gone (expired, or its records deleted) may continue with any sequence, as in Kafka.
        var lastSequence = entry.LastSequence;
        if (pending.OriginalEpoch != -1 && !InSequence(lastSequence, firstSequence))
        {
            throw new LogAppendException(
                ErrorCode.OutOfOrderSequenceNumber,
                $"Out of order sequence number for producer {entry.ProducerId} at offset {offset} in partition {TopicPartition}: {firstSequence} (incoming seq. number), {lastSequence} (current end sequence number)");
        }
    }

    private static bool InSequence(int lastSequence, int nextSequence) =>
        nextSequence == lastSequence + 1L || (nextSequence == 0 && lastSequence == int.MaxValue);

    private static int LastSequence(in RecordBatchHeader header) =>
        header.BaseSequence < 0 ? -1 : ProducerStateEntry.IncrementSequence(header.BaseSequence, header.LastOffsetDelta);

    private Pending PendingFor(long producerId)
    {
        if (_pending.TryGetValue(producerId, out var pending))
        {
            return pending;
        }

        if (_poolUsed == _pool.Count)
        {
            _pool.Add(new Pending());
        }

        pending = _pool[_poolUsed++];
        if (_producers.TryGetValue(producerId, out var current))
        {
            pending.Entry.CopyFrom(current);
        }
        else
        {
            pending.Entry.Reset(producerId);
        }

        pending.OriginalEpoch = pending.Entry.ProducerEpoch;
        _pending[producerId] = pending;
        return pending;
    }

    /// <summary>
    /// Makes the staged changes real (the batches are in the log up to <paramref name="nextOffset"/>) and
    /// returns the transactions the markers completed, in marker order. For each, the caller writes the
    /// index entry with <see cref="LastStableOffsetAfter"/> and then calls <see cref="CompleteTxn"/>.
    /// </summary>
    internal List<CompletedTxn> CommitAppend(long nextOffset)
    {
        for (var i = 0; i < _poolUsed; i++)
        {
            var staged = _pool[i].Entry;
            if (_producers.TryGetValue(staged.ProducerId, out var current))
            {
                current.CopyFrom(staged);
            }
            else
            {
                // A new producer: the staged entry becomes its state; the pool gets a fresh scratch.
                _producers[staged.ProducerId] = staged;
                _pool[i] = new Pending();
            }
        }

        foreach (var (producerId, firstOffset) in _started)
        {
            _ongoing[firstOffset] = producerId;
        }

        _started.Clear();

        MapEndOffset = Math.Max(MapEndOffset, nextOffset);
        _pending.Clear();
        _poolUsed = 0;
        return _completed;
    }

    /// <summary>The LSO to record with a completed transaction: the first offset of another producer's open transaction, or the marker's next offset (Kafka's lastStableOffset(completedTxn)).</summary>
    internal long LastStableOffsetAfter(in CompletedTxn txn)
    {
        foreach (var (firstOffset, producerId) in _ongoing)
        {
            if (producerId != txn.ProducerId)
            {
                return firstOffset;
            }
        }

        return txn.LastOffset + 1;
    }

    /// <summary>The transaction is decided: it leaves the open set and waits for the high watermark to pass its marker.</summary>
    internal void CompleteTxn(in CompletedTxn txn)
    {
        if (_ongoing.Remove(txn.FirstOffset))
        {
            _unreplicated[txn.FirstOffset] = txn;
        }
    }

    /// <summary>Completed transactions whose marker is below the high watermark no longer hold the LSO back.</summary>
    internal void OnHighWatermarkUpdated(long highWatermark)
    {
        while (_unreplicated.Count > 0)
        {
            var first = FirstOf(_unreplicated);
            if (first.Value.LastOffset >= highWatermark)
            {
                break;
            }

            _unreplicated.Remove(first.Key);
        }
    }

    private static KeyValuePair<long, CompletedTxn> FirstOf(SortedDictionary<long, CompletedTxn> map)
    {
        foreach (var pair in map)
        {
            return pair;
        }

        throw new InvalidOperationException("empty");
    }

    // ------------------------------------------------------------------ expiry, truncation

    /// <summary>Removes producers idle for <paramref name="expirationMs"/> without an open transaction (producer.id.expiration.ms); returns how many.</summary>
    internal int RemoveExpired(long nowMs, long expirationMs)
    {
        List<long>? expired = null;
        foreach (var entry in _producers.Values)
        {
            if (entry.CurrentTxnFirstOffset < 0 && nowMs - entry.LastTimestamp >= expirationMs)
            {
                (expired ??= []).Add(entry.ProducerId);
            }
        }

        if (expired is null)
        {
            return 0;
        }

        foreach (var producerId in expired)
        {
            _producers.Remove(producerId);
        }

        return expired.Count;
    }

    /// <summary>Forgets everything (before a reload from a snapshot and the log).</summary>
    internal void Clear(long mapEndOffset)
    {
        _producers.Clear();
        _ongoing.Clear();
        _unreplicated.Clear();
        MapEndOffset = mapEndOffset;
    }

    // ------------------------------------------------------------------ snapshots

    /// <summary>
    /// The state as a snapshot: version (int16), CRC32C of the rest (uint32), map end offset (int64),
    /// producer count (int32), then per producer its id, epoch, coordinator epoch, last timestamp, open
    /// transaction's first offset, batch count (int8) and batches (last sequence, last offset, offset delta, timestamp).
    /// </summary>
    public byte[] SerializeSnapshot()
    {
        var size = SnapshotHeaderSize;
        foreach (var entry in _producers.Values)
        {
            size += SnapshotEntrySize + (entry.BatchCount * SnapshotBatchSize);
        }

        var bytes = new byte[size];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt16BigEndian(span, SnapshotVersion);
        BinaryPrimitives.WriteInt64BigEndian(span[6..], MapEndOffset);
        BinaryPrimitives.WriteInt32BigEndian(span[14..], _producers.Count);
        var position = SnapshotHeaderSize;
        foreach (var entry in _producers.Values)
        {
            var e = span[position..];
            BinaryPrimitives.WriteInt64BigEndian(e, entry.ProducerId);
            BinaryPrimitives.WriteInt16BigEndian(e[8..], entry.ProducerEpoch);
            BinaryPrimitives.WriteInt32BigEndian(e[10..], entry.CoordinatorEpoch);
            BinaryPrimitives.WriteInt64BigEndian(e[14..], entry.LastTimestamp);
            BinaryPrimitives.WriteInt64BigEndian(e[22..], entry.CurrentTxnFirstOffset);
            e[30] = (byte)entry.BatchCount;
            position += SnapshotEntrySize;
            for (var i = 0; i < entry.BatchCount; i++)
            {
                var batch = entry.Batch(i);
                var b = span[position..];
                BinaryPrimitives.WriteInt32BigEndian(b, batch.LastSequence);
                BinaryPrimitives.WriteInt64BigEndian(b[4..], batch.LastOffset);
                BinaryPrimitives.WriteInt32BigEndian(b[12..], batch.OffsetDelta);
                BinaryPrimitives.WriteInt64BigEndian(b[16..], batch.Timestamp);
                position += SnapshotBatchSize;
            }
        }

        BinaryPrimitives.WriteUInt32BigEndian(span[2..], Crc32C.Compute(span[6..]));
        return bytes;
    }

    /// <summary>Replaces the state with a snapshot's; false (state cleared) when the snapshot is corrupt or of an unknown version.</summary>
    public bool LoadSnapshot(ReadOnlySpan<byte> bytes)
    {
        Clear(0);
        if (bytes.Length < SnapshotHeaderSize || BinaryPrimitives.ReadInt16BigEndian(bytes) != SnapshotVersion
            || BinaryPrimitives.ReadUInt32BigEndian(bytes[2..]) != Crc32C.Compute(bytes[6..]))
        {
            return false;
        }

        var count = BinaryPrimitives.ReadInt32BigEndian(bytes[14..]);
        var position = SnapshotHeaderSize;
        for (var n = 0; n < count; n++)
        {
            if (position + SnapshotEntrySize > bytes.Length)
            {
                Clear(0);
                return false;
            }

            var e = bytes[position..];
            var entry = new ProducerStateEntry(BinaryPrimitives.ReadInt64BigEndian(e))
            {
                ProducerEpoch = BinaryPrimitives.ReadInt16BigEndian(e[8..]),
                CoordinatorEpoch = BinaryPrimitives.ReadInt32BigEndian(e[10..]),
                LastTimestamp = BinaryPrimitives.ReadInt64BigEndian(e[14..]),
                CurrentTxnFirstOffset = BinaryPrimitives.ReadInt64BigEndian(e[22..]),
            };
            int batches = e[30];
            position += SnapshotEntrySize;
            if (batches > ProducerStateEntry.BatchesToRetain || position + (batches * SnapshotBatchSize) > bytes.Length)
            {
                Clear(0);
                return false;
            }

            for (var i = 0; i < batches; i++)
            {
                var b = bytes[position..];
                entry.AddBatchMetadata(new ProducerBatchMetadata(
                    BinaryPrimitives.ReadInt32BigEndian(b),
                    BinaryPrimitives.ReadInt64BigEndian(b[4..]),
                    BinaryPrimitives.ReadInt32BigEndian(b[12..]),
                    BinaryPrimitives.ReadInt64BigEndian(b[16..])));
                position += SnapshotBatchSize;
            }

            _producers[entry.ProducerId] = entry;
            if (entry.CurrentTxnFirstOffset >= 0)
            {
                _ongoing[entry.CurrentTxnFirstOffset] = entry.ProducerId;
            }
        }

        MapEndOffset = BinaryPrimitives.ReadInt64BigEndian(bytes[6..]);
        return true;
    }

    private sealed class Pending
    {
        public ProducerStateEntry Entry { get; } = new(-1);

        public short OriginalEpoch { get; set; }
    }
}
