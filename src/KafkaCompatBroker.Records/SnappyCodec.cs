using System.Buffers;
using System.Buffers.Binary;
using Snappier;

namespace KafkaCompatBroker.Records;

/// <summary>
/// Snappy through Snappier (raw blocks), in both framings Kafka sees: raw from librdkafka, xerial-framed
/// (<c>\x82SNAPPY\0</c> header, then [int32 length][raw block] repeated) from the Java client. Snappier has
/// no xerial framing, so it is done here.
/// </summary>
internal static class SnappyCodec
{
    // Java's SnappyOutputStream (xerial) block size; what Kafka's Java client writes.
    private const int XerialBlockSize = 32 * 1024;
    private const int XerialHeaderSize = 16;

    // 0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00, then int32 version 1 and int32 minimum compatible version 1.
    private static ReadOnlySpan<byte> XerialMagic => [0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0];

    public static int Decompress(ReadOnlySpan<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        if (input.IsEmpty)
        {
            return 0;
        }

        if (!input.StartsWith(XerialMagic))
        {
            // librdkafka sends raw snappy.
            return DecompressBlock(input, output, 0, maxDecompressedBytes);
        }

        // Concatenated xerial streams repeat the header, as Java's SnappyInputStream accepts.
        long produced = 0;
        var position = 0;
        while (position < input.Length)
        {
            var rest = input[position..];
            if (rest.StartsWith(XerialMagic))
            {
                if (rest.Length < XerialHeaderSize)
                {
                    CompressionException.ThrowCorrupt(CompressionType.Snappy, "truncated xerial header");
                }

                position += XerialHeaderSize;
                continue;
            }

            if (rest.Length < 4)
            {
                CompressionException.ThrowCorrupt(CompressionType.Snappy, "truncated xerial block length");
            }

            var blockLength = BinaryPrimitives.ReadInt32BigEndian(rest);
            if (blockLength < 0 || blockLength > rest.Length - 4)
            {
                CompressionException.ThrowCorrupt(CompressionType.Snappy, $"xerial block length {blockLength} exceeds the {rest.Length - 4} remaining bytes");
            }

            produced += DecompressBlock(rest.Slice(4, blockLength), output, produced, maxDecompressedBytes);
            position += 4 + blockLength;
        }

        return (int)produced;
    }

    public static int CompressXerial(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        var header = output.GetSpan(XerialHeaderSize);
        XerialMagic.CopyTo(header);
        BinaryPrimitives.WriteInt32BigEndian(header[8..], 1);
        BinaryPrimitives.WriteInt32BigEndian(header[12..], 1);
        output.Advance(XerialHeaderSize);
        var total = XerialHeaderSize;

        for (var offset = 0; offset < input.Length; offset += XerialBlockSize)
        {
            var block = input.Slice(offset, Math.Min(XerialBlockSize, input.Length - offset));
            var span = output.GetSpan(4 + Snappy.GetMaxCompressedLength(block.Length));
            var written = Snappy.Compress(block, span[4..]);
            BinaryPrimitives.WriteInt32BigEndian(span, written);
            output.Advance(4 + written);
            total += 4 + written;
        }

        return total;
    }

    private static int DecompressBlock(ReadOnlySpan<byte> block, IBufferWriter<byte> output, long producedBefore, int maxDecompressedBytes)
    {
        if (block.IsEmpty)
        {
            return 0;
        }

        try
        {
            // The length is in the block's preamble: check it before asking for any output space.
            var length = Snappy.GetUncompressedLength(block);
            if (length < 0)
            {
                CompressionException.ThrowCorrupt(CompressionType.Snappy, "invalid length preamble");
            }

            if (length > maxDecompressedBytes - producedBefore)
            {
                CompressionException.ThrowTooLarge(maxDecompressedBytes);
            }

            var span = output.GetSpan(length)[..length];
            var written = Snappy.Decompress(block, span);
            if (written != length)
            {
                CompressionException.ThrowCorrupt(CompressionType.Snappy, $"{written} bytes decoded, the preamble says {length}");
            }

            output.Advance(length);
            return length;
        }
        catch (Exception e) when (e is InvalidDataException or ArgumentException or IndexOutOfRangeException)
        {
            throw new CompressionException(RecordBatchError.CorruptCompressedData, $"corrupt {CompressionType.Snappy} data: {e.Message}", e);
        }
    }
}
