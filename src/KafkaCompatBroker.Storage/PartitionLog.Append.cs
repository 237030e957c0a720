using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Storage;

// Appending: validation of the records, producer state (idempotence, transactions) and the last stable offset.
public sealed partial class PartitionLog
{
    // Kafka streams a batch's decompression; this broker decompresses whole, so a client's batch whose records
    // decompress beyond the cleaner's bound is refused (MESSAGE_TOO_LARGE) instead of being buffered.
    private const int MaxDecompressedBatchBytes = 64 * 1024 * 1024;
    private readonly byte[] _headerScratch = new byte[RecordBatchHeader.Size];
    private readonly List<ReadOnlyMemory<byte>> _gather = [];
    private readonly PooledBufferWriter _markerScratch = new();

    // ------------------------------------------------------------------ append

    /// <summary>
    /// Appends the record batches in <paramref name="records"/> (e.g. a Produce request's records,
    /// still in the network buffer). Every batch is validated before any is written; the batch bytes
    /// are written as they came except the header fields the log owns (base offset, leader epoch, and
    /// for LogAppendTime the timestamp), patched in a copy of the 61-byte header. When flush.messages asks
    /// for a flush, it runs before this returns (outside the lock, so other appends do not wait for it).
    /// </summary>
    public LogAppendResult Append(in ReadOnlySequence<byte> records, int leaderEpoch = -1, AppendOrigin origin = AppendOrigin.Client)
    {
        var result = AppendWithoutFlush(records, leaderEpoch, origin);
        if (result.FlushRequired)
        {
            FlushUpTo(result.LastOffset + 1, dataOnly: true);
        }

        return result;
    }

    /// <summary>
    /// <see cref="Append"/> without the flush: when the result says <see cref="LogAppendResult.FlushRequired"/>,
    /// the records are in the page cache only, and must not be acknowledged (or shown to consumers) before
    /// <see cref="WaitForFlushAsync"/> for their end completes.
    /// </summary>
    public LogAppendResult AppendWithoutFlush(in ReadOnlySequence<byte> records, int leaderEpoch = -1, AppendOrigin origin = AppendOrigin.Client)
    {
        // The checks read only the records (and max.message.bytes): CRCs and decompression run before the lock, so
        // appends to the partition do not queue behind them.
        var (batchCount, recordCount) = ValidateForAppend(records, origin, Config);
        if (origin == AppendOrigin.Client)
        {
            ValidateRecords(records);
        }

        var epochChanged = false;
        try
        {
            return AppendLocked(records, leaderEpoch, origin, batchCount, recordCount, ref epochChanged);
        }
        finally
        {
            if (epochChanged)
            {
                WriteLeaderEpochCheckpoint();
            }
        }
    }

