using System.Buffers;
using System.Collections;
using BenchmarkDotNet.Attributes;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Broker.Tests;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Benchmarks;

/// <summary>
/// One Produce (v9, a 10-record batch, acks=-1) and one Fetch (v16, sessionless, ~25 KiB from offset 0)
/// request through the request dispatcher of an in-process broker: decode, handler, log append/read,
/// response encode into a reused buffer. The Allocated column is what
/// tests/KafkaCompatBroker.Broker.Tests/AllocationBaselineTests.cs holds to a baseline.
/// Run: dotnet run -c Release --project tools/KafkaCompatBroker.Benchmarks -- --filter '*DispatcherBenchmarks*' --job short
/// </summary>
[MemoryDiagnoser]
public class DispatcherBenchmarks
{
    private static readonly KafkaConnection Connection = new("bench-connection", "PLAINTEXT", null);

    private readonly DiscardingPipeWriter _output = new();
    private string _dataDir = "";
    private KafkaBroker? _broker;
    private RequestDispatcher? _dispatcher;
    private byte[] _produce = [];
    private byte[] _fetch = [];

    [GlobalSetup]
    public void Setup()
    {
        _dataDir = Path.Combine(Path.GetTempPath(), "kcb-dispatch-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dataDir);
        var config = BrokerConfig.Load($"log.dirs={_dataDir}\nlisteners=PLAINTEXT://127.0.0.1:9092\n", [], new Hashtable());
        // The server's own composition root, without listeners: requests go straight to the dispatcher.
        _broker = new BrokerBuilder(config, NullLoggerFactory.Instance) { BindListeners = false }.StartAsync().GetAwaiter().GetResult();
        _dispatcher = _broker.Dispatcher;
        var topicId = _broker.Context.Metadata.Controller.CreateTopicAsync("bench", 1, 1).AsTask().GetAwaiter().GetResult().TopicId;

        var produce = new ProduceRequest { Acks = -1, TimeoutMs = 1000 };
        produce.TopicData.Add(new ProduceRequest.TopicProduceData
        {
            Name = "bench",
            PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = new ReadOnlySequence<byte>(Batch()) }],
        });
        _produce = Frame(ApiKey.Produce, 9, produce);
        for (var i = 0; i < 20; i++)
        {
            Process(_produce);
        }

        var fetch = new FetchRequest { ReplicaId = -1, MaxWaitMs = 0, MinBytes = 1, MaxBytes = 1024 * 1024, SessionEpoch = -1 };
        fetch.Topics.Add(new FetchRequest.FetchTopic
        {
            TopicId = topicId,
            Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 64 * 1024, CurrentLeaderEpoch = -1, LogStartOffset = -1 }],
        });
        _fetch = Frame(ApiKey.Fetch, 16, fetch);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _broker!.DisposeAsync().AsTask().GetAwaiter().GetResult();
        Directory.Delete(_dataDir, recursive: true);
    }

    [Benchmark]
    public int Produce() => Process(_produce);

    [Benchmark]
    public int Fetch() => Process(_fetch);

    private int Process(byte[] frame)
    {
        var pending = _dispatcher!.ProcessAsync(Connection, new ReadOnlySequence<byte>(frame), _output, CancellationToken.None);
        if (!pending.IsCompletedSuccessfully || pending.Result != RequestOutcome.Continue)
        {
            throw new InvalidOperationException("the request did not complete synchronously");
        }

        var written = _output.Written;
        _output.Reset();
        return written;
    }

    private static byte[] Batch()
    {
        using var builder = new RecordBatchBuilder(CompressionType.None);
        var key = new byte[1];
        var value = new byte[100];
        for (var i = 0; i < 10; i++)
        {
            key[0] = (byte)i;
            builder.Append(1_700_000_000_000 + i, key, value);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    private static byte[] Frame(ApiKey key, short version, IKafkaMessage body)
    {
        var frame = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = 7, ClientId = "bench" }
            .Write(frame, KafkaApis.RequestHeaderVersion(key, version));
        body.Write(frame, version);
        return frame.WrittenSpan.ToArray();
    }
}
