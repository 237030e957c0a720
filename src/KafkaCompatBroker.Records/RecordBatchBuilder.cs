using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace KafkaCompatBroker.Records;

/// <summary>A record header to encode: a UTF-8 key and a nullable value.</summary>
public readonly struct RecordHeader
{
    public RecordHeader(ReadOnlyMemory<byte> key, ReadOnlyMemory<byte>? value)
    {
        Key = key;
        Value = value;
    }

    /// <summary>Convenience constructor (encodes <paramref name="key"/> as UTF-8, so it allocates).</summary>
    public RecordHeader(string key, byte[]? value)
        : this(Encoding.UTF8.GetBytes(key), value is null ? (ReadOnlyMemory<byte>?)null : value)
    {
    }

    public ReadOnlyMemory<byte> Key { get; }

    /// <summary>The value; null encodes length -1.</summary>
    public ReadOnlyMemory<byte>? Value { get; }
}

/// <summary>
/// Builds one magic v2 record batch: append records, then <see cref="WriteTo"/> writes the header (CRC computed)
/// and the records section, compressed if asked. Records are buffered in pooled memory; dispose to return it.
/// Reusable after <see cref="Reset"/>. Not thread-safe.
/// </summary>
public sealed class RecordBatchBuilder : IDisposable
{
    private readonly PooledBufferWriter _records = new();
    private readonly PooledBufferWriter _compressed = new();
    private long _firstTimestamp;
    private long _maxTimestamp;
    private int _nextOffsetDelta;
    private long? _deleteHorizonMs;

    public RecordBatchBuilder(
        CompressionType compression = CompressionType.None,
        long producerId = -1,
        short producerEpoch = -1,
        int baseSequence = -1,
        bool isTransactional = false)
    {
        if ((int)compression > (int)CompressionType.Zstd)
        {
            throw new ArgumentOutOfRangeException(nameof(compression));
        }

        Compression = compression;
        ProducerId = producerId;
        ProducerEpoch = producerEpoch;
        BaseSequence = baseSequence;
        IsTransactional = isTransactional;
    }

    public CompressionType Compression { get; set; }

    public long ProducerId { get; set; }

    public short ProducerEpoch { get; set; }

    public int BaseSequence { get; set; }

    public bool IsTransactional { get; set; }

    /// <summary>Control batch (transaction markers); set by <see cref="ControlRecords"/>.</summary>
    public bool IsControl { get; set; }

    /// <summary>Producers send 0; the broker assigns the real one.</summary>
    public long BaseOffset { get; set; }

    /// <summary>-1 from producers; the leader stamps its epoch.</summary>
    public int PartitionLeaderEpoch { get; set; } = -1;

    public TimestampType TimestampType { get; set; }

    /// <summary>Records appended so far.</summary>
    public int Count { get; private set; }

    /// <summary>
    /// The delete horizon (KIP-534) compaction stamps on a batch holding tombstones or transaction markers:
    /// when set, attribute bit 6 is written and baseTimestamp carries the horizon, with every record's
    /// timestamp delta relative to it (so record timestamps stay as they were). Set it before the first record.
    /// </summary>
    public long? DeleteHorizonMs
    {
        get => _deleteHorizonMs;
        set
        {
            if (Count > 0)
            {
                throw new InvalidOperationException("the delete horizon must be set before the first record is appended");
            }

            _deleteHorizonMs = value;
        }
    }

    /// <summary>
    /// The lastOffsetDelta to write instead of the last record's offset delta (null: the last record's).
    /// Compaction keeps a batch's original last offset so the producer's last sequence number survives.
    /// </summary>
    public int? LastOffsetDeltaOverride { get; set; }

    /// <summary>Size of the uncompressed records section so far.</summary>
    public int RecordsSize => _records.WrittenCount;

    /// <summary>Appends a record; offsetDelta is its index. Use the flags for null key/value (length -1).</summary>
    public void Append(
        long timestamp,
        ReadOnlySpan<byte> key,
        ReadOnlySpan<byte> value,
        ReadOnlySpan<RecordHeader> headers = default,
        bool isKeyNull = false,
        bool isValueNull = false)
    {
        var headersSize = 0;
        foreach (ref readonly var header in headers)
        {
            var headerValueLength = header.Value is { } v ? v.Length : -1;
            headersSize += VarInt.SizeOfVarInt(header.Key.Length) + header.Key.Length
                + VarInt.SizeOfVarInt(headerValueLength) + Math.Max(headerValueLength, 0);
        }

        var span = BeginRecord(0, timestamp, _nextOffsetDelta, key, isKeyNull ? -1 : key.Length, value, isValueNull ? -1 : value.Length, headers.Length, headersSize, out var pos);
        foreach (ref readonly var header in headers)
        {
            pos += WriteNullableBytes(span[pos..], header.Key.Span, header.Key.Length);
            var headerValue = header.Value ?? default;
            pos += WriteNullableBytes(span[pos..], headerValue.Span, header.Value.HasValue ? headerValue.Length : -1);
        }

        EndRecord(pos, _nextOffsetDelta);
    }