    private LogAppendResult AppendLocked(in ReadOnlySequence<byte> records, int leaderEpoch, AppendOrigin origin, int batchCount, long recordCount, ref bool epochChanged)
    {
        lock (_lock)
        {
            ThrowIfClosed();
            var config = Config;
            if (AnalyzeProducerState(records, origin) is { } duplicate)
            {
                // A producer's retry of a batch already written: answer with the original offsets, write nothing;
                // but not before the original is on disk when a flush was asked for it (it may still be pending).
                var flushPending = duplicate.LastOffset < _flushRequestedUpTo && duplicate.LastOffset >= FlushedOffset;
                return new LogAppendResult(duplicate.FirstOffset, duplicate.LastOffset, duplicate.Timestamp, duplicate.LastOffset, duplicate.Timestamp, LogStartOffset, batchCount, recordCount, 0, Duplicate: true, FlushRequired: flushPending);
            }

            var now = NowMs;
            var first = -1L;
            var maxTimestamp = -1L;
            var offsetOfMaxTimestamp = -1L;
            var stampLogAppendTime = origin != AppendOrigin.Replication && config.MessageTimestampType == TimestampType.LogAppendTime;
            var next = LogEndOffset;
            var bytes = 0;
            foreach (var slice in RecordBatches.Enumerate(records))
            {
                var headerBytes = _headerScratch.AsSpan();
                slice.Bytes.Slice(0, RecordBatchHeader.Size).CopyTo(headerBytes);
                var rest = slice.Bytes.Slice(RecordBatchHeader.Size);
                if (origin != AppendOrigin.Replication)
                {
                    BinaryPrimitives.WriteInt64BigEndian(headerBytes, next);
                    BinaryPrimitives.WriteInt32BigEndian(headerBytes[12..], leaderEpoch);
                    if (stampLogAppendTime)
                    {
                        RecordBatch.SetMaxTimestamp(headerBytes, rest, TimestampType.LogAppendTime, now);
                    }
                }

                var header = RecordBatchHeader.Read(headerBytes);
                if (origin == AppendOrigin.Replication && header.BaseOffset < next)
                {
                    throw new LogAppendException(ErrorCode.UnknownServerError, $"replicated batch at offset {header.BaseOffset} is below the log end offset {next} of {TopicPartition}");
                }

                var active = MaybeRoll(header, now);
                active.Append(header, _headerScratch, rest, _gather);
                if (header.PartitionLeaderEpoch > _leaderEpochs.LatestEpoch)
                {
                    // A new leader's first batch (Kafka's UnifiedLog.append assigns it the same way).
                    epochChanged |= _leaderEpochs.Assign(header.PartitionLeaderEpoch, header.BaseOffset);
                }

                first = first < 0 ? header.BaseOffset : first;
                if (header.MaxTimestamp > maxTimestamp)
                {
                    (maxTimestamp, offsetOfMaxTimestamp) = (header.MaxTimestamp, header.LastOffset);
                }

                next = header.NextOffset;
                bytes += header.TotalSize;
            }

            CommitProducerStateLocked(next);

            // Kafka's "unflushed messages >= flush.messages": counted from the last flush asked for, not the last one
            // done, since with group commit the flush runs later (see GroupFlusher).
            var flushRequired = next - Math.Max(FlushedOffset, _flushRequestedUpTo) >= config.FlushMessages;
            if (flushRequired)
            {
                _flushRequestedUpTo = next;
            }

            return new LogAppendResult(first, next - 1, maxTimestamp, offsetOfMaxTimestamp, stampLogAppendTime ? now : -1, LogStartOffset, batchCount, recordCount, bytes, FlushRequired: flushRequired);
        }
    }

    /// <summary>
    /// Checks every producer batch of the record set against the producer state (epochs, sequences,
    /// transactions; Kafka's analyzeAndValidateProducerState) and stages the changes, before anything is
    /// written. Returns the original batch when a client's batch is a duplicate (a retry).
    /// </summary>
    private ProducerBatchMetadata? AnalyzeProducerState(in ReadOnlySequence<byte> records, AppendOrigin origin)
    {
        _producerState.BeginAppend();
        var next = LogEndOffset;
        var enumerator = RecordBatches.Enumerate(records);
        while (enumerator.MoveNext())
        {
            var slice = enumerator.Current;
            var header = slice.Header;
            var baseOffset = origin == AppendOrigin.Replication ? header.BaseOffset : next;
            next = baseOffset + header.LastOffsetDelta + 1;
            if (header.ProducerId < 0)
            {
                continue;
            }

            if (origin == AppendOrigin.Client && _producerState.FindDuplicate(header) is { } duplicate)
            {
                return duplicate;
            }

            EndTransactionMarker? marker = null;
            if (header.IsControl && header.RecordsCount > 0)
            {
                marker = ReadMarker(slice.Bytes, origin);
            }

            _producerState.Apply(header, baseOffset, origin, marker);
        }

        return null;
    }

