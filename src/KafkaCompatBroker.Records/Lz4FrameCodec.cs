using System.Buffers;
using K4os.Compression.LZ4;
using K4os.Compression.LZ4.Encoders;
using K4os.Compression.LZ4.Streams;
using K4os.Compression.LZ4.Streams.Abstractions;
using K4os.Compression.LZ4.Streams.Adapters;
using K4os.Compression.LZ4.Streams.Frames;

namespace KafkaCompatBroker.Records;

/// <summary>
/// The LZ4 frame format (what Kafka's clients write, KafkaLZ4BlockOutputStream / librdkafka) through
/// K4os.Compression.LZ4.Streams. Frames are read in output chunks, so the bound stops decoding after at most
/// one chunk past it; the reader checks the header, block and content checksums the frame declares.
/// </summary>
internal static class Lz4FrameCodec
{
    private static readonly Func<ILZ4Descriptor, ILZ4Decoder> DecoderFactory = descriptor => descriptor.CreateDecoder(0);

    // 64 KiB independent blocks, no checksums beyond the header's, fast level: what Kafka's Java client writes.
    private static readonly LZ4EncoderSettings KafkaSettings = new()
    {
        BlockSize = 64 * 1024,
        ChainBlocks = false,
        ContentChecksum = false,
        BlockChecksum = false,
        CompressionLevel = LZ4Level.L00_FAST,
    };

    // Pointers: the frame reader reads the pinned input in place rather than copying it to an array.
    public static unsafe int Decompress(ReadOnlySpan<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        if (input.IsEmpty)
        {
            return 0;
        }

        fixed (byte* source = input)
        {
            using var reader = new ByteSpanLZ4FrameReader(UnsafeByteSpan.Create(source, input.Length), DecoderFactory);
            return ReadAll(reader, output, maxDecompressedBytes);
        }
    }

    public static int Decompress(in ReadOnlySequence<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        if (input.IsEmpty)
        {
            return 0;
        }

        using var reader = new ByteSequenceLZ4FrameReader(input, DecoderFactory);
        return ReadAll(reader, output, maxDecompressedBytes);
    }

    // The encoder hands back the final copy of the (struct) writer it was given, which has counted the bytes.
    public static int Compress(ReadOnlySpan<byte> input, IBufferWriter<byte> output) =>
        LZ4Frame.Encode(input, new CountingWriter(output), KafkaSettings).Written;

    private static int ReadAll(ILZ4FrameReader reader, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        long produced = 0;
        try
        {
            if (!reader.OpenFrame())
            {
                CompressionException.ThrowCorrupt(CompressionType.Lz4, "no frame");
            }

            while (true)
            {
                var limit = RecordCompression.NextChunkLimit(produced, maxDecompressedBytes);
                var span = output.GetSpan(limit);
                var read = reader.ReadManyBytes(span[..Math.Min(limit, span.Length)]);
                if (read == 0)
                {
                    // End of a frame; concatenated frames are read on, as LZ4F_decompress does.
                    if (reader.OpenFrame())
                    {
                        continue;
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
        catch (EndOfStreamException e)
        {
            throw new CompressionException(RecordBatchError.CorruptCompressedData, $"corrupt {CompressionType.Lz4} data: truncated frame", e);
        }
        catch (Exception e) when (e is InvalidDataException or InvalidOperationException or ArgumentException or IndexOutOfRangeException or NotImplementedException)
        {
            // The reader reports a bad magic, header checksum, block length or block as one of these (a corrupt block
            // is an InvalidOperationException from the block decoder).
            throw new CompressionException(RecordBatchError.CorruptCompressedData, $"corrupt {CompressionType.Lz4} data: {e.Message}", e);
        }
    }

    /// <summary>Passes writes through to <see cref="Output"/> and counts them.</summary>
    private struct CountingWriter(IBufferWriter<byte> output) : IBufferWriter<byte>
    {
        public IBufferWriter<byte> Output { get; } = output;

        public int Written { get; private set; }

        public void Advance(int count)
        {
            Output.Advance(count);
            Written += count;
        }

        public readonly Memory<byte> GetMemory(int sizeHint = 0) => Output.GetMemory(sizeHint);

        public readonly Span<byte> GetSpan(int sizeHint = 0) => Output.GetSpan(sizeHint);
    }
}
