using System.Buffers;
using ZstdSharp;

namespace KafkaCompatBroker.Records;

/// <summary>
/// zstd frames through ZstdSharp (a managed port of libzstd). Each thread keeps one compressor and one
/// decompressor: their contexts hold the codec's working memory, which costs far more to build than to reset.
/// </summary>
internal static class ZstdCodec
{
    // Kafka's compression.zstd.level default.
    private const int Level = 3;

    [ThreadStatic]
    private static Decompressor? _decompressor;

    [ThreadStatic]
    private static Compressor? _compressor;

    public static int Decompress(ReadOnlySpan<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        var decompressor = RentDecompressor();
        var produced = 0L;
        var last = Feed(decompressor, input, output, ref produced, maxDecompressedBytes);
        return Finish(input.Length, last, produced);
    }

    public static int Decompress(in ReadOnlySequence<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        var decompressor = RentDecompressor();
        var produced = 0L;
        var last = OperationStatus.Done;
        foreach (var segment in input)
        {
            if (!segment.IsEmpty)
            {
                last = Feed(decompressor, segment.Span, output, ref produced, maxDecompressedBytes);
            }
        }

        return Finish(input.Length, last, produced);
    }

    public static int Compress(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        var compressor = _compressor ??= new Compressor(Level);
        var span = output.GetSpan(Compressor.GetCompressBound(input.Length));
        int written;
        try
        {
            written = compressor.Wrap(input, span);
        }
        catch (ZstdException e)
        {
            throw new CompressionException(RecordBatchError.CorruptCompressedData, $"zstd compression failed: {e.Message}", e);
        }

        output.Advance(written);
        return written;
    }

    private static Decompressor RentDecompressor()
    {
        var decompressor = _decompressor ??= new Decompressor();
        // A previous call may have stopped mid-frame (bound exceeded, corrupt data).
        decompressor.ResetStream();
        return decompressor;
    }

    private static OperationStatus Feed(Decompressor decompressor, ReadOnlySpan<byte> input, IBufferWriter<byte> output, ref long produced, int maxDecompressedBytes)
    {
        var consumed = 0;
        while (true)
        {
            var limit = RecordCompression.NextChunkLimit(produced, maxDecompressedBytes);
            var span = output.GetSpan(limit);
            limit = Math.Min(limit, span.Length);
            OperationStatus status;
            int read;
            int written;
            try
            {
                status = decompressor.UnwrapStream(input[consumed..], span[..limit], out read, out written);
            }
            catch (ZstdException e)
            {
                throw new CompressionException(RecordBatchError.CorruptCompressedData, $"corrupt {CompressionType.Zstd} data: {e.Message}", e);
            }

            if (status == OperationStatus.InvalidData)
            {
                CompressionException.ThrowCorrupt(CompressionType.Zstd, "invalid frame");
            }

            consumed += read;
            output.Advance(written);
            produced += written;
            if (produced > maxDecompressedBytes)
            {
                CompressionException.ThrowTooLarge(maxDecompressedBytes);
            }

            // All input taken and the output not full: the decoder has flushed everything it can.
            if (consumed == input.Length && written < limit)
            {
                return status;
            }

            if (written == 0 && read == 0)
            {
                CompressionException.ThrowCorrupt(CompressionType.Zstd, "decoder made no progress");
            }
        }
    }

    private static int Finish(long inputLength, OperationStatus last, long produced)
    {
        // Anything but Done means the decoder still expects bytes of the current frame.
        if (inputLength > 0 && last != OperationStatus.Done)
        {
            CompressionException.ThrowCorrupt(CompressionType.Zstd, "truncated frame");
        }

        return (int)produced;
    }
}