    /// <summary>The end-transaction marker of a control batch (null for other control records).</summary>
    private EndTransactionMarker? ReadMarker(in ReadOnlySequence<byte> batch, AppendOrigin origin)
    {
        var bytes = ArrayPool<byte>.Shared.Rent((int)batch.Length);
        try
        {
            batch.CopyTo(bytes);
            _markerScratch.Clear();
            foreach (var record in RecordBatch.ReadRecords(bytes.AsSpan(0, (int)batch.Length), _markerScratch, Config.MaxMessageBytes))
            {
                var type = ControlRecords.ReadType(record.Key);
                return type is ControlRecordType.Commit or ControlRecordType.Abort ? ControlRecords.ReadEndTransactionMarker(record) : null;
            }

            return null;
        }
        catch (RecordsException e) when (origin != AppendOrigin.Replication)
        {
            throw new LogAppendException(ErrorCode.InvalidRecord, $"invalid control batch: {e.Message}");
        }
        catch (RecordsException)
        {
            return null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>
    /// Makes the staged producer state real once the batches are written up to <paramref name="next"/>: an
    /// aborted transaction goes to the transaction index of the segment its marker is in, with the LSO of that moment.
    /// </summary>
    private void CommitProducerStateLocked(long next)
    {
        var completed = _producerState.CommitAppend(next);
        foreach (var txn in completed)
        {
            var lastStable = _producerState.LastStableOffsetAfter(txn);
            if (txn.IsAborted)
            {
                var segment = _segments[FloorSegment(_segments, txn.LastOffset)];
                if (!segment.TxnIndex.Contains(txn.ProducerId, txn.FirstOffset, txn.LastOffset))
                {
                    segment.TxnIndex.Append(new AbortedTxn(txn.ProducerId, txn.FirstOffset, txn.LastOffset, lastStable));
                }
            }

            _producerState.CompleteTxn(txn);
        }

        completed.Clear();
        _producerState.OnHighWatermarkUpdated(HighWatermark);
        RefreshLastStableOffsetLocked();
    }

    /// <summary>LSO = the first unstable offset (at least the log start) capped by the high watermark.</summary>
    private void RefreshLastStableOffsetLocked()
    {
        var highWatermark = HighWatermark;
        var firstUnstable = _producerState.FirstUnstableOffset;
        Volatile.Write(ref _lastStableOffset, firstUnstable < 0 ? highWatermark : Math.Min(Math.Max(firstUnstable, LogStartOffset), highWatermark));
    }

    /// <summary>Writes a producer-state snapshot at the log end when the state is exactly there (a roll, a clean close).</summary>
    private void TakeProducerSnapshotLocked()
    {
        if (_producerState.MapEndOffset == LogEndOffset)
        {
            ProducerSnapshots.Write(LogEndOffset, _producerState.SerializeSnapshot());
        }
    }

    private static (int Batches, long Records) ValidateForAppend(in ReadOnlySequence<byte> records, AppendOrigin origin, LogConfig config)
    {
        var mode = origin == AppendOrigin.Client ? RecordBatchValidation.Produce : RecordBatchValidation.Stored;
        var enumerator = RecordBatches.Enumerate(records);
        var batches = 0;
        var count = 0L;
        while (enumerator.MoveNext())
        {
            var slice = enumerator.Current;
            if (origin == AppendOrigin.Client && slice.Header.TotalSize > config.MaxMessageBytes)
            {
                throw new LogAppendException(ErrorCode.MessageTooLarge, $"record batch of {slice.Header.TotalSize} bytes exceeds max.message.bytes ({config.MaxMessageBytes})");
            }

            var error = slice.TryValidate(out var message, mode);
            if (error != RecordBatchError.None)
            {
                throw new LogAppendException((ErrorCode)error.ToKafkaErrorCode(), message ?? error.ToString());
            }

            batches++;
            count += slice.Header.LastOffsetDelta + 1L;
        }

        if (enumerator.Status != RecordBatchSequenceStatus.Complete)
        {
            throw new LogAppendException(ErrorCode.CorruptMessage, $"the record set ends in {(enumerator.Status == RecordBatchSequenceStatus.PartialBatch ? "a partial batch" : "an invalid batch length")}");
        }

        if (batches == 0)
        {
            throw new LogAppendException(ErrorCode.InvalidRecord, "the record set holds no batches");
        }

        return (batches, count);
    }

    /// <summary>
    /// Reads every record of a client's batches, decompressing them, as Kafka's LogValidator does: a batch whose
    /// CRC holds but whose compressed data or records are corrupt is refused, not stored for readers (ListOffsets
    /// by timestamp, the cleaner, consumers) to fail on. Uncompressed batches are read in place without allocating.
    /// </summary>
    private static void ValidateRecords(in ReadOnlySequence<byte> records)
    {
        PooledBufferWriter? scratch = null;
        try
        {
            foreach (var slice in RecordBatches.Enumerate(records))
            {
                var size = slice.Header.TotalSize;
                if (slice.Header.CompressionType == CompressionType.None && !slice.Bytes.IsSingleSegment)
                {
                    ValidateRecordsAcrossBuffers(slice.Header, slice.Bytes.Slice(RecordBatchHeader.Size, size - RecordBatchHeader.Size));
                    continue;
                }

                var copy = slice.Bytes.IsSingleSegment ? null : ArrayPool<byte>.Shared.Rent(size);
                try
                {
                    ReadOnlySpan<byte> batch;
                    if (copy is null)
                    {
                        batch = slice.Bytes.FirstSpan[..size];
                    }
                    else
                    {
                        slice.Bytes.Slice(0, size).CopyTo(copy);
                        batch = copy.AsSpan(0, size);
                    }

                    var reader = slice.Header.CompressionType == CompressionType.None
                        ? new RecordReader(slice.Header, batch[RecordBatchHeader.Size..])
                        : RecordBatch.ReadRecords(batch, scratch ??= new PooledBufferWriter(), MaxDecompressedBatchBytes);
                    while (reader.MoveNext())
                    {
                    }
                }
                finally
                {
                    if (copy is not null)
                    {
                        ArrayPool<byte>.Shared.Return(copy);
                    }
                }
            }
        }
        catch (RecordsException e)
        {
            throw new LogAppendException((ErrorCode)e.ErrorCode, $"invalid records in the batch: {e.Message}");
        }
        finally
        {
            scratch?.Dispose();
        }
    }

    /// <summary>
    /// The records of an uncompressed batch that spans receive buffers, checked one by one by <see cref="RecordReader"/>
    /// where they lie: a record that straddles two buffers is copied, the batch is not (a 1 MB batch spans sixteen).
    /// </summary>
    private static void ValidateRecordsAcrossBuffers(in RecordBatchHeader header, ReadOnlySequence<byte> records)
    {
        if (header.RecordsCount < 0)
        {
            throw new RecordsException(RecordBatchError.InvalidRecordCount, $"invalid recordsCount {header.RecordsCount}");
        }

        var reader = new SequenceReader<byte>(records);
        Span<byte> prefix = stackalloc byte[VarInt.MaxVarIntBytes];
        byte[]? straddling = null;
        try
        {
            for (var i = 0; i < header.RecordsCount; i++)
            {
                var peek = prefix[..(int)Math.Min(prefix.Length, reader.Remaining)];
                if (peek.IsEmpty)
                {
                    throw new RecordsException(RecordBatchError.InvalidRecord, $"the batch ends after {i} of its {header.RecordsCount} records");
                }

                reader.TryCopyTo(peek);
                var prefixLength = 0;
                var length = VarInt.ReadVarInt(peek, ref prefixLength);
                if (length < 0 || length > reader.Remaining - prefixLength)
                {
                    throw new RecordsException(RecordBatchError.InvalidRecord, $"record length {length} does not fit the {reader.Remaining - prefixLength} remaining bytes");
                }

                var size = prefixLength + length;
                ReadOnlySpan<byte> record;
                if (reader.UnreadSpan.Length >= size)
                {
                    record = reader.UnreadSpan[..size];
                }
                else
                {
                    if (straddling is null || straddling.Length < size)
                    {
                        if (straddling is not null)
                        {
                            ArrayPool<byte>.Shared.Return(straddling);
                        }

                        straddling = ArrayPool<byte>.Shared.Rent(size);
                    }

                    reader.Sequence.Slice(reader.Position, size).CopyTo(straddling);
                    record = straddling.AsSpan(0, size);
                }

                var one = new RecordReader(record, 1, header.BaseOffset, header.BaseTimestamp);
                while (one.MoveNext())
                {
                }

                reader.Advance(size);
            }

            if (reader.Remaining != 0)
            {
                throw new RecordsException(RecordBatchError.InvalidRecord, $"{reader.Remaining} bytes remain after the declared records");
            }
        }
        finally
        {
            if (straddling is not null)
            {
                ArrayPool<byte>.Shared.Return(straddling);
            }
        }
    }
}