    /// <summary>
    /// Appends a record read from another batch (e.g. by compaction): its attributes, offset delta, key,
    /// value and encoded headers are kept; <paramref name="timestamp"/> is its absolute timestamp.
    /// Offset deltas must increase from record to record; gaps are allowed.
    /// </summary>
    public void AppendRecord(scoped in Record record, long timestamp)
    {
        if (record.OffsetDelta < _nextOffsetDelta)
        {
            throw new ArgumentException($"offset delta {record.OffsetDelta} is not above the previous record's ({_nextOffsetDelta - 1})", nameof(record));
        }

        var span = BeginRecord(
            record.Attributes,
            timestamp,
            record.OffsetDelta,
            record.Key,
            record.IsKeyNull ? -1 : record.Key.Length,
            record.Value,
            record.IsValueNull ? -1 : record.Value.Length,
            record.HeaderCount,
            record.HeaderBytes.Length,
            out var pos);
        record.HeaderBytes.CopyTo(span[pos..]);
        EndRecord(pos + record.HeaderBytes.Length, record.OffsetDelta);
    }

    /// <summary>Writes a record's length and fields up to its header count; the caller writes <paramref name="headersSize"/> bytes of headers at <paramref name="pos"/>.</summary>
    private Span<byte> BeginRecord(
        sbyte attributes,
        long timestamp,
        int offsetDelta,
        ReadOnlySpan<byte> key,
        int keyLength,
        ReadOnlySpan<byte> value,
        int valueLength,
        int headerCount,
        int headersSize,
        out int pos)
    {
        if (Count == 0)
        {
            _firstTimestamp = _deleteHorizonMs ?? timestamp;
            _maxTimestamp = timestamp;
        }
        else if (timestamp > _maxTimestamp)
        {
            _maxTimestamp = timestamp;
        }

        var timestampDelta = timestamp - _firstTimestamp;
        var bodySize = 1
            + VarInt.SizeOfVarLong(timestampDelta)
            + VarInt.SizeOfVarInt(offsetDelta)
            + VarInt.SizeOfVarInt(keyLength) + Math.Max(keyLength, 0)
            + VarInt.SizeOfVarInt(valueLength) + Math.Max(valueLength, 0)
            + VarInt.SizeOfVarInt(headerCount)
            + headersSize;

        var totalSize = VarInt.SizeOfVarInt(bodySize) + bodySize;
        var span = _records.GetSpan(totalSize);
        pos = VarInt.WriteVarInt(span, bodySize);
        span[pos++] = (byte)attributes;
        pos += VarInt.WriteVarLong(span[pos..], timestampDelta);
        pos += VarInt.WriteVarInt(span[pos..], offsetDelta);
        pos += WriteNullableBytes(span[pos..], key, keyLength);
        pos += WriteNullableBytes(span[pos..], value, valueLength);
        pos += VarInt.WriteVarInt(span[pos..], headerCount);
        return span;
    }

    private void EndRecord(int pos, int offsetDelta)
    {
        _records.Advance(pos);
        _nextOffsetDelta = offsetDelta + 1;
        Count++;
    }

    /// <summary>Convenience overload: null arrays encode null key/value.</summary>
    public void Append(long timestamp, byte[]? key, byte[]? value, RecordHeader[]? headers = null) =>
        Append(timestamp, key, value, headers, key is null, value is null);

    /// <summary>Writes the complete batch to <paramref name="output"/> and returns its size in bytes.</summary>
    public int WriteTo(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (Count == 0)
        {
            throw new InvalidOperationException("a record batch needs at least one record");
        }

        ReadOnlySpan<byte> records = _records.WrittenSpan;
        if (Compression != CompressionType.None)
        {
            _compressed.Clear();
            RecordCompression.Compress(Compression, records, _compressed);
            records = _compressed.WrittenSpan;
        }

        var lastOffsetDelta = _nextOffsetDelta - 1;
        if (LastOffsetDeltaOverride is { } overridden)
        {
            if (overridden < lastOffsetDelta)
            {
                throw new InvalidOperationException($"lastOffsetDelta {overridden} is below the last record's offset delta {lastOffsetDelta}");
            }

            lastOffsetDelta = overridden;
        }

        var attributes = RecordBatchHeader.MakeAttributes(Compression, TimestampType, IsTransactional, IsControl, hasDeleteHorizon: _deleteHorizonMs.HasValue);
        var header = new RecordBatchHeader(
            BaseOffset,
            RecordBatchHeader.MinBatchLength + records.Length,
            PartitionLeaderEpoch,
            (sbyte)RecordBatchHeader.CurrentMagic,
            0,
            attributes,
            lastOffsetDelta,
            _firstTimestamp,
            _maxTimestamp,
            ProducerId,
            ProducerEpoch,
            BaseSequence,
            Count);

        Span<byte> headerBytes = stackalloc byte[RecordBatchHeader.Size];
        header.Write(headerBytes);
        var crc = Crc32C.Append(Crc32C.Compute(headerBytes[RecordBatchHeader.AttributesOffset..]), records);
        BinaryPrimitives.WriteUInt32BigEndian(headerBytes[RecordBatchHeader.CrcOffset..], crc);

        output.Write(headerBytes);
        output.Write(records);
        return header.TotalSize;
    }

    /// <summary>Drops the appended records (settings are kept).</summary>
    public void Reset()
    {
        _records.Clear();
        _compressed.Clear();
        Count = 0;
        _nextOffsetDelta = 0;
        _firstTimestamp = 0;
        _maxTimestamp = 0;
    }

    public void Dispose()
    {
        _records.Dispose();
        _compressed.Dispose();
    }

    private static int WriteNullableBytes(Span<byte> destination, ReadOnlySpan<byte> bytes, int length)
    {
        var pos = VarInt.WriteVarInt(destination, length);
        if (length > 0)
        {
            bytes.CopyTo(destination[pos..]);
            pos += length;
        }

        return pos;
    }
}
