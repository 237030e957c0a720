using BenchmarkDotNet.Attributes;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Benchmarks;

/// <summary>
/// CRC32C throughput. Each invocation checksums <see cref="Size"/> bytes, so GB/s = Size / Mean(ns).
/// TablePath is the portable slicing-by-8 fallback used where no CRC instruction exists; SystemIoHashing is
/// System.IO.Hashing's Crc32 with its CRC-32C parameter set (issue 15: kept only if the in-house code is not clearly faster).
/// </summary>
[MemoryDiagnoser]
public class Crc32CBenchmarks
{
    private byte[] _data = [];

    [Params(64 * 1024, 1024 * 1024)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _data = new byte[Size];
        new Random(42).NextBytes(_data);
    }

    [Benchmark(Baseline = true)]
    public uint Hardware() => Crc32C.Compute(_data);

    [Benchmark]
    public uint TablePath() => Crc32C.AppendTable(0, _data);

    [Benchmark]
    public uint SystemIoHashing() => System.IO.Hashing.Crc32.HashToUInt32(System.IO.Hashing.Crc32ParameterSet.Crc32C, _data);
}
