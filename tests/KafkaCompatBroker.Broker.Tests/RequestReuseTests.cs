using System.Buffers;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// A connection's Produce and Fetch requests are decoded into, and answered from, objects the connection
/// reuses: each response must hold exactly what its own request asked for, whatever came before it.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class RequestReuseTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly KafkaConnection _connection = new("reuse-test", "PLAINTEXT", null);
    private readonly KafkaConnection _other = new("reuse-test-2", "PLAINTEXT", null);

    public void Dispose() => _broker.Dispose();

    private Task<ProduceResponse> ProduceAsync(ProduceRequest request, short version = 9, KafkaConnection? connection = null) =>
        BrokerExchange.SendAsync<ProduceResponse>(_broker, ApiKey.Produce, version, request, connection ?? _connection);

    private Task<FetchResponse> FetchAsync(FetchRequest request, short version = 12, KafkaConnection? connection = null) =>
        BrokerExchange.SendAsync<FetchResponse>(_broker, ApiKey.Fetch, version, request, connection ?? _connection);

    private static byte[] IdempotentBatch(int sequence)
    {
        using var builder = new RecordBatchBuilder(CompressionType.None, producerId: 42, producerEpoch: 0, baseSequence: sequence);
        builder.Append(1_700_000_000_000, "k"u8, "v"u8);
        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    [Fact]
    public async Task Produce_SameConnectionSmallerRequestsAfterLarger_EachResponseHoldsOnlyItsPartitions()
    {
        var idA = DataPath.CreateTopic(_broker, "a", 2);
        DataPath.CreateTopic(_broker, "b");
        var large = DataPath.Produce("a", 0, DataPath.Batch(2));
        large.TopicData[0].PartitionData.Add(new ProduceRequest.PartitionProduceData { Index = 1, Records = new ReadOnlySequence<byte>(DataPath.Batch(3)) });
        large.TopicData.Add(DataPath.Produce("b", 0, DataPath.Batch(4)).TopicData[0]);

        var first = await ProduceAsync(large);
        var onlyB = await ProduceAsync(DataPath.Produce("b", 0, DataPath.Batch(1)));
        var byId = await ProduceAsync(DataPath.Produce("", 1, DataPath.Batch(1), topicId: idA), version: 13);

        Assert.Equal(["a", "b"], first.Responses.Select(t => t.Name));
        Assert.Equal([(0, 0L), (1, 0L)], first.Responses[0].PartitionResponses.Select(p => (p.Index, p.BaseOffset)));
        var b = Assert.Single(Assert.Single(onlyB.Responses).PartitionResponses);
        Assert.Equal("b", onlyB.Responses[0].Name);
        Assert.Equal((0, 0, 4L), (b.Index, (int)b.ErrorCode, b.BaseOffset));
        var a1 = Assert.Single(Assert.Single(byId.Responses).PartitionResponses);
        Assert.Equal((idA, ""), (byId.Responses[0].TopicId, byId.Responses[0].Name));
        Assert.Equal((1, 3L), (a1.Index, a1.BaseOffset));
    }

    [Fact]
    public async Task Produce_RequestLargerThanReuseBound_ItsObjectsAreNotKeptForTheConnection()
    {
        DataPath.CreateTopic(_broker, "big");
        using var builder = new RecordBatchBuilder(CompressionType.None);
        builder.Append(1_700_000_000_000, "k"u8, new byte[RequestDispatcher.MaxReusedRequestBytes + 1]);
        var batch = new ArrayBufferWriter<byte>();
        builder.WriteTo(batch);

        await ProduceAsync(DataPath.Produce("big", 0, DataPath.Batch(1)));
        Assert.NotNull(_connection.TakeProcessorState()); // a usual request's objects are kept (and taken back here)
        await ProduceAsync(DataPath.Produce("big", 0, batch.WrittenSpan.ToArray()));

        Assert.Null(_connection.TakeProcessorState());
    }

    [Fact]
    public async Task Produce_SameConnectionSuccessAfterError_ErrorMessageAndCodeCleared()
    {
        DataPath.CreateTopic(_broker, "t");
        await ProduceAsync(DataPath.Produce("t", 0, IdempotentBatch(0)));

        var gap = await ProduceAsync(DataPath.Produce("t", 0, IdempotentBatch(5)));
        var unknown = await ProduceAsync(DataPath.Produce("missing", 0, DataPath.Batch(1)));
        var next = await ProduceAsync(DataPath.Produce("t", 0, IdempotentBatch(1)));

        var failed = gap.Responses[0].PartitionResponses[0];
        Assert.Equal((short)ErrorCode.OutOfOrderSequenceNumber, failed.ErrorCode);
        Assert.NotNull(failed.ErrorMessage);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, unknown.Responses[0].PartitionResponses[0].ErrorCode);
        Assert.Equal("missing", unknown.Responses[0].Name);
        var ok = Assert.Single(Assert.Single(next.Responses).PartitionResponses);
        Assert.Equal("t", next.Responses[0].Name);
        Assert.Equal((0, (string?)null, 1L, 0L), ((int)ok.ErrorCode, ok.ErrorMessage, ok.BaseOffset, ok.LogStartOffset));
    }

    [Fact]
    public async Task Fetch_SameConnectionDifferentRequests_EachResponseHoldsOnlyItsPartitions()
    {
        DataPath.CreateTopic(_broker, "t", 2);
        DataPath.CreateTopic(_broker, "u");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2), partition: 0);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(3), partition: 1);
        await DataPath.ProduceAsync(_broker, "u", DataPath.Batch(4));
        var both = FetchHandlerTests.Fetch("t", 0, isolation: 1);
        both.Topics[0].Partitions.Add(new FetchRequest.FetchPartition { Partition = 1, FetchOffset = 0, PartitionMaxBytes = 1 << 20 });
        both.Topics.Add(FetchHandlerTests.Fetch("u", 0).Topics[0]);
        var follower = FetchHandlerTests.Fetch("t", 0);
        follower.ReplicaId = 2;

        var committed = await FetchAsync(both);
        var notLeader = await FetchAsync(follower);
        var otherConnection = await FetchAsync(FetchHandlerTests.Fetch("u", 0), connection: _other);
        var single = await FetchAsync(FetchHandlerTests.Fetch("t", 1, partition: 1));

        Assert.Equal(["t", "u"], committed.Responses.Select(t => t.Topic));
        Assert.Equal([2, 3], committed.Responses[0].Partitions.Select(p => DataPath.Batches(p.Records).Sum(b => b.Count)));
        Assert.All(committed.Responses.SelectMany(t => t.Partitions), p => Assert.Empty(p.AbortedTransactions!));
        var refused = notLeader.Responses[0].Partitions[0];
        Assert.Equal((short)ErrorCode.NotLeaderOrFollower, refused.ErrorCode);
        Assert.Equal(_broker.Replicas.Image.GetTopic("t")!.Partitions[0].Leader, refused.CurrentLeader.LeaderId);
        Assert.Equal(4, DataPath.Batches(Assert.Single(Assert.Single(otherConnection.Responses).Partitions).Records).Sum(b => b.Count));
        var only = Assert.Single(Assert.Single(single.Responses).Partitions);
        Assert.Equal(("t", 1, 0), (single.Responses[0].Topic, only.PartitionIndex, (int)only.ErrorCode));
        Assert.Null(only.AbortedTransactions);
        Assert.Equal((-1, -1), (only.CurrentLeader.LeaderId, only.CurrentLeader.LeaderEpoch));
        Assert.Equal(new List<(long, int)> { (0, 3) }, DataPath.Batches(only.Records));
    }
}
