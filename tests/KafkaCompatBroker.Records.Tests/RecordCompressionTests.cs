using System.Buffers;

namespace KafkaCompatBroker.Records.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class RecordCompressionTests
{
    private const int OneMiB = 1 << 20;

    public static TheoryData<CompressionType> Codecs() =>
    [
        CompressionType.Gzip,
        CompressionType.Snappy,
        CompressionType.Lz4,
        CompressionType.Zstd,
    ];

    public static TheoryData<CompressionType, int> CodecsAndSizes()
    {
        var data = new TheoryData<CompressionType, int>();
        foreach (var codec in new[] { CompressionType.None, CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd })
        {
            foreach (var size in new[] { 0, 1, 100, 32 * 1024, (32 * 1024) + 1, 70_000, 1_000_000 })
            {
                data.Add(codec, size);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CodecsAndSizes))]
    public void Compress_ThenDecompress_RoundTrips(CompressionType type, int size)
    {
        var input = MakeData(size, seed: size);
        var compressed = new ArrayBufferWriter<byte>();
        var written = RecordCompression.Compress(type, input, compressed);
        Assert.Equal(compressed.WrittenCount, written);

        var output = new ArrayBufferWriter<byte>();
        Assert.Equal(size, RecordCompression.Decompress(type, compressed.WrittenSpan, output, size));
        Assert.True(input.AsSpan().SequenceEqual(output.WrittenSpan));

        // Same through a segmented input.
        var segmented = new ArrayBufferWriter<byte>();
        RecordCompression.Decompress(type, SequenceHelper.Split(compressed.WrittenSpan, 1000), segmented, size);
        Assert.True(input.AsSpan().SequenceEqual(segmented.WrittenSpan));
    }

