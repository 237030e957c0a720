using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Storage;

/// <summary>An aborted transaction: its producer, its first offset and the offset of its ABORT marker (Kafka's AbortedTxn).</summary>
internal readonly record struct CleanerAbortedTxn(long ProducerId, long FirstOffset, long LastOffset);

/// <summary>What compaction keeps of a producer: the last offset of its last data batch (-1 when a marker with a newer epoch followed), its epoch and newest timestamp.</summary>
internal record struct CleanerProducerLast(long LastDataOffset, short Epoch, long LastTimestamp);

/// <summary>
/// The transaction and producer facts compaction needs, derived by scanning the batch headers of the
/// whole log (control batches are read for their marker type). Until the log has a transaction index
/// and producer state of its own, this stands in for Kafka's .txnindex (aborted transactions), its last
/// stable offset (the first offset of a transaction without a marker) and the active producers' last batches.
/// </summary>
internal sealed class CleanerLogScan
{
    private readonly Dictionary<long, long> _open = [];

    private CleanerLogScan()
    {
    }

    /// <summary>Aborted transactions in order of their first offset.</summary>
    public List<CleanerAbortedTxn> Aborted { get; } = [];

    /// <summary>The producers seen in the log, by producer id.</summary>
    public Dictionary<long, CleanerProducerLast> Producers { get; } = [];

    /// <summary>The first offset of the oldest transaction that has no marker yet (Kafka's first unstable offset), or null.</summary>
    public long? FirstUnstableOffset { get; private set; }

    /// <summary>Whether the producer has a transaction without a marker yet.</summary>
    public bool HasOpenTransaction(long producerId) => _open.ContainsKey(producerId);

    public static CleanerLogScan Run(IReadOnlyList<LogSegment> segments, CleanerBatchReader reader, PooledBufferWriter scratch, int maxBatchBytes, CancellationToken cancellationToken)
    {
        var scan = new CleanerLogScan();
        foreach (var segment in segments)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var size = segment.Size;
            var position = 0L;
            while (position < size && segment.TryReadHeader(position, out var header))
            {
                if (header.IsControl && header.RecordsCount > 0)
                {
                    reader.Reset(segment, position);
                    reader.TryRead(out _, out _, out var batch);
                    scan.OnControlBatch(header, LogCleaner.ReadControlType(batch, scratch, maxBatchBytes));
                }
                else if (header.IsControl)
                {
                    scan.OnControlBatch(header, null);
                }
                else
                {
                    scan.OnDataBatch(header);
                }

                position += header.TotalSize;
            }
        }

        scan.Aborted.Sort((a, b) => a.FirstOffset.CompareTo(b.FirstOffset));
        scan.FirstUnstableOffset = scan._open.Count == 0 ? null : scan._open.Values.Min();
        return scan;
    }

    private void OnDataBatch(in RecordBatchHeader header)
    {
        if (header.ProducerId < 0)
        {
            return;
        }

        var last = Producers.TryGetValue(header.ProducerId, out var known) ? known : new CleanerProducerLast(-1, header.ProducerEpoch, -1);
        Producers[header.ProducerId] = new CleanerProducerLast(header.LastOffset, header.ProducerEpoch, Math.Max(last.LastTimestamp, header.MaxTimestamp));

        // An empty batch (emptied by an earlier cleaning) holds no data a transaction could still expose.
        if (header.IsTransactional && header.RecordsCount > 0)
        {
            _open.TryAdd(header.ProducerId, header.BaseOffset);
        }
    }

    private void OnControlBatch(in RecordBatchHeader header, ControlRecordType? type)
    {
        if (header.ProducerId < 0)
        {
            return;
        }

        if (Producers.TryGetValue(header.ProducerId, out var last))
        {
            // A marker with a newer epoch (a fenced or bumped producer) drops the producer's batch metadata, as Kafka's producer state does.
            Producers[header.ProducerId] = header.ProducerEpoch > last.Epoch
                ? new CleanerProducerLast(-1, header.ProducerEpoch, Math.Max(last.LastTimestamp, header.MaxTimestamp))
                : last with { LastTimestamp = Math.Max(last.LastTimestamp, header.MaxTimestamp) };
        }
        else
        {
            Producers[header.ProducerId] = new CleanerProducerLast(-1, header.ProducerEpoch, header.MaxTimestamp);
        }

        if ((type is ControlRecordType.Commit or ControlRecordType.Abort or null) && _open.Remove(header.ProducerId, out var first) && type == ControlRecordType.Abort)
        {
            Aborted.Add(new CleanerAbortedTxn(header.ProducerId, first, header.LastOffset));
        }
    }
}

/// <summary>
/// Tracks transactions while compaction walks the log in offset order (Kafka's CleanedTransactionMetadata):
/// which data batches belong to aborted transactions, and when a COMMIT or ABORT marker no longer has
/// data of its transaction before it and so may go (once its own delete horizon has passed).
/// </summary>
internal sealed class CleanerTransactionTracker
{
    private readonly List<CleanerAbortedTxn> _aborted;
    private readonly long _fromOffset;
    private readonly Dictionary<long, long> _ongoingAborted = [];
    private readonly HashSet<long> _ongoingCommitted = [];
    private int _next;

    /// <param name="aborted">Aborted transactions sorted by first offset.</param>
    /// <param name="fromOffset">Where the walk starts: transactions whose marker lies before it are over.</param>
    public CleanerTransactionTracker(List<CleanerAbortedTxn> aborted, long fromOffset)
    {
        _aborted = aborted;
        _fromOffset = fromOffset;
    }

    /// <summary>A data batch: true when it belongs to an aborted transaction (its records are to be removed).</summary>
    public bool OnBatchRead(in RecordBatchHeader header)
    {
        ConsumeAbortedUpTo(header.LastOffset);
        if (!header.IsTransactional)
        {
            return false;
        }

        if (_ongoingAborted.ContainsKey(header.ProducerId))
        {
            _ongoingAborted[header.ProducerId] = header.LastOffset;
            return true;
        }

        _ongoingCommitted.Add(header.ProducerId);
        return false;
    }

    /// <summary>
    /// A control batch (<paramref name="type"/> null when it is empty): true when it may be discarded because
    /// no batch of its transaction was seen before it.
    /// </summary>
    public bool OnControlBatchRead(in RecordBatchHeader header, ControlRecordType? type)
    {
        ConsumeAbortedUpTo(header.LastOffset);
        switch (type)
        {
            case null:
                return true; // emptied by an earlier cleaning
            case ControlRecordType.Abort:
                // Keep the marker while batches of the aborted transaction were still seen.
                return !(_ongoingAborted.Remove(header.ProducerId, out var lastObserved) && lastObserved >= 0);
            case ControlRecordType.Commit:
                return !_ongoingCommitted.Remove(header.ProducerId);
            default:
                return false;
        }
    }

    private void ConsumeAbortedUpTo(long offset)
    {
        while (_next < _aborted.Count && _aborted[_next].FirstOffset <= offset)
        {
            var txn = _aborted[_next++];
            if (txn.LastOffset >= _fromOffset)
            {
                _ongoingAborted.TryAdd(txn.ProducerId, -1);
            }
        }
    }
}
