using System.Buffers;
using System.Buffers.Binary;

namespace KafkaCompatBroker.Records;

/// <summary>Which consistency rules <see cref="RecordBatch.Validate(ReadOnlySpan{byte}, RecordBatchValidation)"/> applies.</summary>
public enum RecordBatchValidation
{
    /// <summary>
    /// A batch from the log or a Fetch response: compaction may have removed records, so
    /// recordsCount may be smaller than lastOffsetDelta + 1 (and 0); control batches are allowed.
    /// </summary>
    Stored = 0,

    /// <summary>
    /// A batch from a Produce request (what Kafka's LogValidator enforces for clients):
    /// recordsCount &gt; 0 and equal to lastOffsetDelta + 1, no control batches.
    /// </summary>
    Produce = 1,
}

/// <summary>Validation and in-place edits of a serialized v2 record batch (the storage layer's view of a batch).</summary>
public static class RecordBatch
{
    // The smallest possible encoded record: length, attributes, timestampDelta, offsetDelta,
    // keyLength, valueLength, headerCount — one byte each.
    internal const int MinRecordSize = 7;

    /// <summary>
    /// Checks the batch at the start of <paramref name="batch"/> (which may continue past the batch):
    /// header present, magic 2, batchLength sane and within the buffer, CRC32C, record count and offset delta.
    /// Returns <see cref="RecordBatchError.None"/> when valid; otherwise <paramref name="errorMessage"/> says why.
    /// </summary>
    public static RecordBatchError TryValidate(
        ReadOnlySpan<byte> batch,
        out RecordBatchHeader header,
        out string? errorMessage,
        RecordBatchValidation mode = RecordBatchValidation.Stored)
    {
        var error = CheckHeader(batch.Length, batch, out header, out errorMessage, mode);
        if (error != RecordBatchError.None)
        {
            return error;
        }

        var computed = Crc32C.Compute(batch[RecordBatchHeader.AttributesOffset..header.TotalSize]);
        return CheckCrc(header, computed, out errorMessage);
    }

    /// <summary>Same as <see cref="TryValidate(ReadOnlySpan{byte}, out RecordBatchHeader, out string?, RecordBatchValidation)"/> for a segmented buffer.</summary>
    public static RecordBatchError TryValidate(
        in ReadOnlySequence<byte> batch,
        out RecordBatchHeader header,
        out string? errorMessage,
        RecordBatchValidation mode = RecordBatchValidation.Stored)
    {
        if (batch.IsSingleSegment)
        {
            return TryValidate(batch.FirstSpan, out header, out errorMessage, mode);
        }

        Span<byte> headerBytes = stackalloc byte[RecordBatchHeader.Size];
        var length = batch.Length;
        if (length >= RecordBatchHeader.Size)
        {
            batch.Slice(0, RecordBatchHeader.Size).CopyTo(headerBytes);
        }

        var error = CheckHeader(length, headerBytes, out header, out errorMessage, mode);
        if (error != RecordBatchError.None)
        {
            return error;
        }

        var computed = Crc32C.Compute(batch.Slice(RecordBatchHeader.AttributesOffset, header.TotalSize - RecordBatchHeader.AttributesOffset));
        return CheckCrc(header, computed, out errorMessage);
    }

    /// <summary>Validates the batch and returns its header; throws <see cref="RecordsException"/> carrying the Kafka error code otherwise.</summary>
    public static RecordBatchHeader Validate(ReadOnlySpan<byte> batch, RecordBatchValidation mode = RecordBatchValidation.Stored)
    {
        var error = TryValidate(batch, out var header, out var message, mode);
        if (error != RecordBatchError.None)
        {
            RecordsException.Throw(error, message!);
        }

        return header;
    }

    /// <summary>Validates the batch and returns its header; throws <see cref="RecordsException"/> carrying the Kafka error code otherwise.</summary>
    public static RecordBatchHeader Validate(in ReadOnlySequence<byte> batch, RecordBatchValidation mode = RecordBatchValidation.Stored)
    {
        var error = TryValidate(batch, out var header, out var message, mode);
        if (error != RecordBatchError.None)
        {
            RecordsException.Throw(error, message!);
        }

        return header;
    }

    /// <summary>CRC32C of the batch's bytes from the attributes field to the end of the batch.</summary>
    public static uint ComputeCrc(ReadOnlySpan<byte> batch)
    {
        var totalSize = GetTotalSize(batch);
        return Crc32C.Compute(batch[RecordBatchHeader.AttributesOffset..totalSize]);
    }

