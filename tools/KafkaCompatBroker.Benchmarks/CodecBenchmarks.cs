using System.Buffers;
using BenchmarkDotNet.Attributes;
using KafkaCompatBroker.Perf;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Benchmarks;

/// <summary>
/// Record batch codecs on the records section of a batch of 1 KiB JSON-like records (<see cref="TextValues"/>,
/// 16-byte keys), as a client compresses it and the broker decompresses it. MB/s = BatchSize / Mean.
/// gzip is System.IO.Compression, snappy Snappier, lz4 K4os.Compression.LZ4.Streams, zstd ZstdSharp.Port (issue 15
/// compared them with the system C libraries they replaced; see the README).
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private const int RecordSize = 1024;
    private const int MaxDecompressedBytes = 64 * 1024 * 1024;

    private readonly PooledBufferWriter _output = new();
    private byte[] _records = [];
    private byte[] _compressed = [];

    [Params(CompressionType.Gzip, CompressionType.Snappy, CompressionType.Lz4, CompressionType.Zstd)]
    public CompressionType Codec { get; set; }

    /// <summary>Uncompressed size of the records section: a 16 KiB and a 1 MiB producer batch.</summary>
    [Params(16 * 1024, 1024 * 1024)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        using var builder = new RecordBatchBuilder(CompressionType.None, producerId: 1, producerEpoch: 0, baseSequence: 0);
        var key = new byte[16];
        var count = 0;
        using var batch = new PooledBufferWriter();
        do
        {
            random.NextBytes(key);
            builder.Append(1_700_000_000_000 + count, key, TextValues.Create(random, RecordSize));
            batch.Clear();
            builder.WriteTo(batch);
            count++;
        }
        while (batch.WrittenCount - RecordBatchHeader.Size < BatchSize - RecordSize - 64);

        _records = batch.WrittenSpan[RecordBatchHeader.Size..].ToArray();
        var compressed = new ArrayBufferWriter<byte>();
        RecordCompression.Compress(Codec, _records, compressed);
        _compressed = compressed.WrittenSpan.ToArray();
        Console.WriteLine($"// {Codec} {BatchSize}: {count} records, {_records.Length} bytes -> {_compressed.Length} ({(double)_records.Length / _compressed.Length:F2}x)");
    }

    [GlobalCleanup]
    public void Cleanup() => _output.Dispose();

    [Benchmark]
    public int Compress()
    {
        _output.Clear();
        return RecordCompression.Compress(Codec, _records, _output);
    }

    [Benchmark]
    public int Decompress()
    {
        _output.Clear();
        return RecordCompression.Decompress(Codec, _compressed, _output, MaxDecompressedBytes);
    }
}
