namespace KafkaCompatBroker.Records;

/// <summary>
/// One record of a v2 batch, as views into the (decompressed) records section: nothing is copied.
/// Valid only while the underlying buffer is.
/// </summary>
public readonly ref struct Record
{
    internal Record(
        sbyte attributes,
        long timestampDelta,
        int offsetDelta,
        long offset,
        long timestamp,
        ReadOnlySpan<byte> key,
        bool isKeyNull,
        ReadOnlySpan<byte> value,
        bool isValueNull,
        int headerCount,
        ReadOnlySpan<byte> headerBytes,
        int sizeInBytes)
    {
        Attributes = attributes;
        TimestampDelta = timestampDelta;
        OffsetDelta = offsetDelta;
        Offset = offset;
        Timestamp = timestamp;
        Key = key;
        IsKeyNull = isKeyNull;
        Value = value;
        IsValueNull = isValueNull;
        HeaderCount = headerCount;
        HeaderBytes = headerBytes;
        SizeInBytes = sizeInBytes;
    }

    /// <summary>Record-level attributes (unused by Kafka so far, always 0 from well-behaved clients).</summary>
    public sbyte Attributes { get; }

    public long TimestampDelta { get; }

    public int OffsetDelta { get; }

    /// <summary>baseOffset + offsetDelta.</summary>
    public long Offset { get; }

    /// <summary>baseTimestamp + timestampDelta, or the batch's maxTimestamp when the batch is LogAppendTime.</summary>
    public long Timestamp { get; }

    /// <summary>The key bytes; empty when <see cref="IsKeyNull"/>.</summary>
    public ReadOnlySpan<byte> Key { get; }

    /// <summary>True when the key length is -1 (a null key, as opposed to an empty one).</summary>
    public bool IsKeyNull { get; }

    /// <summary>The value bytes; empty when <see cref="IsValueNull"/>.</summary>
    public ReadOnlySpan<byte> Value { get; }

    /// <summary>True when the value length is -1 (a tombstone on compacted topics).</summary>
    public bool IsValueNull { get; }

    public int HeaderCount { get; }

    /// <summary>The encoded headers (after the header count).</summary>
    public ReadOnlySpan<byte> HeaderBytes { get; }

    /// <summary>Encoded size of the record, its length prefix included.</summary>
    public int SizeInBytes { get; }

    public RecordHeaderEnumerator Headers => new(HeaderBytes, HeaderCount);
}

/// <summary>One record header: key (UTF-8 bytes, never null) and value (nullable).</summary>
public readonly ref struct RecordHeaderView
{
    internal RecordHeaderView(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool isValueNull)
    {
        Key = key;
        Value = value;
        IsValueNull = isValueNull;
    }

    public ReadOnlySpan<byte> Key { get; }

    public ReadOnlySpan<byte> Value { get; }

    public bool IsValueNull { get; }
}

/// <summary>Walks a record's headers without allocating.</summary>
public ref struct RecordHeaderEnumerator
{
    private readonly ReadOnlySpan<byte> _bytes;
    private int _position;
    private int _remaining;

    internal RecordHeaderEnumerator(ReadOnlySpan<byte> bytes, int count)
    {
        _bytes = bytes;
        _position = 0;
        _remaining = count;
        Current = default;
    }

    public RecordHeaderView Current { get; private set; }

    public readonly RecordHeaderEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_remaining == 0)
        {
            return false;
        }

        _remaining--;
        Current = RecordReader.ReadHeader(_bytes, ref _position);
        return true;
    }
}

