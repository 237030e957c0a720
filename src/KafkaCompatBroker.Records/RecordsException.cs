using System.Diagnostics.CodeAnalysis;

namespace KafkaCompatBroker.Records;

/// <summary>Why a record batch (or the records in it) was rejected.</summary>
public enum RecordBatchError
{
    None = 0,

    /// <summary>Fewer bytes than the batch header or the declared batch length.</summary>
    Truncated,

    /// <summary>batchLength is below the v2 minimum (49) or otherwise impossible.</summary>
    InvalidBatchLength,

    /// <summary>magic is not 2.</summary>
    UnsupportedMagic,

    /// <summary>The stored CRC32C does not match the bytes from the attributes field onward.</summary>
    CrcMismatch,

    /// <summary>recordsCount / lastOffsetDelta are negative or inconsistent.</summary>
    InvalidRecordCount,

    /// <summary>A record inside the batch is malformed (bad varint, length out of range, trailing bytes).</summary>
    InvalidRecord,

    /// <summary>Compression type 5-7 (not defined by Kafka).</summary>
    UnsupportedCompressionType,

    /// <summary>Compressed data could not be decoded.</summary>
    CorruptCompressedData,

    /// <summary>Decompressed data would be larger than the caller's bound.</summary>
    DecompressedSizeExceeded,
}

/// <summary>Kafka error codes (see error-codes.tsv) that <see cref="RecordBatchError"/> values map to.</summary>
public static class RecordBatchErrors
{
    public const short CorruptMessage = 2;
    public const short MessageTooLarge = 10;
    public const short UnsupportedCompressionType = 76;
    public const short InvalidRecord = 87;

    /// <summary>The Kafka error code a Kafka broker returns for this kind of failure (0 for <see cref="RecordBatchError.None"/>).</summary>
    public static short ToKafkaErrorCode(this RecordBatchError error) => error switch
    {
        RecordBatchError.None => 0,
        RecordBatchError.Truncated => CorruptMessage,
        RecordBatchError.InvalidBatchLength => CorruptMessage,
        RecordBatchError.CrcMismatch => CorruptMessage,
        RecordBatchError.CorruptCompressedData => CorruptMessage,
        RecordBatchError.UnsupportedMagic => InvalidRecord,
        RecordBatchError.InvalidRecordCount => InvalidRecord,
        RecordBatchError.InvalidRecord => InvalidRecord,
        RecordBatchError.DecompressedSizeExceeded => MessageTooLarge,
        RecordBatchError.UnsupportedCompressionType => UnsupportedCompressionType,
        _ => CorruptMessage,
    };
}

/// <summary>A malformed record batch or record; <see cref="ErrorCode"/> is the Kafka error code to answer with.</summary>
public class RecordsException : Exception
{
    public RecordsException(RecordBatchError error, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Error = error;
    }

    public RecordBatchError Error { get; }

    /// <summary>Kafka error code (CORRUPT_MESSAGE = 2, INVALID_RECORD = 87, ...).</summary>
    public short ErrorCode => Error.ToKafkaErrorCode();

    [DoesNotReturn]
    internal static void Throw(RecordBatchError error, string message) => throw new RecordsException(error, message);

    [DoesNotReturn]
    internal static void ThrowInvalidRecord(string message) => throw new RecordsException(RecordBatchError.InvalidRecord, message);
}

/// <summary>Compressed data that could not be decoded or encoded, a decompression bound exceeded, or a missing codec library.</summary>
public sealed class CompressionException : RecordsException
{
    public CompressionException(RecordBatchError error, string message, Exception? innerException = null)
        : base(error, message, innerException)
    {
    }

    [DoesNotReturn]
    internal static void ThrowCorrupt(CompressionType type, string detail) =>
        throw new CompressionException(RecordBatchError.CorruptCompressedData, $"corrupt {type} data: {detail}");

    [DoesNotReturn]
    internal static void ThrowTooLarge(int maxDecompressedBytes) =>
        throw new CompressionException(RecordBatchError.DecompressedSizeExceeded, $"decompressed size exceeds {maxDecompressedBytes} bytes");
}
