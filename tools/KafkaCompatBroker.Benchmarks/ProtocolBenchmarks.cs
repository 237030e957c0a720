using System.Buffers;
using BenchmarkDotNet.Attributes;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Benchmarks;

/// <summary>
/// Decoding a Produce request and encoding a Fetch response with the generated codecs. The record
/// sets are opaque to the codec (a Produce decode slices them, a Fetch encode copies them once), so
/// their content does not matter here.
/// </summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private const short ProduceVersion = 9;
    private const short FetchVersion = 12;
    private byte[] _produceRequest = [];
    private readonly ProduceRequest _reusedProduceRequest = new();
    private FetchResponse _fetchResponse = new();
    private readonly ArrayBufferWriter<byte> _output = new(1 << 20);

    [GlobalSetup]
    public void Setup()
    {
        var batch = new byte[16 * 1024];
        new Random(1).NextBytes(batch);
        var request = new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 30_000,
            TopicData = [new ProduceRequest.TopicProduceData
            {
                Name = "bench-topic",
                PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = new ReadOnlySequence<byte>(batch) }],
            }],
        };
        var buffer = new ArrayBufferWriter<byte>();
        request.Write(buffer, ProduceVersion);
        _produceRequest = buffer.WrittenSpan.ToArray();

        var topic = new FetchResponse.FetchableTopicResponse { Topic = "bench-topic" };
        for (var p = 0; p < 8; p++)
        {
            var records = new byte[64 * 1024];
            new Random(p).NextBytes(records);
            topic.Partitions.Add(new FetchResponse.PartitionData { PartitionIndex = p, HighWatermark = 1_000_000, LastStableOffset = 1_000_000, LogStartOffset = 0, Records = new ReadOnlySequence<byte>(records) });
        }

        _fetchResponse = new FetchResponse { SessionId = 1, Responses = [topic] };
    }

    [Benchmark]
    public int ProduceRequestDecode()
    {
        var request = new ProduceRequest();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_produceRequest));
        request.Read(ref reader, ProduceVersion);
        return request.TopicData.Count;
    }

    /// <summary>The same decode into one reused request, as the dispatcher does per connection: nothing allocated.</summary>
    [Benchmark]
    public int ProduceRequestDecodeReused()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(_produceRequest));
        _reusedProduceRequest.Read(ref reader, ProduceVersion);
        return _reusedProduceRequest.TopicData.Count;
    }

    /// <summary>8 partitions × 64 KiB of records.</summary>
    [Benchmark]
    public int FetchResponseEncode()
    {
        _output.ResetWrittenCount();
        var size = _fetchResponse.ComputeSize(FetchVersion);
        _fetchResponse.Write(_output, FetchVersion);
        return size;
    }
}
