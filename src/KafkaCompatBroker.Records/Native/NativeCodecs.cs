using System.Buffers;
using System.Buffers.Binary;

namespace KafkaCompatBroker.Records.Native;

/// <summary>
/// TEMPORARY (issue 15 item 1): the system-library codecs, kept only to measure them against the managed ones
/// (KAFKACOMPATBROKER_NATIVE_CODECS=1). Deleted once the figures are in the README.
/// </summary>
internal static class NativeCodecs
{
    private const int XerialBlockSize = 32 * 1024;
    private const int XerialHeaderSize = 16;
    private const int ZstdLevel = 3;

    private static ReadOnlySpan<byte> XerialMagic => [0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0];

    [ThreadStatic]
    private static ZstdDecompressionContext? _zstdContext;

    [ThreadStatic]
    private static Lz4DecompressionContext? _lz4Context;

    public static int Decompress(CompressionType type, ReadOnlySpan<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        switch (type)
        {
            case CompressionType.Snappy:
                return SnappyDecompress(input, output, maxDecompressedBytes);
            case CompressionType.Lz4:
                {
                    var produced = 0L;
                    var context = RentLz4Context();
                    var last = Lz4Feed(context, input, output, ref produced, maxDecompressedBytes);
                    return Lz4Finish(input.Length, last, produced);
                }

            default:
                {
                    var produced = 0L;
                    var context = RentZstdContext();
                    var last = ZstdFeed(context, input, output, ref produced, maxDecompressedBytes);
                    return ZstdFinish(input.Length, last, produced);
                }
        }
    }

    public static int Decompress(CompressionType type, in ReadOnlySequence<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        switch (type)
        {
            case CompressionType.Lz4:
                {
                    var produced = 0L;
                    nuint last = 0;
                    var context = RentLz4Context();
                    foreach (var segment in input)
                    {
                        if (!segment.IsEmpty)
                        {
                            last = Lz4Feed(context, segment.Span, output, ref produced, maxDecompressedBytes);
                        }
                    }

                    return Lz4Finish(input.Length, last, produced);
                }

            case CompressionType.Zstd:
                {
                    var produced = 0L;
                    nuint last = 0;
                    var context = RentZstdContext();
                    foreach (var segment in input)
                    {
                        if (!segment.IsEmpty)
                        {
                            last = ZstdFeed(context, segment.Span, output, ref produced, maxDecompressedBytes);
                        }
                    }

                    return ZstdFinish(input.Length, last, produced);
                }

            default:
                {
                    var buffer = ArrayPool<byte>.Shared.Rent((int)input.Length);
                    try
                    {
                        input.CopyTo(buffer);
                        return SnappyDecompress(buffer.AsSpan(0, (int)input.Length), output, maxDecompressedBytes);
                    }
                    finally
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }
        }
    }

    public static int Compress(CompressionType type, ReadOnlySpan<byte> input, IBufferWriter<byte> output) => type switch
    {
        CompressionType.Snappy => SnappyCompressXerial(input, output),
        CompressionType.Lz4 => Lz4Compress(input, output),
        _ => ZstdCompress(input, output),
    };

    private static int NextChunkLimit(long produced, int maxDecompressedBytes) => RecordCompression.NextChunkLimit(produced, maxDecompressedBytes);

    private static ZstdDecompressionContext RentZstdContext()
    {
        var context = _zstdContext ??= new ZstdDecompressionContext();
        // A previous call may have stopped mid-frame (bound exceeded, corrupt data).
        ZstdNative.ZSTD_DCtx_reset(context.DangerousGetHandle(), ZstdNative.ResetSessionOnly);
        return context;
    }

    // Pointers: zstd reads and writes pinned buffers directly.
    private static unsafe nuint ZstdFeed(ZstdDecompressionContext context, ReadOnlySpan<byte> input, IBufferWriter<byte> output, ref long produced, int maxDecompressedBytes)
    {
        var dctx = context.DangerousGetHandle();
        nuint result = 0;
        fixed (byte* src = input)
        {
            var inBuffer = new ZstdNative.InBuffer { Src = src, Size = (nuint)input.Length, Pos = 0 };
            while (true)
            {
                var limit = NextChunkLimit(produced, maxDecompressedBytes);
                var span = output.GetSpan(limit);
                limit = Math.Min(limit, span.Length);
                var consumedBefore = inBuffer.Pos;
                fixed (byte* dst = span)
                {
                    var outBuffer = new ZstdNative.OutBuffer { Dst = dst, Size = (nuint)limit, Pos = 0 };
                    result = ZstdNative.ZSTD_decompressStream(dctx, &outBuffer, &inBuffer);
                    if (ZstdNative.IsError(result))
                    {
                        CompressionException.ThrowCorrupt(CompressionType.Zstd, ZstdNative.ErrorName(result));
                    }

                    var written = (int)outBuffer.Pos;
                    output.Advance(written);
                    produced += written;
                    if (produced > maxDecompressedBytes)
                    {
                        CompressionException.ThrowTooLarge(maxDecompressedBytes);
                    }

                    // All input taken and the output not full: the decoder has flushed everything it can.
                    if (inBuffer.Pos == inBuffer.Size && written < limit)
                    {
                        return result;
                    }

                    if (written == 0 && inBuffer.Pos == consumedBefore)
                    {
                        CompressionException.ThrowCorrupt(CompressionType.Zstd, "decoder made no progress");
                    }
                }
            }
        }
    }

