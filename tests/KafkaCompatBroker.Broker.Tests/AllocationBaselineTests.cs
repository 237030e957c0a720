using System.Buffers;
using System.IO.Pipelines;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;
using Xunit.Abstractions;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// Issue 7: managed bytes allocated per Produce and per Fetch request through the dispatcher (decode,
/// handler, log append/read, response encode) must not grow past a checked-in baseline. Both paths
/// complete synchronously here (no long-poll, no back-pressure), so the calling thread's allocation
/// counter sees every byte the request allocates. Deterministic: a warm-up first, then the average
/// over many requests; no timing. To re-measure after a change, run
/// `dotnet test tests/KafkaCompatBroker.Broker.Tests -c Release --filter FullyQualifiedName~AllocationBaseline`
/// and read the measured figure in the test output (or the failure message); the
/// DispatcherBenchmarks in tools/KafkaCompatBroker.Benchmarks show the same path with BenchmarkDotNet.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class AllocationBaselineTests(ITestOutputHelper output) : IDisposable
{
    // Measured bytes per request + a small margin. Lower these when an allocation is removed.
    // Measured (x64, .NET 10): Produce v9 / v13 / idempotent 16, Fetch v11 / v16 / incremental / read_committed 0.
    // A connection reuses its request header, context, decoded Produce/Fetch requests (their strings kept
    // when the bytes spell them again) and the handlers' response objects, so nothing is allocated per
    // request; Produce's 16 bytes are the log's in-memory offset index growing (amortized, per batch).
    // Before that reuse: Produce ~1,000 and Fetch ~1,700 bytes (the request and response message objects).
    private const long ProduceBaselineBytes = 64;
    private const long FetchBaselineBytes = 32;

    // Produce of one ~10 KiB compressed batch, its decompression included. Measured (x64, .NET 10): gzip 384
    // (GZipStream and its input stream), lz4 374 (K4os's frame reader and block decoder; the block buffers are
    // pooled), snappy 138 (Snappier's decompressor object), zstd 40 (a thread's ZstdSharp context is reused).
    private const long CompressedProduceBaselineBytes = 420;

    private const int WarmUp = 300;
    private const int Measured = 2000;

    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(9)]
    [InlineData(13)]
    public void Produce_WarmRequest_AllocatesAtMostBaseline(short version)
    {
        var topicId = DataPath.CreateTopic(_broker, "alloc");
        var request = DataPath.Produce("alloc", 0, DataPath.Batch(10, valueSize: 100), acks: -1, topicId: topicId);
        var frame = Frame(ApiKey.Produce, version, request);

        var perRequest = Measure(frame);

        output.WriteLine($"Produce v{version}: {perRequest} bytes per request (baseline {ProduceBaselineBytes})");
        Assert.True(perRequest <= ProduceBaselineBytes, $"Produce v{version} allocates {perRequest} bytes per request, more than the baseline {ProduceBaselineBytes}. Remove the new allocation, or (if it is needed) set ProduceBaselineBytes to the measured figure + ~5%.");
    }

    [Fact]
    public void Produce_IdempotentProducerBatches_AllocatesAtMostBaseline()
    {
        // An idempotent producer's batches (sequence 0, 10, 20, ...) go through the producer-state checks.
        var topicId = DataPath.CreateTopic(_broker, "alloc");
        var frames = new byte[WarmUp + Measured][];
        for (var i = 0; i < frames.Length; i++)
        {
            var batch = IdempotentBatch(producerId: 4000, baseSequence: i * 10, count: 10);
            frames[i] = Frame(ApiKey.Produce, 13, DataPath.Produce("alloc", 0, batch, topicId: topicId));
        }

        var perRequest = Measure(frames);

        output.WriteLine($"Produce v13 idempotent: {perRequest} bytes per request (baseline {ProduceBaselineBytes})");
        Assert.True(perRequest <= ProduceBaselineBytes, $"an idempotent Produce v13 allocates {perRequest} bytes per request, more than the baseline {ProduceBaselineBytes}. Remove the new allocation, or (if it is needed) set ProduceBaselineBytes to the measured figure + ~5%.");
    }

    [Fact]
    public void Produce_HundredRecordBatch_AllocatesNoMoreThanOneRecordBatch()
    {
        // No per-record allocation: the records go from the request buffer to the log untouched. Both
        // batches are ~11 KiB, so the log's in-memory index grows (amortized) at the same rate for both.
        var topicId = DataPath.CreateTopic(_broker, "alloc");
        var small = Measure(Frame(ApiKey.Produce, 13, DataPath.Produce("alloc", 0, DataPath.Batch(1, valueSize: 11_000), topicId: topicId)));
        var large = Measure(Frame(ApiKey.Produce, 13, DataPath.Produce("alloc", 0, DataPath.Batch(100, valueSize: 100), topicId: topicId)));

        output.WriteLine($"Produce v13: {small} bytes per 1-record request, {large} bytes per 100-record request");
        // One object per record would be ≥ 2,400 bytes; the margin is for the index's amortized growth.
        Assert.True(large < small + 100, $"a 100-record batch allocates {large} bytes per request, a 1-record batch {small}: something allocates per record");
    }

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Snappy)]
    [InlineData(CompressionType.Lz4)]
    [InlineData(CompressionType.Zstd)]
    public void Produce_CompressedBatch_AllocatesAtMostCodecBaseline(CompressionType compression)
    {
        // The log decompresses every client batch to check its records (as Kafka's LogValidator does): the codec
        // must reuse its buffers and contexts, and allocate nothing per record.
        var topicId = DataPath.CreateTopic(_broker, "alloc");
        var small = Measure(Frame(ApiKey.Produce, 9, DataPath.Produce("alloc", 0, DataPath.Batch(1, compression: compression, valueSize: 10_000), topicId: topicId)));
        var large = Measure(Frame(ApiKey.Produce, 9, DataPath.Produce("alloc", 0, DataPath.Batch(100, compression: compression, valueSize: 100), topicId: topicId)));

        output.WriteLine($"Produce v9 {compression}: {small} bytes per 1-record request, {large} bytes per 100-record request (baseline {CompressedProduceBaselineBytes})");
        Assert.True(large <= CompressedProduceBaselineBytes, $"a {compression} Produce allocates {large} bytes per request, more than the baseline {CompressedProduceBaselineBytes}. Remove the new allocation, or (if it is needed) set CompressedProduceBaselineBytes to the measured figure + ~5%.");
        Assert.True(large < small + 100, $"a 100-record {compression} batch allocates {large} bytes per request, a 1-record batch {small}: something allocates per record");
    }

    [Theory]
    [InlineData(11)]
    [InlineData(16)]
    public void Fetch_WarmRequest_AllocatesAtMostBaseline(short version)
    {
        var topicId = DataPath.CreateTopic(_broker, "alloc");
        var produce = Frame(ApiKey.Produce, 9, DataPath.Produce("alloc", 0, DataPath.Batch(10, valueSize: 100)));
        for (var i = 0; i < 20; i++)
        {
            Process(produce);
        }

        // A sessionless consumer fetch from offset 0: every batch up to 64 KiB, no waiting.
        var frame = Frame(ApiKey.Fetch, version, FetchFrom(topicId, sessionId: 0, epoch: -1));

        var perRequest = Measure(frame);

        output.WriteLine($"Fetch v{version}: {perRequest} bytes per request (baseline {FetchBaselineBytes})");
        Assert.True(perRequest <= FetchBaselineBytes, $"Fetch v{version} allocates {perRequest} bytes per request, more than the baseline {FetchBaselineBytes}. Remove the new allocation, or (if it is needed) set FetchBaselineBytes to the measured figure + ~5%.");
    }

    [Theory]
    [InlineData(11)]
    [InlineData(16)]
    public void Fetch_WarmRequestThroughFileRegionWriter_AllocatesAtMostBaseline(short version)
    {
        // The socket writer's path: the records leave as a file region (sendfile), not copied.
        var topicId = DataPath.CreateTopic(_broker, "alloc");
        var produce = Frame(ApiKey.Produce, 9, DataPath.Produce("alloc", 0, DataPath.Batch(10, valueSize: 100)));
        for (var i = 0; i < 20; i++)
        {
            Process(produce);
        }

        _fileOutput = new DiscardingFileRegionWriter();
        var frame = Frame(ApiKey.Fetch, version, FetchFrom(topicId, sessionId: 0, epoch: -1));

        var perRequest = Measure(frame);

        Process(frame);
        Assert.Equal(1, _fileOutput.FileRegions);
        output.WriteLine($"Fetch v{version} through the file-region writer: {perRequest} bytes per request (baseline {FetchBaselineBytes})");
        Assert.True(perRequest <= FetchBaselineBytes, $"Fetch v{version} through the file-region writer allocates {perRequest} bytes per request, more than the baseline {FetchBaselineBytes}.");
    }

    [Fact]
    public async Task Fetch_ReadCommittedWithAbortedTransaction_AllocatesAtMostBaseline()
    {
        // librdkafka's default isolation: the response lists the aborted transactions within the data.
        // (segment.ms: the marker carries the broker's clock, the batches an old timestamp, which would roll.)
        var topicId = DataPath.CreateTopic(_broker, "alloc", 1, ("segment.ms", "9223372036854775807"));
        var produce = Frame(ApiKey.Produce, 9, DataPath.Produce("alloc", 0, DataPath.Batch(10, valueSize: 100)));
        for (var i = 0; i < 5; i++)
        {
            Process(produce);
        }

        var abortedOffset = _broker.Replicas.GetLog("alloc", 0)!.LogEndOffset;
        Process(Frame(ApiKey.Produce, 9, DataPath.Produce("alloc", 0, IdempotentBatch(producerId: 77, baseSequence: 0, count: 3, transactional: true))));
        var abort = new WriteTxnMarkersRequest();
        abort.Markers.Add(new WriteTxnMarkersRequest.WritableTxnMarker
        {
            ProducerId = 77,
            TransactionResult = false,
            Topics = [new WriteTxnMarkersRequest.WritableTxnMarkerTopic { Name = "alloc", PartitionIndexes = [0] }],
        });
        await BrokerExchange.SendAsync<WriteTxnMarkersResponse>(_broker, ApiKey.WriteTxnMarkers, 1, abort);
        for (var i = 0; i < 5; i++)
        {
            Process(produce);
        }

        var request = FetchFrom(topicId, sessionId: 0, epoch: -1);
        request.IsolationLevel = 1;

        var perRequest = Measure(Frame(ApiKey.Fetch, 16, request));

        // The measured responses carried the aborted transaction.
        var response = await BrokerExchange.SendAsync<FetchResponse>(_broker, ApiKey.Fetch, 16, request);
        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        Assert.Equal((77L, abortedOffset), (Assert.Single(partition.AbortedTransactions!).ProducerId, partition.AbortedTransactions![0].FirstOffset));
        output.WriteLine($"Fetch v16 read_committed: {perRequest} bytes per request (baseline {FetchBaselineBytes})");
        Assert.True(perRequest <= FetchBaselineBytes, $"a read_committed Fetch v16 allocates {perRequest} bytes per request, more than the baseline {FetchBaselineBytes}. Remove the new allocation, or (if it is needed) set FetchBaselineBytes to the measured figure + ~5%.");
    }

    [Fact]
    public async Task Fetch_IncrementalSessionRequest_AllocatesAtMostBaseline()
    {
        // What a Java consumer sends: a full fetch opens a session (epoch 0), then incremental fetches
        // (epoch 1, 2, ...) name no partitions and get the session's partitions with data.
        var topicId = DataPath.CreateTopic(_broker, "alloc");
        var produce = Frame(ApiKey.Produce, 9, DataPath.Produce("alloc", 0, DataPath.Batch(10, valueSize: 100)));
        for (var i = 0; i < 20; i++)
        {
            Process(produce);
        }

        var open = FetchFrom(topicId, sessionId: 0, epoch: 0);
        var opened = await BrokerExchange.SendAsync<FetchResponse>(_broker, ApiKey.Fetch, 16, open);
        Assert.NotEqual(0, opened.SessionId);
        var frames = new byte[WarmUp + Measured][];
        for (var i = 0; i < frames.Length; i++)
        {
            var next = new FetchRequest { ReplicaId = -1, MaxWaitMs = 0, MinBytes = 1, MaxBytes = 1024 * 1024, SessionId = opened.SessionId, SessionEpoch = i + 1 };
            frames[i] = Frame(ApiKey.Fetch, 16, next);
        }

        var perRequest = Measure(frames);

        // The measured responses carried the records (an incremental response leaves out partitions without changes).
        var last = await BrokerExchange.SendAsync<FetchResponse>(_broker, ApiKey.Fetch, 16, new FetchRequest { ReplicaId = -1, MaxBytes = 1024 * 1024, SessionId = opened.SessionId, SessionEpoch = frames.Length + 1 });
        Assert.True(Assert.Single(Assert.Single(last.Responses).Partitions).Records?.Length > 0);
        output.WriteLine($"Fetch v16 incremental: {perRequest} bytes per request (baseline {FetchBaselineBytes})");
        Assert.True(perRequest <= FetchBaselineBytes, $"an incremental Fetch v16 allocates {perRequest} bytes per request, more than the baseline {FetchBaselineBytes}. Remove the new allocation, or (if it is needed) set FetchBaselineBytes to the measured figure + ~5%.");
    }

    private static FetchRequest FetchFrom(KafkaUuid topicId, int sessionId, int epoch)
    {
        var request = new FetchRequest { ReplicaId = -1, MaxWaitMs = 0, MinBytes = 1, MaxBytes = 1024 * 1024, IsolationLevel = 0, SessionId = sessionId, SessionEpoch = epoch };
        request.Topics.Add(new FetchRequest.FetchTopic
        {
            Topic = "alloc",
            TopicId = topicId,
            Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 64 * 1024, CurrentLeaderEpoch = -1, LogStartOffset = -1 }],
        });
        return request;
    }

    private static byte[] Frame(ApiKey key, short version, IKafkaMessage body)
    {
        var frame = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = 7, ClientId = "alloc-test" }
            .Write(frame, KafkaApis.RequestHeaderVersion(key, version));
        body.Write(frame, version);
        return frame.WrittenSpan.ToArray();
    }

    private static byte[] IdempotentBatch(long producerId, int baseSequence, int count, bool transactional = false)
    {
        using var builder = new RecordBatchBuilder(CompressionType.None, producerId, producerEpoch: 0, baseSequence: baseSequence, isTransactional: transactional);
        var value = new byte[100];
        for (var i = 0; i < count; i++)
        {
            builder.Append(1_700_000_000_000 + i, new[] { (byte)i }, value);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    private long Measure(byte[] frame)
    {
        var frames = new byte[WarmUp + Measured][];
        Array.Fill(frames, frame);
        return Measure(frames);
    }

    /// <summary>Sends frames[0..WarmUp) to warm up, then the rest, and returns the bytes allocated per measured request.</summary>
    private long Measure(byte[][] frames)
    {
        for (var i = 0; i < WarmUp; i++)
        {
            Process(frames[i]);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = WarmUp; i < WarmUp + Measured; i++)
        {
            Process(frames[i]);
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / Measured;
    }

    private readonly DiscardingPipeWriter _output = new();

    // When set, responses go through the socket writer's zero-copy path instead of _output.
    private DiscardingFileRegionWriter? _fileOutput;

    // This test's own connection: the dispatcher reuses a connection's objects, which the test broker's own
    // connection shares with every request BrokerExchange sends (a request that finds them in use allocates new ones).
    private readonly KafkaConnection _connection = new("alloc-test-connection", "PLAINTEXT", null);

    private void Process(byte[] frame)
    {
        PipeWriter writer = _fileOutput is null ? _output : _fileOutput;
        _fileOutput?.Reset();
        var pending = _broker.Dispatcher.ProcessAsync(_connection, new ReadOnlySequence<byte>(frame), writer, CancellationToken.None);
        var written = _fileOutput?.Sent ?? _output.Written;
        // Synchronous completion is what makes the thread's allocation counter see the whole request.
        // Plain checks: xunit's Assert.Equal would box the enum and count against the request.
        if (!pending.IsCompletedSuccessfully || pending.Result != RequestOutcome.Continue || written <= 4)
        {
            Assert.Fail($"the request did not complete synchronously with a response (completed: {pending.IsCompletedSuccessfully}, {written} bytes written)");
        }

        _output.Reset();
    }
}
