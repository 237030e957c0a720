using System.Buffers;
using System.Globalization;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// One segment of a partition log: "&lt;base offset, 20 digits&gt;.log" holding record batches exactly as
/// appended, with its sparse ".index" (offset → position) and ".timeindex" (timestamp → offset).
/// Appends come from one writer at a time (the partition's lock); reads run concurrently and only
/// ever look at bytes below <see cref="Size"/>, which is published after the bytes are written.
/// </summary>
internal sealed class LogSegment : IDisposable
{
    public const string LogSuffix = ".log";
    public const string IndexSuffix = ".index";
    public const string TimeIndexSuffix = ".timeindex";
    public const string TxnIndexSuffix = ".txnindex";

    private readonly SafeFileHandle _log;
    private readonly int _indexIntervalBytes;
    private long _size;
    private long _nextOffset;
    private int _bytesSinceLastIndexEntry;
    private long _maxTimestampSoFar = -1;
    private long _offsetOfMaxTimestampSoFar;

    private LogSegment(string directory, long baseOffset, LogConfig config, string suffix, long createdMs)
    {
        Directory = directory;
        BaseOffset = baseOffset;
        _indexIntervalBytes = config.IndexIntervalBytes;
        LogPath = FilePath(directory, baseOffset, LogSuffix + suffix);
        // Asynchronous: the socket writer can only sendfile from a handle marked so (SocketResponseWriter).
        _log = File.OpenHandle(LogPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        Index = new OffsetIndex(FilePath(directory, baseOffset, IndexSuffix + suffix), baseOffset, config.SegmentIndexBytes);
        TimeIndex = new TimeIndex(FilePath(directory, baseOffset, TimeIndexSuffix + suffix), baseOffset, config.SegmentIndexBytes);
        TxnIndex = new TransactionIndex(FilePath(directory, baseOffset, TxnIndexSuffix + suffix));
        _size = RandomAccess.GetLength(_log);
        _nextOffset = baseOffset;
        ProducerFreeUntil = baseOffset;
        CreatedMs = createdMs;
    }

    public string Directory { get; }

    public long BaseOffset { get; }

    public string LogPath { get; private set; }

    public OffsetIndex Index { get; }

    public TimeIndex TimeIndex { get; }

    /// <summary>The aborted transactions whose ABORT marker is in this segment.</summary>
    public TransactionIndex TxnIndex { get; }

    public SafeFileHandle Handle => _log;

    /// <summary>Bytes of complete batches in the file; readers never look past it.</summary>
    public long Size => Volatile.Read(ref _size);

    /// <summary>The offset after the last batch in this segment (the base offset when empty).</summary>
    public long NextOffset => Volatile.Read(ref _nextOffset);

    /// <summary>The largest batch max-timestamp in the segment, or -1 when it has none.</summary>
    public long LargestTimestamp => Volatile.Read(ref _maxTimestampSoFar);

    /// <summary>What retention.ms compares: the largest timestamp, or the file's modification time when no batch has one (as Kafka does).</summary>
    public long LargestTimestampOrModified =>
        LargestTimestamp >= 0 ? LargestTimestamp : new DateTimeOffset(File.GetLastWriteTimeUtc(LogPath)).ToUnixTimeMilliseconds();

    /// <summary>The offset of the batch holding <see cref="LargestTimestamp"/> (its last offset, as Kafka records it).</summary>
    public long OffsetOfLargestTimestamp => Volatile.Read(ref _offsetOfMaxTimestampSoFar);

    /// <summary>When the segment was created (wall clock, ms); with the first batch's timestamp it decides segment.ms rolls.</summary>
    public long CreatedMs { get; }

    /// <summary>The max timestamp of the first batch, or -1: segment.ms counts from it (as Kafka does) when it is known.</summary>
    public long FirstBatchTimestamp { get; private set; } = -1;

    public bool IsEmpty => Size == 0;

    /// <summary>
    /// No batch below this offset carries a producer id (nor is a control batch): what <see cref="Recover"/> found
    /// when it read the whole segment, so replaying producer state can skip [<see cref="BaseOffset"/>, this).
    /// The base offset (nothing known) for a segment that was not recovered.
    /// </summary>
    public long ProducerFreeUntil { get; private set; }

    /// <summary>How much of the file <see cref="Recover"/> reads at a time.</summary>
    internal const int RecoveryChunkBytes = 1 << 20;

    public static string FilePath(string directory, long baseOffset, string suffix) =>
        Path.Combine(directory, baseOffset.ToString("D20", CultureInfo.InvariantCulture) + suffix);

    public static LogSegment Create(string directory, long baseOffset, LogConfig config, long nowMs, string suffix = "")
    {
        foreach (var s in new[] { LogSuffix, IndexSuffix, TimeIndexSuffix, TxnIndexSuffix })
        {
            File.Delete(FilePath(directory, baseOffset, s + suffix));
        }

        return new LogSegment(directory, baseOffset, config, suffix, nowMs);
    }

    /// <summary>
    /// Opens an existing segment. With <paramref name="trustContents"/> (a clean shutdown) the indexes
    /// are loaded and only rebuilt if they fail their sanity checks; otherwise every batch is validated
    /// and a torn or corrupt tail is cut off (see <see cref="Recover"/>).
    /// </summary>
    public static LogSegment Open(string directory, long baseOffset, LogConfig config, bool trustContents, ILogger logger, out RecoveryResult recovery, string suffix = "")
    {
        var createdMs = new DateTimeOffset(File.GetLastWriteTimeUtc(FilePath(directory, baseOffset, LogSuffix + suffix))).ToUnixTimeMilliseconds();
        var segment = new LogSegment(directory, baseOffset, config, suffix, createdMs);
        recovery = default;
        if (trustContents && segment.TryLoadIndexes())
        {
            return segment;
        }

        if (trustContents)
        {
            logger.LogWarning("Rebuilding the indexes of {Segment}: they failed their sanity checks", segment.LogPath);
        }

        recovery = segment.Recover(logger);
        return segment;
    }

    // ------------------------------------------------------------------ append

    /// <summary>
    /// Appends one batch: <paramref name="header"/> is its (already patched) 61-byte header and
    /// <paramref name="rest"/> the bytes after it, written together with one gather write.
    /// </summary>
    public void Append(in RecordBatchHeader header, ReadOnlyMemory<byte> headerBytes, in ReadOnlySequence<byte> rest, List<ReadOnlyMemory<byte>> scratch)
    {
        var position = _size;
        if (rest.IsSingleSegment)
        {
            GatherWrite.Write(_log, headerBytes.Span, rest.FirstSpan, position);
        }
        else
        {
            scratch.Clear();
            scratch.Add(headerBytes);
            foreach (var segment in rest)
            {
                scratch.Add(segment);
            }

            RandomAccess.Write(_log, scratch, position);
        }

        OnAppended(header, position);
    }

    /// <summary>Appends whole batches exactly as given (offsets already assigned), e.g. from compaction.</summary>
    public void AppendRaw(in RecordBatchHeader header, ReadOnlySpan<byte> batch)
    {
        var position = _size;
        RandomAccess.Write(_log, batch, position);
        OnAppended(header, position);
    }

    private void OnAppended(in RecordBatchHeader header, long position)
    {
        if (FirstBatchTimestamp < 0 && position == 0)
        {
            FirstBatchTimestamp = header.MaxTimestamp;
        }

        if (header.MaxTimestamp > _maxTimestampSoFar)
        {
            Volatile.Write(ref _offsetOfMaxTimestampSoFar, header.LastOffset);
            Volatile.Write(ref _maxTimestampSoFar, header.MaxTimestamp);
        }

        // Sparse entries, as Kafka writes them: the batch's last offset → its position.
        if (_bytesSinceLastIndexEntry > _indexIntervalBytes)
        {
            Index.Append(header.LastOffset, checked((int)position));
            TimeIndex.Append(_maxTimestampSoFar, _offsetOfMaxTimestampSoFar);
            _bytesSinceLastIndexEntry = 0;
        }

        _bytesSinceLastIndexEntry += header.TotalSize;
        Volatile.Write(ref _nextOffset, header.NextOffset);
        Volatile.Write(ref _size, position + header.TotalSize);
    }

    /// <summary>Whether a batch of this size and offset span still fits this segment.</summary>
    public bool CanHold(int batchSize, long lastOffset, LogConfig config) =>
        IsEmpty ||
        (Size + batchSize <= config.SegmentBytes
         && !Index.IsFull && !TimeIndex.IsFull
         && lastOffset - BaseOffset <= int.MaxValue);

    /// <summary>
    /// Called when the segment stops being the active one: the time index gets its final entry, and
    /// both index files get their pending entries, so only the active segment can lose index entries
    /// to a killed process (the flush that follows a roll may find the recovery point already past it).
    /// </summary>
    public void OnRolled()
    {
        if (_maxTimestampSoFar >= 0 && !TimeIndex.IsFull)
        {
            TimeIndex.Append(_maxTimestampSoFar, _offsetOfMaxTimestampSoFar);
        }

        Index.WritePendingEntries();
        TimeIndex.WritePendingEntries();
    }

    /// <summary>
    /// fsyncs the log and both indexes, which first write their pending entries. Index entries are
    /// buffered in memory between flushes, so after a crash only the indexes of segments flushed
    /// since their last append are complete on disk. That is what recovery relies on: the partition
    /// log moves its recovery point only after flushing every segment holding data below it, and after
    /// an unclean shutdown it trusts the indexes only of segments wholly before the segment holding
    /// the recovery point; the others (which include the active segment) are rebuilt from the log.
    /// </summary>
    public void Flush()
    {
        FileSync.Fsync(_log);
        Index.Flush();
        TimeIndex.Flush();
        TxnIndex.Flush();
    }

    /// <summary>
    /// fsyncs the log and the transaction index (which recovery does not rebuild) but not the offset and time
    /// indexes: enough for the segment holding the recovery point, whose indexes recovery rebuilds from the log.
    /// </summary>
    public void FlushData()
    {
        FileSync.Fsync(_log);
        TxnIndex.Flush();
    }

    // ------------------------------------------------------------------ reads

    public bool TryReadHeader(long position, out RecordBatchHeader header)
    {
        Span<byte> bytes = stackalloc byte[RecordBatchHeader.Size];
        header = default;
        if (position + RecordBatchHeader.Size > Size)
        {
            return false;
        }

        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(_log, bytes[read..], position + read);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return RecordBatchHeader.TryRead(bytes, out header) && header.BatchLength >= RecordBatchHeader.MinBatchLength;
    }

    /// <summary>The first batch whose last offset is at least <paramref name="offset"/>, or null when no batch here reaches it.</summary>
    public (long Position, RecordBatchHeader Header)? FindBatch(long offset)
    {
        var (_, position) = Index.Lookup(offset);
        long pos = position;
        var size = Size;
        while (pos < size && TryReadHeader(pos, out var header))
        {
            if (header.LastOffset >= offset)
            {
                return (pos, header);
            }

            pos += header.TotalSize;
        }

        return null;
    }

    /// <summary>
    /// The bytes to send for a fetch from <paramref name="startOffset"/>: whole batches from the one
    /// holding it, stopping before the batch that holds <paramref name="maxOffset"/> (exclusive bound,
    /// e.g. the high watermark), at most <paramref name="maxBytes"/> (or the whole first batch when
    /// <paramref name="minOneBatch"/>, so a consumer always progresses). Null when nothing qualifies.
    /// </summary>
    public FileRegion? Read(long startOffset, int maxBytes, long maxOffset, bool minOneBatch, out RecordBatchHeader first)
    {
        first = default;
        if (FindBatch(startOffset) is not var (start, header) || header.BaseOffset >= maxOffset)
        {
            return null;
        }

        first = header;
        var limit = maxOffset >= NextOffset ? Size : FindBatch(maxOffset)?.Position ?? Size;
        var wanted = minOneBatch ? Math.Max(maxBytes, header.TotalSize) : maxBytes;
        var length = (int)Math.Min(limit - start, wanted);
        return length <= 0 ? null : new FileRegion(_log, start, length);
    }

    /// <summary>The first record with a timestamp ≥ <paramref name="timestamp"/>: (offset, timestamp), or null.</summary>
    public (long Offset, long Timestamp)? FindOffsetByTimestamp(long timestamp, PooledBufferWriter scratch, int maxBatchBytes)
    {
        if (LargestTimestamp < timestamp)
        {
            return null;
        }

        var startOffset = Math.Max(TimeIndex.ScanStartFor(timestamp), BaseOffset);
        if (FindBatch(startOffset) is not var (position, _))
        {
            return null;
        }

        var size = Size;
        var pos = position;
        while (pos < size && TryReadHeader(pos, out var header))
        {
            if (header.MaxTimestamp >= timestamp && !header.IsControl)
            {
                if (header.TimestampType == TimestampType.LogAppendTime)
                {
                    return (header.BaseOffset, header.MaxTimestamp);
                }

                var batch = ArrayPool<byte>.Shared.Rent(header.TotalSize);
                try
                {
                    new FileRegion(_log, pos, header.TotalSize).CopyTo(batch.AsSpan(0, header.TotalSize));
                    scratch.Clear();
                    foreach (var record in RecordBatch.ReadRecords(batch.AsSpan(0, header.TotalSize), scratch, maxBatchBytes))
                    {
                        if (record.Timestamp >= timestamp)
                        {
                            return (record.Offset, record.Timestamp);
                        }
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(batch);
                }
            }

            pos += header.TotalSize;
        }

        return null;
    }

    // ------------------------------------------------------------------ truncation and recovery

    /// <summary>Removes the batch holding <paramref name="offset"/> and everything after it; returns the bytes removed.</summary>
    public long TruncateTo(long offset)
    {
        if (FindBatch(offset) is not var (position, _))
        {
            return 0;
        }

        var removed = Size - position;
        Index.TruncateToPosition((int)position);
        TimeIndex.TruncateToOffset(offset);
        RandomAccess.SetLength(_log, position);
        Volatile.Write(ref _size, position);
        RescanTail();
        TxnIndex.TruncateTo(offset);
        // Batches appended from here on were never scanned.
        ProducerFreeUntil = Math.Min(ProducerFreeUntil, NextOffset);
        return removed;
    }

    /// <summary>Loads both indexes and derives the segment's next offset and largest timestamp; false when an index is not sane.</summary>
    private bool TryLoadIndexes()
    {
        if (!Index.Load(Size))
        {
            return false;
        }

        RescanTail();
        if (!TimeIndex.Load(NextOffset))
        {
            return false;
        }

        if (TimeIndex.Last is { } last && last.Timestamp > _maxTimestampSoFar)
        {
            _maxTimestampSoFar = last.Timestamp;
            _offsetOfMaxTimestampSoFar = last.Offset;
        }

        return true;
    }

    /// <summary>
    /// Recomputes next offset, the largest timestamp and the bytes since the last index entry by reading
    /// the batch headers after the last offset index entry (the time index covers what comes before it).
    /// </summary>
    private void RescanTail()
    {
        long pos = 0;
        if (Index.Count > 0)
        {
            pos = Index.Lookup(long.MaxValue).Position;
        }

        var next = BaseOffset;
        var maxTs = -1L;
        var maxTsOffset = BaseOffset;
        if (TimeIndex.Count > 0 && TimeIndex.Last is { } last)
        {
            (maxTs, maxTsOffset) = (last.Timestamp, last.Offset);
        }

        var bytesSinceEntry = 0;
        var size = Size;
        var firstTimestamp = -1L;
        while (pos < size && TryReadHeader(pos, out var header))
        {
            if (pos == 0)
            {
                firstTimestamp = header.MaxTimestamp;
            }

            next = header.NextOffset;
            if (header.MaxTimestamp > maxTs)
            {
                (maxTs, maxTsOffset) = (header.MaxTimestamp, header.LastOffset);
            }

            bytesSinceEntry += header.TotalSize;
            pos += header.TotalSize;
        }

        if (Index.Count > 0 && next == BaseOffset)
        {
            next = Index.Lookup(long.MaxValue).Offset + 1;
        }

        FirstBatchTimestamp = firstTimestamp >= 0 ? firstTimestamp : FirstBatchTimestamp;
        _bytesSinceLastIndexEntry = bytesSinceEntry;
        Volatile.Write(ref _maxTimestampSoFar, maxTs);
        Volatile.Write(ref _offsetOfMaxTimestampSoFar, maxTsOffset);
        Volatile.Write(ref _nextOffset, next);
    }

    /// <summary>
    /// Validates every batch (length, magic, CRC32C, increasing offsets), rebuilds both indexes, and
    /// truncates the file at the first batch that fails. The result says what was cut. The file is read
    /// in chunks of <see cref="RecoveryChunkBytes"/> (a batch larger than that is read whole), so small
    /// batches cost no syscall each.
    /// </summary>
    public RecoveryResult Recover(ILogger logger)
    {
        Index.BeginRebuild();
        TimeIndex.BeginRebuild();
        var fileSize = RandomAccess.GetLength(_log);
        Volatile.Write(ref _size, 0);
        _bytesSinceLastIndexEntry = 0;
        _maxTimestampSoFar = -1;
        _offsetOfMaxTimestampSoFar = BaseOffset;
        _nextOffset = BaseOffset;
        FirstBatchTimestamp = -1;
        ProducerFreeUntil = BaseOffset;
        var producerBatchSeen = false;

        long position = 0;
        string? failure = null;
        var chunk = new RecoveryChunk(_log, fileSize, (int)Math.Min(RecoveryChunkBytes, Math.Max(fileSize, RecordBatchHeader.LogOverhead)));
        try
        {
            while (position < fileSize)
            {
                if (fileSize - position < RecordBatchHeader.LogOverhead)
                {
                    failure = "a partial batch header";
                    break;
                }

                var prefix = chunk.Read(position, RecordBatchHeader.LogOverhead);
                var total = (long)System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(prefix[8..]) + RecordBatchHeader.LogOverhead;
                if (total < RecordBatchHeader.Size || position + total > fileSize || total > int.MaxValue)
                {
                    failure = total < RecordBatchHeader.Size || total > int.MaxValue ? $"an invalid batch length {total - RecordBatchHeader.LogOverhead}" : "a torn (incomplete) batch";
                    break;
                }

                var batch = chunk.Read(position, (int)total);
                if (RecordBatch.TryValidate(batch, out var header, out var error) != RecordBatchError.None)
                {
                    failure = error ?? "an invalid batch";
                    break;
                }

                if (header.BaseOffset < _nextOffset || header.LastOffsetDelta < 0)
                {
                    failure = $"a batch at offset {header.BaseOffset} out of order (expected at least {_nextOffset})";
                    break;
                }

                // The producer state replay that follows recovery can skip what lies before the first producer batch.
                if (!producerBatchSeen && (header.ProducerId >= 0 || header.IsControl))
                {
                    producerBatchSeen = true;
                    ProducerFreeUntil = header.BaseOffset;
                }

                OnAppended(header, position);
                position += total;
            }
        }
        finally
        {
            chunk.Dispose();
        }

        if (!producerBatchSeen)
        {
            ProducerFreeUntil = _nextOffset;
        }

        Index.FinishRebuild();
        TimeIndex.FinishRebuild();

        // Entries for markers past the validated data go with it; missing ones are re-added by the producer-state replay.
        TxnIndex.TruncateTo(_nextOffset);
        if (failure is null)
        {
            return new RecoveryResult(0, -1, -1);
        }

        var lost = fileSize - position;
        var lastLost = LastOffsetAfter(position, fileSize);
        RandomAccess.SetLength(_log, position);
        logger.LogWarning(
            "Recovery of {Segment} found {Failure} at byte {Position}: truncated {Bytes} bytes, losing offsets {FirstLost} to {LastLost}",
            LogPath, failure, position, lost, _nextOffset, lastLost >= _nextOffset ? lastLost.ToString(CultureInfo.InvariantCulture) : "(unknown)");
        return new RecoveryResult(lost, _nextOffset, lastLost);
    }

    /// <summary>
    /// A window of the segment file for <see cref="Recover"/>: holds file bytes [start, start + length) in a
    /// pooled buffer and refills it from the asked-for position when a read falls outside.
    /// </summary>
    private struct RecoveryChunk(SafeFileHandle file, long fileSize, int chunkBytes) : IDisposable
    {
        private byte[] _buffer = ArrayPool<byte>.Shared.Rent(chunkBytes);
        private long _start;
        private int _length;

        /// <summary><paramref name="count"/> bytes at <paramref name="position"/>; the caller has checked they lie within the file.</summary>
        public Span<byte> Read(long position, int count)
        {
            if (position < _start || position + count > _start + _length)
            {
                if (_buffer.Length < count)
                {
                    ArrayPool<byte>.Shared.Return(_buffer);
                    _buffer = ArrayPool<byte>.Shared.Rent(count);
                }

                var wanted = (int)Math.Min(_buffer.Length, fileSize - position);
                new FileRegion(file, position, wanted).CopyTo(_buffer.AsSpan(0, wanted));
                (_start, _length) = (position, wanted);
            }

            return _buffer.AsSpan((int)(position - _start), count);
        }

        public readonly void Dispose() => ArrayPool<byte>.Shared.Return(_buffer);
    }

    /// <summary>Best effort: the highest last offset among the batch headers that can still be read after a failure (for the warning).</summary>
    private long LastOffsetAfter(long position, long fileSize)
    {
        var last = -1L;
        Span<byte> bytes = stackalloc byte[RecordBatchHeader.Size];
        while (position + RecordBatchHeader.Size <= fileSize)
        {
            new FileRegion(_log, position, bytes.Length).CopyTo(bytes);
            if (!RecordBatchHeader.TryRead(bytes, out var header) || header.BatchLength < RecordBatchHeader.MinBatchLength || header.Magic != 2)
            {
                break;
            }

            last = Math.Max(last, header.LastOffset);
            position += header.TotalSize;
        }

        return last;
    }

    // ------------------------------------------------------------------ files

    /// <summary>Renames the segment's files, e.g. to ".deleted" before a delayed delete, or from ".cleaned".</summary>
    public void ChangeSuffix(string newSuffix)
    {
        var target = FilePath(Directory, BaseOffset, LogSuffix + newSuffix);
        File.Move(LogPath, target, overwrite: true);
        LogPath = target;
        Index.Rename(FilePath(Directory, BaseOffset, IndexSuffix + newSuffix));
        TimeIndex.Rename(FilePath(Directory, BaseOffset, TimeIndexSuffix + newSuffix));
        TxnIndex.Rename(FilePath(Directory, BaseOffset, TxnIndexSuffix + newSuffix));
    }

    public void DeleteFiles()
    {
        Dispose();
        File.Delete(LogPath);
        File.Delete(Index.Path);
        File.Delete(TimeIndex.Path);
        TxnIndex.Delete();
    }

    public void Dispose()
    {
        _log.Dispose();
        Index.Dispose();
        TimeIndex.Dispose();
        TxnIndex.Dispose();
    }

    public override string ToString() => $"segment {BaseOffset} ({Size} bytes, next offset {NextOffset})";
}

/// <summary>What recovery cut off a segment: bytes, and the first and last offsets lost (-1 when unknown or none).</summary>
internal readonly record struct RecoveryResult(long TruncatedBytes, long FirstLostOffset, long LastLostOffset)
{
    public bool Truncated => TruncatedBytes > 0;
}