/// <summary>
/// Reads the records of one v2 batch from its (decompressed) records section, one at a time and without
/// allocating. Every length and varint is bounds-checked: malformed input throws <see cref="RecordsException"/>
/// (INVALID_RECORD), as does a section with fewer or more bytes than the declared records need.
/// </summary>
public ref struct RecordReader
{
    private readonly ReadOnlySpan<byte> _records;
    private readonly long _baseOffset;
    private readonly long _baseTimestamp;
    private readonly long _logAppendTime;
    private readonly bool _isLogAppendTime;
    private int _position;
    private int _remaining;

    /// <summary>A reader over <paramref name="records"/> (the section after the header, decompressed) of the batch described by <paramref name="header"/>.</summary>
    public RecordReader(scoped in RecordBatchHeader header, ReadOnlySpan<byte> records)
        : this(records, header.RecordsCount, header.BaseOffset, header.BaseTimestamp, header.TimestampType, header.MaxTimestamp)
    {
    }

    public RecordReader(
        ReadOnlySpan<byte> records,
        int recordsCount,
        long baseOffset,
        long baseTimestamp,
        TimestampType timestampType = TimestampType.CreateTime,
        long maxTimestamp = 0)
    {
        if (recordsCount < 0)
        {
            RecordsException.Throw(RecordBatchError.InvalidRecordCount, $"invalid recordsCount {recordsCount}");
        }

        _records = records;
        _remaining = recordsCount;
        _baseOffset = baseOffset;
        _baseTimestamp = baseTimestamp;
        _isLogAppendTime = timestampType == TimestampType.LogAppendTime;
        _logAppendTime = maxTimestamp;
        _position = 0;
        Current = default;
    }

    public Record Current { get; private set; }

    /// <summary>Records not yet read.</summary>
    public readonly int RemainingCount => _remaining;

    public readonly RecordReader GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_remaining == 0)
        {
            if (_position != _records.Length)
            {
                RecordsException.ThrowInvalidRecord($"{_records.Length - _position} bytes remain after the declared records");
            }

            return false;
        }

        var start = _position;
        var length = VarInt.ReadVarInt(_records, ref _position);
        // attributes, timestampDelta, offsetDelta, keyLength, valueLength, headerCount: at least one byte each.
        if (length < RecordBatch.MinRecordSize - 1 || length > _records.Length - _position)
        {
            RecordsException.ThrowInvalidRecord($"record length {length} at byte {start} does not fit the {_records.Length - _position} remaining bytes");
        }

        var body = _records.Slice(_position, length);
        _position += length;
        _remaining--;

        var pos = 0;
        var attributes = (sbyte)body[pos++];
        var timestampDelta = VarInt.ReadVarLong(body, ref pos);
        var offsetDelta = VarInt.ReadVarInt(body, ref pos);
        var key = ReadNullableBytes(body, ref pos, out var isKeyNull);
        var value = ReadNullableBytes(body, ref pos, out var isValueNull);
        var headerCount = VarInt.ReadVarInt(body, ref pos);
        if (headerCount < 0)
        {
            RecordsException.ThrowInvalidRecord($"invalid header count {headerCount}");
        }

        var headersStart = pos;
        for (var i = 0; i < headerCount; i++)
        {
            ReadHeader(body, ref pos);
        }

        if (pos != body.Length)
        {
            RecordsException.ThrowInvalidRecord($"record at byte {start} declares {length} bytes but its fields use {pos}");
        }

        Current = new Record(
            attributes,
            timestampDelta,
            offsetDelta,
            _baseOffset + offsetDelta,
            _isLogAppendTime ? _logAppendTime : _baseTimestamp + timestampDelta,
            key,
            isKeyNull,
            value,
            isValueNull,
            headerCount,
            body[headersStart..],
            _position - start);
        return true;
    }

    internal static RecordHeaderView ReadHeader(ReadOnlySpan<byte> source, scoped ref int position)
    {
        var keyLength = VarInt.ReadVarInt(source, ref position);
        if (keyLength < 0 || keyLength > source.Length - position)
        {
            RecordsException.ThrowInvalidRecord($"invalid header key length {keyLength}");
        }

        var key = source.Slice(position, keyLength);
        position += keyLength;
        var value = ReadNullableBytes(source, ref position, out var isValueNull);
        return new RecordHeaderView(key, value, isValueNull);
    }

    private static ReadOnlySpan<byte> ReadNullableBytes(ReadOnlySpan<byte> source, scoped ref int position, out bool isNull)
    {
        var length = VarInt.ReadVarInt(source, ref position);
        if (length < 0)
        {
            if (length != -1)
            {
                RecordsException.ThrowInvalidRecord($"invalid length {length}");
            }

            isNull = true;
            return default;
        }

        if (length > source.Length - position)
        {
            RecordsException.ThrowInvalidRecord($"length {length} exceeds the {source.Length - position} remaining bytes of the record");
        }

        isNull = false;
        var result = source.Slice(position, length);
        position += length;
        return result;
    }
}
