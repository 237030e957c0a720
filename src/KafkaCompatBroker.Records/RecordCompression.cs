using System.Buffers;
using System.Diagnostics.CodeAnalysis;

namespace KafkaCompatBroker.Records;

/// <summary>
/// The record batch codecs, all managed code: gzip on System.IO.Compression, snappy on Snappier, lz4 (frame
/// format) on K4os.Compression.LZ4.Streams, zstd on ZstdSharp.Port. Decompression output is bounded: going past
/// maxDecompressedBytes stops decoding at once with a <see cref="CompressionException"/>, so a decompression bomb
/// costs at most that many bytes. Corrupt input also throws <see cref="CompressionException"/>.
/// </summary>
public static class RecordCompression
{
    // Size of the output chunks requested from the IBufferWriter while stream-decoding.
    private const int ChunkSize = 64 * 1024;

    /// <summary>
    /// Decompresses <paramref name="input"/> into <paramref name="output"/>, writing at most
    /// <paramref name="maxDecompressedBytes"/> bytes; returns the number written.
    /// </summary>
    public static int Decompress(CompressionType type, ReadOnlySpan<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDecompressedBytes);
        switch (type)
        {
            case CompressionType.None:
                if (input.Length > maxDecompressedBytes)
                {
                    CompressionException.ThrowTooLarge(maxDecompressedBytes);
                }

                output.Write(input);
                return input.Length;
            case CompressionType.Gzip:
                return GzipCodec.Decompress(input, output, maxDecompressedBytes);
            case CompressionType.Snappy:
                return SnappyCodec.Decompress(input, output, maxDecompressedBytes);
            case CompressionType.Lz4:
                return Lz4FrameCodec.Decompress(input, output, maxDecompressedBytes);
            case CompressionType.Zstd:
                return ZstdCodec.Decompress(input, output, maxDecompressedBytes);
            default:
                ThrowUnsupported(type);
                return 0;
        }
    }

    /// <summary>
    /// Decompresses a segmented <paramref name="input"/>; zstd, lz4 and gzip are decoded segment by segment,
    /// snappy (which needs its whole input) is copied into a pooled buffer first when it spans segments.
    /// </summary>
    public static int Decompress(CompressionType type, in ReadOnlySequence<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        if (input.IsSingleSegment)
        {
            return Decompress(type, input.FirstSpan, output, maxDecompressedBytes);
        }

        ArgumentNullException.ThrowIfNull(output);
        ArgumentOutOfRangeException.ThrowIfNegative(maxDecompressedBytes);
        switch (type)
        {
            case CompressionType.Gzip:
                return GzipCodec.Decompress(input, output, maxDecompressedBytes);
            case CompressionType.Lz4:
                return Lz4FrameCodec.Decompress(input, output, maxDecompressedBytes);
            case CompressionType.Zstd:
                return ZstdCodec.Decompress(input, output, maxDecompressedBytes);
            case CompressionType.None:
                if (input.Length > maxDecompressedBytes)
                {
                    CompressionException.ThrowTooLarge(maxDecompressedBytes);
                }

                foreach (var segment in input)
                {
                    output.Write(segment.Span);
                }

                return (int)input.Length;

            case CompressionType.Snappy:
                {
                    // Snappy wants its whole input in one piece.
                    if (input.Length > Array.MaxLength)
                    {
                        CompressionException.ThrowCorrupt(type, "input too large");
                    }

                    var length = (int)input.Length;
                    var buffer = ArrayPool<byte>.Shared.Rent(length);
                    try
                    {
                        input.CopyTo(buffer);
                        return SnappyCodec.Decompress(buffer.AsSpan(0, length), output, maxDecompressedBytes);
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }

            default:
                ThrowUnsupported(type);
                return 0;
        }
    }

    /// <summary>Compresses <paramref name="input"/> into <paramref name="output"/> the way Kafka clients do; returns the bytes written.</summary>
    public static int Compress(CompressionType type, ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        switch (type)
        {
            case CompressionType.None:
                output.Write(input);
                return input.Length;
            case CompressionType.Gzip:
                return GzipCodec.Compress(input, output);
            case CompressionType.Snappy:
                return SnappyCodec.CompressXerial(input, output);
            case CompressionType.Lz4:
                return Lz4FrameCodec.Compress(input, output);
            case CompressionType.Zstd:
                return ZstdCodec.Compress(input, output);
            default:
                ThrowUnsupported(type);
                return 0;
        }
    }

    // Room for the next output chunk: one byte more than the budget left, so exceeding the bound is noticed
    // after decoding at most maxDecompressedBytes + 1 bytes.
    internal static int NextChunkLimit(long produced, int maxDecompressedBytes) =>
        (int)Math.Min(ChunkSize, (long)maxDecompressedBytes - produced + 1);

    [DoesNotReturn]
    private static void ThrowUnsupported(CompressionType type) =>
        throw new CompressionException(RecordBatchError.UnsupportedCompressionType, $"unknown compression type {(int)type}");
}