    /// <summary>Recomputes and stores the CRC (needed after changing anything from the attributes field onward).</summary>
    public static void WriteCrc(Span<byte> batch) =>
        BinaryPrimitives.WriteUInt32BigEndian(batch[RecordBatchHeader.CrcOffset..], ComputeCrc(batch));

    /// <summary>Assigns the base offset. The CRC does not cover it, so nothing else changes.</summary>
    public static void SetBaseOffset(Span<byte> batch, long baseOffset) =>
        BinaryPrimitives.WriteInt64BigEndian(batch[RecordBatchHeader.BaseOffsetOffset..], baseOffset);

    /// <summary>Stamps the partition leader epoch. The CRC does not cover it.</summary>
    public static void SetPartitionLeaderEpoch(Span<byte> batch, int partitionLeaderEpoch) =>
        BinaryPrimitives.WriteInt32BigEndian(batch[RecordBatchHeader.PartitionLeaderEpochOffset..], partitionLeaderEpoch);

    /// <summary>
    /// Sets the timestamp type bit and maxTimestamp, then recomputes the CRC (both are covered by it).
    /// With <see cref="TimestampType.LogAppendTime"/> consumers use maxTimestamp as every record's timestamp.
    /// </summary>
    public static void SetMaxTimestamp(Span<byte> batch, TimestampType timestampType, long maxTimestamp)
    {
        WriteTimestampFields(batch, timestampType, maxTimestamp);
        WriteCrc(batch);
    }

    private static void WriteTimestampFields(Span<byte> header, TimestampType timestampType, long maxTimestamp)
    {
        var attributesSpan = header[RecordBatchHeader.AttributesOffset..];
        var attributes = BinaryPrimitives.ReadInt16BigEndian(attributesSpan);
        attributes = timestampType == TimestampType.LogAppendTime
            ? (short)(attributes | RecordBatchHeader.TimestampTypeMask)
            : (short)(attributes & ~RecordBatchHeader.TimestampTypeMask);
        BinaryPrimitives.WriteInt16BigEndian(attributesSpan, attributes);
        BinaryPrimitives.WriteInt64BigEndian(header[RecordBatchHeader.MaxTimestampOffset..], maxTimestamp);
    }

    /// <summary>
    /// <see cref="SetMaxTimestamp(Span{byte}, TimestampType, long)"/> for a batch held as its 61-byte
    /// header plus the bytes after it (e.g. still in a network buffer): only the header changes, and
    /// the CRC is computed over both parts.
    /// </summary>
    public static void SetMaxTimestamp(Span<byte> header, in ReadOnlySequence<byte> rest, TimestampType timestampType, long maxTimestamp)
    {
        WriteTimestampFields(header, timestampType, maxTimestamp);
        var crc = Crc32C.Append(0, header[RecordBatchHeader.AttributesOffset..RecordBatchHeader.Size]);
        foreach (var segment in rest)
        {
            crc = Crc32C.Append(crc, segment.Span);
        }

        BinaryPrimitives.WriteUInt32BigEndian(header[RecordBatchHeader.CrcOffset..], crc);
    }

    /// <summary>Marks the batch LogAppendTime with the broker's append time and recomputes the CRC.</summary>
    public static void SetLogAppendTime(Span<byte> batch, long appendTimestamp) =>
        SetMaxTimestamp(batch, TimestampType.LogAppendTime, appendTimestamp);

    /// <summary>
    /// The records section of <paramref name="batch"/>: the bytes themselves when uncompressed, otherwise
    /// decompressed into <paramref name="scratch"/> (cleared first) and bounded by <paramref name="maxDecompressedBytes"/>.
    /// </summary>
    public static ReadOnlySpan<byte> GetRecordsSection(ReadOnlySpan<byte> batch, PooledBufferWriter scratch, int maxDecompressedBytes)
    {
        var header = RecordBatchHeader.Read(batch);
        var totalSize = GetTotalSize(batch);
        var records = batch[RecordBatchHeader.Size..totalSize];
        if (header.CompressionType == CompressionType.None)
        {
            return records;
        }

        ArgumentNullException.ThrowIfNull(scratch);
        scratch.Clear();
        RecordCompression.Decompress(header.CompressionType, records, scratch, maxDecompressedBytes);
        return scratch.WrittenSpan;
    }

