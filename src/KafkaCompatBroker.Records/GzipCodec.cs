using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;

namespace KafkaCompatBroker.Records;

/// <summary>gzip through System.IO.Compression, decoded in bounded output chunks.</summary>
internal static class GzipCodec
{
    // 10-byte gzip header + empty deflate block + 8-byte trailer.
    private const int MinimumSize = 20;

    public static unsafe int Decompress(ReadOnlySpan<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        if (input.IsEmpty)
        {
            return 0;
        }

        if (input.Length < MinimumSize)
        {
            CompressionException.ThrowCorrupt(CompressionType.Gzip, "shorter than a gzip header and trailer");
        }

        var trailerSize = BinaryPrimitives.ReadUInt32LittleEndian(input[^4..]);

        // GZipStream needs a Stream; pinning lets UnmanagedMemoryStream read the span without copying it.
        fixed (byte* pointer = input)
        {
            using var stream = new UnmanagedMemoryStream(pointer, input.Length);
            return Decompress(stream, trailerSize, output, maxDecompressedBytes);
        }
    }

    public static int Decompress(in ReadOnlySequence<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        if (input.Length < MinimumSize)
        {
            CompressionException.ThrowCorrupt(CompressionType.Gzip, "shorter than a gzip header and trailer");
        }

        Span<byte> trailer = stackalloc byte[4];
        input.Slice(input.Length - 4).CopyTo(trailer);
        using var stream = new ReadOnlySequenceStream(input);
        return Decompress(stream, BinaryPrimitives.ReadUInt32LittleEndian(trailer), output, maxDecompressedBytes);
    }

    public static int Compress(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        using var destination = new BufferWriterStream(output);
        using (var gzip = new GZipStream(destination, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(input);
        }

        return (int)destination.Position;
    }

    private static int Decompress(Stream compressed, uint trailerSize, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        long produced = 0;
        try
        {
            using var gzip = new GZipStream(compressed, CompressionMode.Decompress, leaveOpen: true);
            while (true)
            {
                var limit = RecordCompression.NextChunkLimit(produced, maxDecompressedBytes);
                var span = output.GetSpan(limit);
                var read = gzip.Read(span[..Math.Min(limit, span.Length)]);
                if (read == 0)
                {
                    // GZipStream verifies a member's CRC32/ISIZE trailer when it reaches it, but treats input that
                    // ends early as a normal end; comparing ISIZE (size mod 2^32) catches that. Kafka clients write a
                    // single gzip member; a multi-member stream passes only if the last member's size equals the total.
                    if ((uint)produced != trailerSize)
                    {
                        CompressionException.ThrowCorrupt(CompressionType.Gzip, "truncated stream (size trailer does not match)");
                    }

                    return (int)produced;
                }

                output.Advance(read);
                produced += read;
                if (produced > maxDecompressedBytes)
                {
                    CompressionException.ThrowTooLarge(maxDecompressedBytes);
                }
            }
        }
        catch (InvalidDataException e)
        {
            throw new CompressionException(RecordBatchError.CorruptCompressedData, $"corrupt {CompressionType.Gzip} data: {e.Message}", e);
        }
    }
}