    [Fact]
    public void Compress_Snappy_WritesXerialFraming()
    {
        var compressed = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(CompressionType.Snappy, MakeData(100_000, 1), compressed);
        var bytes = compressed.WrittenSpan;
        Assert.Equal(new byte[] { 0x82, (byte)'S', (byte)'N', (byte)'A', (byte)'P', (byte)'P', (byte)'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1 }, bytes[..16].ToArray());
    }

    [Fact]
    public void Compress_Lz4_WritesFrameMagic()
    {
        var compressed = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(CompressionType.Lz4, MakeData(1000, 1), compressed);
        Assert.Equal(new byte[] { 0x04, 0x22, 0x4D, 0x18 }, compressed.WrittenSpan[..4].ToArray());
    }

    [Theory]
    [InlineData(CompressionType.Gzip, TestVectors.Gzip)]
    [InlineData(CompressionType.Snappy, TestVectors.SnappyRaw)]
    [InlineData(CompressionType.Lz4, TestVectors.Lz4Cli)]
    [InlineData(CompressionType.Zstd, TestVectors.ZstdCli)]
    public void Decompress_BytesFromIndependentImplementation_ReturnsOriginal(CompressionType type, string base64)
    {
        var output = new ArrayBufferWriter<byte>();
        RecordCompression.Decompress(type, Convert.FromBase64String(base64), output, OneMiB);
        Assert.Equal(TestVectors.Text, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void Decompress_Lz4FrameWithWrongContentChecksum_ThrowsCorrupt()
    {
        // The lz4 CLI's frame declares a content checksum (FLG bit 2), its last 4 bytes.
        var frame = Convert.FromBase64String(TestVectors.Lz4Cli);
        Assert.NotEqual(0, frame[4] & 0x04);
        frame[^1] ^= 0x01;

        var exception = Assert.Throws<CompressionException>(() => RecordCompression.Decompress(CompressionType.Lz4, frame, new ArrayBufferWriter<byte>(), OneMiB));
        Assert.Equal(RecordBatchError.CorruptCompressedData, exception.Error);
    }

    [Fact]
    public void Decompress_ConcatenatedXerialStreams_ReturnsBothParts()
    {
        var first = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(CompressionType.Snappy, MakeData(1000, 1), first);
        var second = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(CompressionType.Snappy, MakeData(2000, 2), second);
        var output = new ArrayBufferWriter<byte>();
        RecordCompression.Decompress(CompressionType.Snappy, TestBatches.Concat(first.WrittenSpan.ToArray(), second.WrittenSpan.ToArray()), output, OneMiB);
        Assert.Equal(TestBatches.Concat(MakeData(1000, 1), MakeData(2000, 2)), output.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Decompress_ConcatenatedFrames_ReturnsBothParts(CompressionType type)
    {
        // liblz4's and libzstd's stream decoders read on after a frame ends; the managed ones must too.
        var first = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(type, MakeData(70_000, 1), first);
        var second = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(type, MakeData(2000, 2), second);
        var both = TestBatches.Concat(first.WrittenSpan.ToArray(), second.WrittenSpan.ToArray());
        var expected = TestBatches.Concat(MakeData(70_000, 1), MakeData(2000, 2));

        var output = new ArrayBufferWriter<byte>();
        Assert.Equal(expected.Length, RecordCompression.Decompress(type, both, output, OneMiB));
        Assert.Equal(expected, output.WrittenSpan.ToArray());

        var segmented = new ArrayBufferWriter<byte>();
        RecordCompression.Decompress(type, SequenceHelper.Split(both, 777), segmented, OneMiB);
        Assert.Equal(expected, segmented.WrittenSpan.ToArray());
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Decompress_HundredMegabytesOfZerosWithOneMegabyteBound_ThrowsWithoutDecodingEverything(CompressionType type)
    {
        var bomb = MakeBomb(type);
        var output = new CountingWriter();
        var exception = Assert.Throws<CompressionException>(() => RecordCompression.Decompress(type, bomb, output, OneMiB));
        Assert.Equal(RecordBatchError.DecompressedSizeExceeded, exception.Error);
        Assert.Equal($"decompressed size exceeds {OneMiB} bytes", exception.Message);
        // Streaming decoders must stop right after the bound; snappy must refuse before writing at all.
        Assert.True(output.Total <= OneMiB + 1, $"wrote {output.Total} bytes");
        Assert.True(output.LargestRequest <= 2 * OneMiB, $"asked for {output.LargestRequest} bytes");

        Assert.Throws<CompressionException>(() => RecordCompression.Decompress(type, SequenceHelper.Split(bomb, 4096), new CountingWriter(), OneMiB));
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Decompress_ExactlyAtBound_Succeeds(CompressionType type)
    {
        var input = MakeData(5000, 3);
        var compressed = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(type, input, compressed);
        RecordCompression.Decompress(type, compressed.WrittenSpan, new ArrayBufferWriter<byte>(), 5000);
        Assert.Throws<CompressionException>(() => RecordCompression.Decompress(type, compressed.WrittenSpan, new ArrayBufferWriter<byte>(), 4999));
    }

    [Theory]
    [MemberData(nameof(Codecs))]
    public void Decompress_CorruptInput_ThrowsCompressionException(CompressionType type)
    {
        var compressed = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(type, MakeData(50_000, 5), compressed);
        var valid = compressed.WrittenSpan.ToArray();

        // Garbage.
        var garbage = new byte[500];
        new Random(1).NextBytes(garbage);
        var exception = Assert.Throws<CompressionException>(() => RecordCompression.Decompress(type, garbage, new ArrayBufferWriter<byte>(), OneMiB));
        Assert.Equal(RecordBatchError.CorruptCompressedData, exception.Error);
        Assert.Equal(2, exception.ErrorCode);

        // Truncated.
        Assert.Throws<CompressionException>(() => RecordCompression.Decompress(type, valid.AsSpan(0, valid.Length / 2), new ArrayBufferWriter<byte>(), OneMiB));

        // Bytes flipped in the middle: an error or (for codecs without checksums) different output, never a crash.
        TestSeed.Run(2, random =>
        {
            for (var round = 0; round < 200; round++)
            {
                var corrupt = (byte[])valid.Clone();
                corrupt[random.Next(16, corrupt.Length)] ^= (byte)(1 + random.Next(255));
                try
                {
                    RecordCompression.Decompress(type, corrupt, new ArrayBufferWriter<byte>(), OneMiB);
                }
                catch (CompressionException)
                {
                }
            }
        });
    }

    [Fact]
    public void Decompress_CompressedKafkaPythonBatches_MatchUncompressedRecordsSection()
    {
        var plain = Convert.FromBase64String(TestVectors.BatchNone).AsSpan(RecordBatchHeader.Size).ToArray();
        foreach (var name in new[] { nameof(TestVectors.BatchGzip), nameof(TestVectors.BatchSnappy), nameof(TestVectors.BatchLz4), nameof(TestVectors.BatchZstd) })
        {
            var batch = RecordBatchHeaderTests.Vector(name);
            using var scratch = new PooledBufferWriter();
            Assert.Equal(plain, RecordBatch.GetRecordsSection(batch, scratch, OneMiB).ToArray());
        }
    }

    [Fact]
    public void Decompress_UnknownType_Throws()
    {
        var exception = Assert.Throws<CompressionException>(() => RecordCompression.Decompress((CompressionType)5, [1, 2], new ArrayBufferWriter<byte>(), 10));
        Assert.Equal(76, exception.ErrorCode);
    }

    private static byte[] MakeBomb(CompressionType type)
    {
        var zeros = new byte[100 * OneMiB];
        var compressed = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(type, zeros, compressed);
        return compressed.WrittenSpan.ToArray();
    }

    private static byte[] MakeData(int size, int seed)
    {
        var random = new Random(seed);
        var data = new byte[size];
        for (var i = 0; i < size; i++)
        {
            // Runs of repeated bytes mixed with noise: compressible but not trivial.
            data[i] = (i / 16 % 4 == 0) ? (byte)random.Next(256) : (byte)(i % 13);
        }

        return data;
    }

    /// <summary>Counts bytes and never keeps them, so a bomb test cannot itself run out of memory.</summary>
    private sealed class CountingWriter : IBufferWriter<byte>
    {
        private byte[] _buffer = new byte[64 * 1024];

        public long Total { get; private set; }

        public int LargestRequest { get; private set; }

        public void Advance(int count) => Total += count;

        public Memory<byte> GetMemory(int sizeHint = 0) => Get(sizeHint);

        public Span<byte> GetSpan(int sizeHint = 0) => Get(sizeHint).Span;

        private Memory<byte> Get(int sizeHint)
        {
            LargestRequest = Math.Max(LargestRequest, sizeHint);
            if (sizeHint > _buffer.Length)
            {
                _buffer = new byte[sizeHint];
            }

            return _buffer;
        }
    }
}