    /// <summary>
    /// A reader over the records of <paramref name="batch"/>, decompressing into <paramref name="scratch"/> when needed.
    /// The batch's CRC is not checked here (see <see cref="Validate(ReadOnlySpan{byte}, RecordBatchValidation)"/>).
    /// </summary>
    public static RecordReader ReadRecords(ReadOnlySpan<byte> batch, PooledBufferWriter scratch, int maxDecompressedBytes)
    {
        var header = RecordBatchHeader.Read(batch);
        return new RecordReader(header, GetRecordsSection(batch, scratch, maxDecompressedBytes));
    }

    private static int GetTotalSize(ReadOnlySpan<byte> batch)
    {
        var header = RecordBatchHeader.Read(batch);
        if (header.BatchLength < RecordBatchHeader.MinBatchLength || header.BatchLength > batch.Length - RecordBatchHeader.LogOverhead)
        {
            RecordsException.Throw(RecordBatchError.InvalidBatchLength, $"batchLength {header.BatchLength} does not fit a buffer of {batch.Length} bytes");
        }

        return header.TotalSize;
    }

    private static RecordBatchError CheckHeader(
        long available,
        ReadOnlySpan<byte> headerBytes,
        out RecordBatchHeader header,
        out string? errorMessage,
        RecordBatchValidation mode)
    {
        if (available < RecordBatchHeader.Size || !RecordBatchHeader.TryRead(headerBytes, out header))
        {
            header = default;
            // A batch cut before its header is corrupt as far as a complete-request check is concerned.
            errorMessage = $"record batch truncated: {available} bytes, the v2 header alone is {RecordBatchHeader.Size}";
            return RecordBatchError.Truncated;
        }

        if (header.Magic != RecordBatchHeader.CurrentMagic)
        {
            errorMessage = $"unsupported record batch magic {header.Magic} (only v2 is supported)";
            return RecordBatchError.UnsupportedMagic;
        }

        if (header.BatchLength < RecordBatchHeader.MinBatchLength)
        {
            errorMessage = $"batchLength {header.BatchLength} is below the v2 minimum of {RecordBatchHeader.MinBatchLength}";
            return RecordBatchError.InvalidBatchLength;
        }

        if (header.BatchLength > available - RecordBatchHeader.LogOverhead)
        {
            errorMessage = $"record batch truncated: batchLength {header.BatchLength} needs {header.TotalSize} bytes, only {available} available";
            return RecordBatchError.Truncated;
        }

        if ((int)header.CompressionType > (int)CompressionType.Zstd)
        {
            errorMessage = $"unknown compression type {(int)header.CompressionType}";
            return RecordBatchError.UnsupportedCompressionType;
        }

        if (header.RecordsCount < 0 || header.LastOffsetDelta < 0)
        {
            errorMessage = $"invalid recordsCount {header.RecordsCount} / lastOffsetDelta {header.LastOffsetDelta}";
            return RecordBatchError.InvalidRecordCount;
        }

        // Each record has its own offset, so there can never be more records than offsets.
        if ((long)header.RecordsCount > (long)header.LastOffsetDelta + 1)
        {
            errorMessage = $"recordsCount {header.RecordsCount} exceeds lastOffsetDelta {header.LastOffsetDelta} + 1";
            return RecordBatchError.InvalidRecordCount;
        }

        if (header.CompressionType == CompressionType.None && (long)header.RecordsCount * MinRecordSize > header.RecordsSize)
        {
            errorMessage = $"recordsCount {header.RecordsCount} cannot fit in {header.RecordsSize} bytes of records";
            return RecordBatchError.InvalidRecordCount;
        }

        if (mode == RecordBatchValidation.Produce)
        {
            if (header.RecordsCount == 0 || header.RecordsCount != header.LastOffsetDelta + 1)
            {
                errorMessage = $"inconsistent batch: lastOffsetDelta {header.LastOffsetDelta} but recordsCount {header.RecordsCount}";
                return RecordBatchError.InvalidRecordCount;
            }

            if (header.IsControl)
            {
                errorMessage = "clients are not allowed to write control records";
                return RecordBatchError.InvalidRecord;
            }
        }

        errorMessage = null;
        return RecordBatchError.None;
    }

    private static RecordBatchError CheckCrc(in RecordBatchHeader header, uint computed, out string? errorMessage)
    {
        if (computed != header.Crc)
        {
            errorMessage = $"record batch CRC mismatch: stored 0x{header.Crc:X8}, computed 0x{computed:X8}";
            return RecordBatchError.CrcMismatch;
        }

        errorMessage = null;
        return RecordBatchError.None;
    }
}
