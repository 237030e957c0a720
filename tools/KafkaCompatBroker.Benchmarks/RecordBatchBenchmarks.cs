using System.Buffers;
using BenchmarkDotNet.Attributes;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Benchmarks;

/// <summary>Decoding a v2 batch: header only, full validation (CRC), and iterating all 1,000 records.</summary>
[MemoryDiagnoser]
public class RecordBatchBenchmarks
{
    private const int RecordCount = 1000;

    private byte[] _batch = [];
    private ReadOnlySequence<byte> _sequence;

    [GlobalSetup]
    public void Setup()
    {
        using var builder = new RecordBatchBuilder(CompressionType.None, producerId: 1, producerEpoch: 0, baseSequence: 0);
        var value = new byte[100];
        var key = new byte[16];
        var headers = new[] { new RecordHeader("trace-id", new byte[16]) };
        for (var i = 0; i < RecordCount; i++)
        {
            value.AsSpan().Fill((byte)i);
            builder.Append(1_700_000_000_000 + i, key, value, headers);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        _batch = output.WrittenSpan.ToArray();
        _sequence = new ReadOnlySequence<byte>(_batch);
    }

    [Benchmark]
    public long DecodeHeader()
    {
        RecordBatchHeader.TryRead(_sequence, out var header);
        return header.LastOffset;
    }

    [Benchmark]
    public long ValidateBatch() => RecordBatch.Validate(_batch).LastOffset;

    [Benchmark(OperationsPerInvoke = RecordCount)]
    public long IterateRecords()
    {
        var header = RecordBatchHeader.Read(_batch);
        long sum = 0;
        foreach (var record in new RecordReader(header, _batch.AsSpan(RecordBatchHeader.Size, header.RecordsSize)))
        {
            sum += record.Offset + record.Key.Length + record.Value.Length + record.HeaderCount;
        }

        return sum;
    }
}