    private static int ZstdFinish(long inputLength, nuint lastResult, long produced)
    {
        // A non-zero hint means the decoder still expects bytes of the current frame.
        if (inputLength > 0 && lastResult != 0)
        {
            CompressionException.ThrowCorrupt(CompressionType.Zstd, "truncated frame");
        }

        return (int)produced;
    }

    // Pointers: zstd reads and writes pinned buffers directly.
    private static unsafe int ZstdCompress(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        using var context = new ZstdCompressionContext();
        var cctx = context.DangerousGetHandle();
        ZstdNative.ZSTD_CCtx_setParameter(cctx, ZstdNative.CompressionLevelParameter, ZstdLevel);
        var bound = ZstdNative.ZSTD_compressBound((nuint)input.Length);
        var span = output.GetSpan(checked((int)bound));
        nuint written;
        fixed (byte* src = input)
        fixed (byte* dst = span)
        {
            written = ZstdNative.ZSTD_compress2(cctx, dst, (nuint)span.Length, src, (nuint)input.Length);
        }

        if (ZstdNative.IsError(written))
        {
            throw new CompressionException(RecordBatchError.CorruptCompressedData, $"zstd compression failed: {ZstdNative.ErrorName(written)}");
        }

        output.Advance((int)written);
        return (int)written;
    }

    private static Lz4DecompressionContext RentLz4Context()
    {
        var context = _lz4Context ??= new Lz4DecompressionContext();
        // A previous call may have stopped mid-frame (bound exceeded, corrupt data).
        Lz4Native.LZ4F_resetDecompressionContext(context.DangerousGetHandle());
        return context;
    }

    // Pointers: lz4 reads and writes pinned buffers directly.
    private static unsafe nuint Lz4Feed(Lz4DecompressionContext context, ReadOnlySpan<byte> input, IBufferWriter<byte> output, ref long produced, int maxDecompressedBytes)
    {
        var dctx = context.DangerousGetHandle();
        nuint result = 0;
        var consumed = 0;
        fixed (byte* src = input)
        {
            while (true)
            {
                var limit = NextChunkLimit(produced, maxDecompressedBytes);
                var span = output.GetSpan(limit);
                limit = Math.Min(limit, span.Length);
                fixed (byte* dst = span)
                {
                    var dstSize = (nuint)limit;
                    var srcSize = (nuint)(input.Length - consumed);
                    result = Lz4Native.LZ4F_decompress(dctx, dst, &dstSize, src + consumed, &srcSize, null);
                    if (Lz4Native.IsError(result))
                    {
                        CompressionException.ThrowCorrupt(CompressionType.Lz4, Lz4Native.ErrorName(result));
                    }

                    consumed += (int)srcSize;
                    var written = (int)dstSize;
                    output.Advance(written);
                    produced += written;
                    if (produced > maxDecompressedBytes)
                    {
                        CompressionException.ThrowTooLarge(maxDecompressedBytes);
                    }

                    if (consumed == input.Length && written < limit)
                    {
                        return result;
                    }

                    if (written == 0 && srcSize == 0)
                    {
                        CompressionException.ThrowCorrupt(CompressionType.Lz4, "decoder made no progress");
                    }
                }
            }
        }
    }

    private static int Lz4Finish(long inputLength, nuint lastResult, long produced)
    {
        // LZ4F_decompress returns 0 exactly when a frame is complete.
        if (inputLength > 0 && lastResult != 0)
        {
            CompressionException.ThrowCorrupt(CompressionType.Lz4, "truncated frame");
        }

        return (int)produced;
    }

