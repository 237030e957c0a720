using System.Buffers;
using BenchmarkDotNet.Attributes;
using KafkaCompatBroker.Perf;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Benchmarks;

/// <summary>
/// Record batch codecs on the records section of a batch of 1 KiB JSON-like records (<see cref="TextValues"/>,
/// 16-byte keys), as a client compresses it and the broker decompresses it. MB/s = BatchSize / Mean.
/// Codec is "codec" or "codec-implementation": native is the system C library (libsnappy, liblz4, libzstd),
/// managed the NuGet package (Snappier, K4os.Compression.LZ4, ZstdSharp.Port); gzip is System.IO.Compression.
/// </summary>
[MemoryDiagnoser]
public class CodecBenchmarks
{
    private const int RecordSize = 1024;
    private const int MaxDecompressedBytes = 64 * 1024 * 1024;

    private readonly PooledBufferWriter _output = new();
    private byte[] _records = [];
    private byte[] _compressed = [];
    private CompressionType _type;

    public static IEnumerable<string> Codecs() =>
        ["gzip", "snappy-native", "snappy-managed", "lz4-native", "lz4-managed", "zstd-native", "zstd-managed"];

    [ParamsSource(nameof(Codecs))]
    public string Codec { get; set; } = "";

    /// <summary>Uncompressed size of the records section: a 16 KiB and a 1 MiB producer batch.</summary>
    [Params(16 * 1024, 1024 * 1024)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var name = Codec.Split('-');
        _type = Enum.Parse<CompressionType>(name[0], ignoreCase: true);
        RecordCompression.UseNativeCodecs = name.Length > 1 && name[1] == "native";

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
        RecordCompression.Compress(_type, _records, compressed);
        _compressed = compressed.WrittenSpan.ToArray();
        Console.WriteLine($"// {Codec} {BatchSize}: {count} records, {_records.Length} bytes -> {_compressed.Length} ({(double)_records.Length / _compressed.Length:F2}x)");
    }

    [GlobalCleanup]
    public void Cleanup() => _output.Dispose();

    [Benchmark]
    public int Compress()
    {
        _output.Clear();
        return RecordCompression.Compress(_type, _records, _output);
    }

    [Benchmark]
    public int Decompress()
    {
        _output.Clear();
        return RecordCompression.Decompress(_type, _compressed, _output, MaxDecompressedBytes);
    }
}
