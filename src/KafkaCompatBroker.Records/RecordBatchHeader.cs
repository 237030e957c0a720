using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace KafkaCompatBroker.Records;

/// <summary>
/// The 61-byte header of a magic v2 record batch (all fields big-endian):
/// baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8, crc u32, attributes i16,
/// lastOffsetDelta i32, baseTimestamp i64, maxTimestamp i64, producerId i64, producerEpoch i16,
/// baseSequence i32, recordsCount i32. batchLength counts the bytes after the batchLength field.
/// </summary>
public readonly struct RecordBatchHeader
{
    /// <summary>Size of the v2 header; the records section starts here.</summary>
    public const int Size = 61;

    /// <summary>baseOffset + batchLength: the bytes not counted by batchLength.</summary>
    public const int LogOverhead = 12;

    /// <summary>Smallest legal batchLength (a header with no records).</summary>
    public const int MinBatchLength = Size - LogOverhead;

    public const byte CurrentMagic = 2;

    internal const int BaseOffsetOffset = 0;
    internal const int BatchLengthOffset = 8;
    internal const int PartitionLeaderEpochOffset = 12;
    internal const int MagicOffset = 16;
    internal const int CrcOffset = 17;
    internal const int AttributesOffset = 21;
    internal const int LastOffsetDeltaOffset = 23;
    internal const int BaseTimestampOffset = 27;
    internal const int MaxTimestampOffset = 35;
    internal const int ProducerIdOffset = 43;
    internal const int ProducerEpochOffset = 51;
    internal const int BaseSequenceOffset = 53;
    internal const int RecordsCountOffset = 57;

    internal const short CompressionMask = 0x07;
    internal const short TimestampTypeMask = 0x08;
    internal const short TransactionalMask = 0x10;
    internal const short ControlMask = 0x20;
    internal const short DeleteHorizonMask = 0x40;

    public RecordBatchHeader(
        long baseOffset,
        int batchLength,
        int partitionLeaderEpoch,
        sbyte magic,
        uint crc,
        short attributes,
        int lastOffsetDelta,
        long baseTimestamp,
        long maxTimestamp,
        long producerId,
        short producerEpoch,
        int baseSequence,
        int recordsCount)
    {
        BaseOffset = baseOffset;
        BatchLength = batchLength;
        PartitionLeaderEpoch = partitionLeaderEpoch;
        Magic = magic;
        Crc = crc;
        Attributes = attributes;
        LastOffsetDelta = lastOffsetDelta;
        BaseTimestamp = baseTimestamp;
        MaxTimestamp = maxTimestamp;
        ProducerId = producerId;
        ProducerEpoch = producerEpoch;
        BaseSequence = baseSequence;
        RecordsCount = recordsCount;
    }

    public long BaseOffset { get; }

    public int BatchLength { get; }

    public int PartitionLeaderEpoch { get; }

    public sbyte Magic { get; }

    public uint Crc { get; }

    public short Attributes { get; }

    public int LastOffsetDelta { get; }

    public long BaseTimestamp { get; }

    public long MaxTimestamp { get; }

    public long ProducerId { get; }

    public short ProducerEpoch { get; }

    public int BaseSequence { get; }

    public int RecordsCount { get; }

    /// <summary>Whole batch size in bytes (header included).</summary>
    public int TotalSize => BatchLength + LogOverhead;

    /// <summary>Size of the (possibly compressed) records section.</summary>
    public int RecordsSize => BatchLength - MinBatchLength;

    public long LastOffset => BaseOffset + LastOffsetDelta;

    public long NextOffset => LastOffset + 1;

    public CompressionType CompressionType => (CompressionType)(Attributes & CompressionMask);

    public TimestampType TimestampType => (Attributes & TimestampTypeMask) != 0 ? TimestampType.LogAppendTime : TimestampType.CreateTime;

    public bool IsTransactional => (Attributes & TransactionalMask) != 0;

    public bool IsControl => (Attributes & ControlMask) != 0;

    /// <summary>Set by compaction: baseTimestamp is then the delete horizon of tombstones and transaction markers.</summary>
    public bool HasDeleteHorizon => (Attributes & DeleteHorizonMask) != 0;

    /// <summary>Builds the attributes field from its parts.</summary>
    public static short MakeAttributes(
        CompressionType compression,
        TimestampType timestampType = TimestampType.CreateTime,
        bool isTransactional = false,
        bool isControl = false,
        bool hasDeleteHorizon = false)
    {
        var attributes = (int)compression & CompressionMask;
        if (timestampType == TimestampType.LogAppendTime)
        {
            attributes |= TimestampTypeMask;
        }

        if (isTransactional)
        {
            attributes |= TransactionalMask;
        }

        if (isControl)
        {
            attributes |= ControlMask;
        }

        if (hasDeleteHorizon)
        {
            attributes |= DeleteHorizonMask;
        }

        return (short)attributes;
    }

    /// <summary>Decodes the header from the first 61 bytes of <paramref name="source"/>; false if it is shorter. Fields are not validated.</summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out RecordBatchHeader header)
    {
        if (source.Length < Size)
        {
            header = default;
            return false;
        }

        header = new RecordBatchHeader(
            BinaryPrimitives.ReadInt64BigEndian(source),
            BinaryPrimitives.ReadInt32BigEndian(source[BatchLengthOffset..]),
            BinaryPrimitives.ReadInt32BigEndian(source[PartitionLeaderEpochOffset..]),
            (sbyte)source[MagicOffset],
            BinaryPrimitives.ReadUInt32BigEndian(source[CrcOffset..]),
            BinaryPrimitives.ReadInt16BigEndian(source[AttributesOffset..]),
            BinaryPrimitives.ReadInt32BigEndian(source[LastOffsetDeltaOffset..]),
            BinaryPrimitives.ReadInt64BigEndian(source[BaseTimestampOffset..]),
            BinaryPrimitives.ReadInt64BigEndian(source[MaxTimestampOffset..]),
            BinaryPrimitives.ReadInt64BigEndian(source[ProducerIdOffset..]),
            BinaryPrimitives.ReadInt16BigEndian(source[ProducerEpochOffset..]),
            BinaryPrimitives.ReadInt32BigEndian(source[BaseSequenceOffset..]),
            BinaryPrimitives.ReadInt32BigEndian(source[RecordsCountOffset..]));
        return true;
    }

    /// <summary>Decodes the header from the start of <paramref name="source"/>; false if it holds fewer than 61 bytes.</summary>
    public static bool TryRead(in ReadOnlySequence<byte> source, out RecordBatchHeader header)
    {
        var first = source.FirstSpan;
        if (first.Length >= Size)
        {
            return TryRead(first, out header);
        }

        if (source.Length < Size)
        {
            header = default;
            return false;
        }

        Span<byte> buffer = stackalloc byte[Size];
        source.Slice(0, Size).CopyTo(buffer);
        return TryRead(buffer, out header);
    }

    /// <summary>Decodes the header; throws <see cref="RecordsException"/> (CORRUPT_MESSAGE) if fewer than 61 bytes are given.</summary>
    public static RecordBatchHeader Read(ReadOnlySpan<byte> source)
    {
        if (!TryRead(source, out var header))
        {
            ThrowTruncatedHeader(source.Length);
        }

        return header;
    }

    /// <summary>Writes the 61 header bytes as they are (the CRC is not computed here).</summary>
    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            ThrowDestinationTooSmall();
        }

        BinaryPrimitives.WriteInt64BigEndian(destination, BaseOffset);
        BinaryPrimitives.WriteInt32BigEndian(destination[BatchLengthOffset..], BatchLength);
        BinaryPrimitives.WriteInt32BigEndian(destination[PartitionLeaderEpochOffset..], PartitionLeaderEpoch);
        destination[MagicOffset] = (byte)Magic;
        BinaryPrimitives.WriteUInt32BigEndian(destination[CrcOffset..], Crc);
        BinaryPrimitives.WriteInt16BigEndian(destination[AttributesOffset..], Attributes);
        BinaryPrimitives.WriteInt32BigEndian(destination[LastOffsetDeltaOffset..], LastOffsetDelta);
        BinaryPrimitives.WriteInt64BigEndian(destination[BaseTimestampOffset..], BaseTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(destination[MaxTimestampOffset..], MaxTimestamp);
        BinaryPrimitives.WriteInt64BigEndian(destination[ProducerIdOffset..], ProducerId);
        BinaryPrimitives.WriteInt16BigEndian(destination[ProducerEpochOffset..], ProducerEpoch);
        BinaryPrimitives.WriteInt32BigEndian(destination[BaseSequenceOffset..], BaseSequence);
        BinaryPrimitives.WriteInt32BigEndian(destination[RecordsCountOffset..], RecordsCount);
    }

    public override string ToString() =>
        $"RecordBatch(baseOffset={BaseOffset}, batchLength={BatchLength}, magic={Magic}, compression={CompressionType}, " +
        $"lastOffsetDelta={LastOffsetDelta}, records={RecordsCount}, producerId={ProducerId}, transactional={IsTransactional}, control={IsControl})";

    [DoesNotReturn]
    private static void ThrowTruncatedHeader(int length) =>
        throw new RecordsException(RecordBatchError.Truncated, $"record batch header needs {Size} bytes, got {length}");

    [DoesNotReturn]
    private static void ThrowDestinationTooSmall() =>
        throw new ArgumentException($"destination must hold at least {Size} bytes", "destination");
}