    // Pointers: lz4 reads and writes pinned buffers directly.
    private static unsafe int Lz4Compress(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        NativeCodecLibraries.EnsureLz4();

        // 64 KiB independent blocks, no content size: what Kafka's Java client writes and reads.
        var preferences = new Lz4Native.Preferences
        {
            BlockSizeId = Lz4Native.BlockSize64KB,
            BlockMode = Lz4Native.BlockIndependent,
        };
        var bound = Lz4Native.LZ4F_compressFrameBound((nuint)input.Length, &preferences);
        var span = output.GetSpan(checked((int)bound));
        nuint written;
        fixed (byte* src = input)
        fixed (byte* dst = span)
        {
            written = Lz4Native.LZ4F_compressFrame(dst, (nuint)span.Length, src, (nuint)input.Length, &preferences);
        }

        if (Lz4Native.IsError(written))
        {
            throw new CompressionException(RecordBatchError.CorruptCompressedData, $"lz4 compression failed: {Lz4Native.ErrorName(written)}");
        }

        output.Advance((int)written);
        return (int)written;
    }

    private static int SnappyDecompress(ReadOnlySpan<byte> input, IBufferWriter<byte> output, int maxDecompressedBytes)
    {
        if (input.IsEmpty)
        {
            return 0;
        }

        NativeCodecLibraries.EnsureSnappy();
        if (!input.StartsWith(XerialMagic))
        {
            // librdkafka sends raw snappy.
            return SnappyDecompressBlock(input, output, 0, maxDecompressedBytes);
        }

        // Java's client sends xerial framing: a 16-byte header, then [int32 length][raw snappy block] repeated.
        // Concatenated streams repeat the header, as Java's SnappyInputStream accepts.
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

            produced += SnappyDecompressBlock(rest.Slice(4, blockLength), output, produced, maxDecompressedBytes);
            position += 4 + blockLength;
        }

        return (int)produced;
    }

    // Pointers: snappy reads and writes pinned buffers directly.
    private static unsafe int SnappyDecompressBlock(ReadOnlySpan<byte> block, IBufferWriter<byte> output, long producedBefore, int maxDecompressedBytes)
    {
        if (block.IsEmpty)
        {
            return 0;
        }

        fixed (byte* src = block)
        {
            // The length is in the block's preamble: check it before allocating anything.
            nuint length;
            if (SnappyNative.snappy_uncompressed_length(src, (nuint)block.Length, &length) != SnappyNative.Ok)
            {
                CompressionException.ThrowCorrupt(CompressionType.Snappy, "invalid length preamble");
            }

            if (length > (nuint)(maxDecompressedBytes - producedBefore))
            {
                CompressionException.ThrowTooLarge(maxDecompressedBytes);
            }

            var span = output.GetSpan((int)length);
            fixed (byte* dst = span)
            {
                var written = (nuint)span.Length;
                var status = SnappyNative.snappy_uncompress(src, (nuint)block.Length, dst, &written);
                if (status != SnappyNative.Ok || written != length)
                {
                    CompressionException.ThrowCorrupt(CompressionType.Snappy, status == SnappyNative.InvalidInput ? "invalid input" : $"status {status}");
                }
            }

            output.Advance((int)length);
            return (int)length;
        }
    }

    // Pointers: snappy reads and writes pinned buffers directly.
    private static unsafe int SnappyCompressXerial(ReadOnlySpan<byte> input, IBufferWriter<byte> output)
    {
        NativeCodecLibraries.EnsureSnappy();
        var header = output.GetSpan(XerialHeaderSize);
        XerialMagic.CopyTo(header);
        BinaryPrimitives.WriteInt32BigEndian(header[8..], 1);
        BinaryPrimitives.WriteInt32BigEndian(header[12..], 1);
        output.Advance(XerialHeaderSize);
        var total = XerialHeaderSize;

        for (var offset = 0; offset < input.Length; offset += XerialBlockSize)
        {
            var block = input.Slice(offset, Math.Min(XerialBlockSize, input.Length - offset));
            var max = (int)SnappyNative.snappy_max_compressed_length((nuint)block.Length);
            var span = output.GetSpan(4 + max);
            nuint written = (nuint)(span.Length - 4);
            int status;
            fixed (byte* src = block)
            fixed (byte* dst = span)
            {
                status = SnappyNative.snappy_compress(src, (nuint)block.Length, dst + 4, &written);
            }

            if (status != SnappyNative.Ok)
            {
                throw new CompressionException(RecordBatchError.CorruptCompressedData, $"snappy compression failed with status {status}");
            }

            BinaryPrimitives.WriteInt32BigEndian(span, (int)written);
            output.Advance(4 + (int)written);
            total += 4 + (int)written;
        }

        return total;
    }
}
