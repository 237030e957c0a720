using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>Idempotent and transactional data on the broker's data path: Produce checks, read_committed Fetch and ListOffsets, DescribeProducers, WriteTxnMarkers.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class TransactionDataPathTests : IDisposable
{
    private const long T0 = 1_700_000_000_000;
    // Long polls in these tests wait up to 10 s; the clock tells when one has parked.
    private readonly FetchParkingClock _clock = new(TimeSpan.FromSeconds(10));
    private readonly TestBroker _broker;

    public TransactionDataPathTests() => _broker = new(time: _clock);

    public void Dispose() => _broker.Dispose();

    private static byte[] Batch(long producerId, short epoch, int sequence, int count = 1, bool transactional = false)
    {
        using var builder = new RecordBatchBuilder(CompressionType.None, producerId, epoch, sequence, transactional);
        for (var i = 0; i < count; i++)
        {
            builder.Append(T0 + i, "k"u8, "v"u8);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    private Task<WriteTxnMarkersResponse> WriteMarkerAsync(short version, long producerId, short epoch, bool commit, string topic = "t", int coordinatorEpoch = 0)
    {
        var request = new WriteTxnMarkersRequest();
        request.Markers.Add(new WriteTxnMarkersRequest.WritableTxnMarker
        {
            ProducerId = producerId,
            ProducerEpoch = epoch,
            TransactionResult = commit,
            CoordinatorEpoch = coordinatorEpoch,
            TransactionVersion = (sbyte)(version >= 2 ? 2 : 0),
            Topics = [new WriteTxnMarkersRequest.WritableTxnMarkerTopic { Name = topic, PartitionIndexes = [0] }],
        });
        return BrokerExchange.SendAsync<WriteTxnMarkersResponse>(_broker, ApiKey.WriteTxnMarkers, version, request);
    }

    // The markers carry the broker's clock, the data batches T0: without this, segment.ms would roll at the first marker.
    private KafkaUuid CreateTopic() => DataPath.CreateTopic(_broker, "t", 1, ("segment.ms", "9223372036854775807"));

    private static short MarkerError(WriteTxnMarkersResponse response) =>
        Assert.Single(Assert.Single(Assert.Single(response.Markers).Topics).Partitions).ErrorCode;

    [Theory]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(9)]
    [InlineData(12)]
    public async Task Produce_DuplicateBatch_ReturnsOriginalBaseOffsetWithoutError(short version)
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2), version);
        var first = await DataPath.ProduceAsync(_broker, "t", Batch(42, 0, 0, count: 3), version);
        var retry = await DataPath.ProduceAsync(_broker, "t", Batch(42, 0, 0, count: 3), version);

        Assert.Equal((0, 2L), (retry.ErrorCode, retry.BaseOffset));
        Assert.Equal(first.BaseOffset, retry.BaseOffset);
        Assert.Equal(5, _broker.Replicas.GetLog("t", 0)!.LogEndOffset);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(12)]
    public async Task Produce_SequenceGap_OutOfOrderSequenceNumber(short version)
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", Batch(42, 0, 0), version);

        var gap = await DataPath.ProduceAsync(_broker, "t", Batch(42, 0, 5), version);

        Assert.Equal((short)ErrorCode.OutOfOrderSequenceNumber, gap.ErrorCode);
        Assert.Equal(-1, gap.BaseOffset);
        if (version >= 8)
        {
            Assert.Contains("Out of order sequence number for producer 42", gap.ErrorMessage);
        }
        else
        {
            Assert.Null(gap.ErrorMessage);
        }
    }

    [Fact]
    public async Task Produce_FencedEpoch_InvalidProducerEpoch()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", Batch(42, 3, 0));

        var old = await DataPath.ProduceAsync(_broker, "t", Batch(42, 2, 1));

        Assert.Equal((short)ErrorCode.InvalidProducerEpoch, old.ErrorCode);
        Assert.Contains("smaller than the last seen epoch 3", old.ErrorMessage);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(17)]
    public async Task Fetch_ReadCommitted_StopsAtLsoAndListsAbortedTransactions(short version)
    {
        var id = CreateTopic();
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2));                       // 0-1
        await DataPath.ProduceAsync(_broker, "t", Batch(7, 0, 0, count: 2, transactional: true)); // 2-3, aborted below
        Assert.Equal(0, MarkerError(await WriteMarkerAsync(1, 7, 0, commit: false)));      // 4
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1));                       // 5
        await DataPath.ProduceAsync(_broker, "t", Batch(8, 0, 0, transactional: true));     // 6, still open

        var committed = Assert.Single(Assert.Single((await FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("t", 0, topicId: id, isolation: 1), version)).Responses).Partitions);
        var uncommitted = Assert.Single(Assert.Single((await FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("t", 0, topicId: id), version)).Responses).Partitions);

        Assert.Equal(7, committed.HighWatermark);
        Assert.Equal(6, committed.LastStableOffset);
        Assert.Equal([(0L, 2), (2L, 2), (4L, 1), (5L, 1)], DataPath.Batches(committed.Records));
        var aborted = Assert.Single(committed.AbortedTransactions!);
        Assert.Equal((7L, 2L), (aborted.ProducerId, aborted.FirstOffset));

        Assert.Null(uncommitted.AbortedTransactions);
        Assert.Equal(5, DataPath.Batches(uncommitted.Records).Count);

        // Past the aborted transaction, the list is empty (not null) for read_committed.
        var later = Assert.Single(Assert.Single((await FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("t", 5, topicId: id, isolation: 1), version)).Responses).Partitions);
        Assert.Empty(later.AbortedTransactions!);
        Assert.Equal([(5L, 1)], DataPath.Batches(later.Records));
    }

    [Fact]
    public async Task Fetch_ReadCommittedLongPoll_WakesWhenCommitMarkerMovesLso()
    {
        CreateTopic();
        await DataPath.ProduceAsync(_broker, "t", Batch(8, 0, 0, transactional: true));

        var fetch = FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("t", 0, maxWaitMs: 10_000, minBytes: 1, isolation: 1));
        await _clock.WaitUntilParkedAsync();
        Assert.False(fetch.IsCompleted);
        Assert.Equal(0, MarkerError(await WriteMarkerAsync(2, 8, 0, commit: true)));

        var partition = Assert.Single(Assert.Single((await fetch.WaitAsync(TimeSpan.FromSeconds(5))).Responses).Partitions);
        Assert.Equal(2, partition.LastStableOffset);
        Assert.Equal([(0L, 1), (1L, 1)], DataPath.Batches(partition.Records));
    }

    [Theory]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(11)]
    public async Task ListOffsets_ReadCommittedLatest_IsTheLastStableOffset(short version)
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(3));
        await DataPath.ProduceAsync(_broker, "t", Batch(8, 0, 0, count: 2, transactional: true));

        async Task<long> LatestAsync(sbyte isolation, long timestamp = -1)
        {
            var request = new ListOffsetsRequest { ReplicaId = -1, IsolationLevel = isolation };
            request.Topics.Add(new ListOffsetsRequest.ListOffsetsTopic { Name = "t", Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = timestamp }] });
            var response = await BrokerExchange.SendAsync<ListOffsetsResponse>(_broker, ApiKey.ListOffsets, version, request);
            return Assert.Single(Assert.Single(response.Topics).Partitions).Offset;
        }

        Assert.Equal(3, await LatestAsync(1));
        Assert.Equal(5, await LatestAsync(0));

        // A timestamp lookup landing in the open transaction finds nothing for read_committed.
        Assert.Equal(-1, await LatestAsync(1, T0 + 1_000_000_000));
    }

    [Fact]
    public async Task DescribeProducers_V0_ListsActiveProducersAndPartitionErrors()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1));
        await DataPath.ProduceAsync(_broker, "t", Batch(42, 1, 0, count: 3));
        await DataPath.ProduceAsync(_broker, "t", Batch(43, 0, 0, transactional: true));

        var request = new DescribeProducersRequest();
        request.Topics.Add(new DescribeProducersRequest.TopicRequest { Name = "t", PartitionIndexes = [0, 5] });
        request.Topics.Add(new DescribeProducersRequest.TopicRequest { Name = "missing", PartitionIndexes = [0] });
        var response = await BrokerExchange.SendAsync<DescribeProducersResponse>(_broker, ApiKey.DescribeProducers, 0, request);

        var partitions = response.Topics[0].Partitions;
        Assert.Equal(0, partitions[0].ErrorCode);
        var producers = partitions[0].ActiveProducers.OrderBy(p => p.ProducerId).ToList();
        Assert.Equal(2, producers.Count);
        Assert.Equal((42L, 1, 2, T0 + 2, -1L), (producers[0].ProducerId, producers[0].ProducerEpoch, producers[0].LastSequence, producers[0].LastTimestamp, producers[0].CurrentTxnStartOffset));
        Assert.Equal((43L, 4L), (producers[1].ProducerId, producers[1].CurrentTxnStartOffset));
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, partitions[1].ErrorCode);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, Assert.Single(response.Topics[1].Partitions).ErrorCode);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task WriteTxnMarkers_EveryVersion_EndsTransactionAndChecksEpochs(short version)
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", Batch(9, 4, 0, transactional: true));
        var log = _broker.Replicas.GetLog("t", 0)!;
        Assert.Equal(0, log.LastStableOffset);

        Assert.Equal((short)ErrorCode.InvalidProducerEpoch, MarkerError(await WriteMarkerAsync(version, 9, 3, commit: true, coordinatorEpoch: 1)));
        Assert.Equal(0, MarkerError(await WriteMarkerAsync(version, 9, 5, commit: false, coordinatorEpoch: 1)));
        Assert.Equal(2, log.LastStableOffset);
        Assert.Single(log.CollectAbortedTransactions(0, 2));
        Assert.Equal((short)ErrorCode.TransactionCoordinatorFenced, MarkerError(await WriteMarkerAsync(version, 9, 5, commit: true, coordinatorEpoch: 0)));
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, MarkerError(await WriteMarkerAsync(version, 9, 5, commit: true, topic: "missing", coordinatorEpoch: 1)));
    }
}
