using KafkaCompatBroker.Broker.Handlers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class FetchSessionTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private FetchSessionCache Cache => ((FetchHandler)_broker.Registry.Find((short)ApiKey.Fetch)!).Sessions;

    private async Task<int> OpenSessionAsync(string topic = "t", long offset = 0)
    {
        var response = await FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch(topic, offset, sessionEpoch: 0));
        Assert.Equal(0, response.ErrorCode);
        Assert.NotEqual(0, response.SessionId);
        return response.SessionId;
    }

    private static FetchRequest Incremental(int sessionId, int epoch) => new() { SessionId = sessionId, SessionEpoch = epoch, MaxBytes = int.MaxValue };

    [Fact]
    public async Task Fetch_EpochZero_CreatesSessionWithFullResponse()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2));

        var response = await FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("t", 0, sessionEpoch: 0));

        Assert.NotEqual(0, response.SessionId);
        Assert.Equal([(0L, 2)], DataPath.Batches(response.Responses[0].Partitions[0].Records));
        Assert.Equal(1, Cache.Count);
    }

    [Fact]
    public async Task Fetch_Sessionless_NoSessionCreated()
    {
        DataPath.CreateTopic(_broker, "t");

        var response = await FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("t", 0));

        Assert.Equal(0, response.SessionId);
        Assert.Single(response.Responses);
        Assert.Equal(0, Cache.Count);
    }

    [Fact]
    public async Task Fetch_IncrementalWithoutChanges_OmitsPartitions()
    {
        DataPath.CreateTopic(_broker, "t");
        var id = await OpenSessionAsync();

        var response = await FetchHandlerTests.SendAsync(_broker, Incremental(id, 1));

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal(id, response.SessionId);
        Assert.Empty(response.Responses);
    }

    [Fact]
    public async Task Fetch_IncrementalAfterAppend_IncludesPartitionWithNewData()
    {
        DataPath.CreateTopic(_broker, "t", 2);
        var open = FetchHandlerTests.Fetch("t", 0, sessionEpoch: 0);
        open.Topics[0].Partitions.Add(new FetchRequest.FetchPartition { Partition = 1, FetchOffset = 0, PartitionMaxBytes = 1 << 20 });
        var id = (await FetchHandlerTests.SendAsync(_broker, open)).SessionId;
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2), partition: 1);

        var response = await FetchHandlerTests.SendAsync(_broker, Incremental(id, 1));

        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        Assert.Equal(1, partition.PartitionIndex);
        Assert.Equal(2, partition.HighWatermark);
        Assert.Equal([(0L, 2)], DataPath.Batches(partition.Records));
    }

    [Fact]
    public async Task Fetch_IncrementalUpdatedOffset_ReadsFromNewOffset()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2));
        var id = await OpenSessionAsync();
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(3));
        var next = FetchHandlerTests.Fetch("t", 2, sessionId: id, sessionEpoch: 1);

        var response = await FetchHandlerTests.SendAsync(_broker, next);

        Assert.Equal([(2L, 3)], DataPath.Batches(response.Responses[0].Partitions[0].Records));
    }

    [Fact]
    public async Task Fetch_WrongEpoch_InvalidFetchSessionEpoch()
    {
        DataPath.CreateTopic(_broker, "t");
        var id = await OpenSessionAsync();

        var response = await FetchHandlerTests.SendAsync(_broker, Incremental(id, 5));

        Assert.Equal((short)ErrorCode.InvalidFetchSessionEpoch, response.ErrorCode);
        Assert.Equal(0, response.SessionId);
        Assert.Empty(response.Responses);
    }

    [Fact]
    public async Task Fetch_EpochsAdvance_EachIncrementalNeedsTheNextEpoch()
    {
        DataPath.CreateTopic(_broker, "t");
        var id = await OpenSessionAsync();

        var first = await FetchHandlerTests.SendAsync(_broker, Incremental(id, 1));
        var second = await FetchHandlerTests.SendAsync(_broker, Incremental(id, 2));
        var replay = await FetchHandlerTests.SendAsync(_broker, Incremental(id, 2));

        Assert.Equal(0, first.ErrorCode);
        Assert.Equal(0, second.ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidFetchSessionEpoch, replay.ErrorCode);
    }

    [Fact]
    public async Task Fetch_UnknownSessionId_FetchSessionIdNotFound()
    {
        var response = await FetchHandlerTests.SendAsync(_broker, Incremental(12345, 1));

        Assert.Equal((short)ErrorCode.FetchSessionIdNotFound, response.ErrorCode);
    }

    [Fact]
    public async Task Fetch_FinalEpoch_ClosesSession()
    {
        DataPath.CreateTopic(_broker, "t");
        var id = await OpenSessionAsync();

        var close = await FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("t", 0, sessionId: id, sessionEpoch: -1));
        var after = await FetchHandlerTests.SendAsync(_broker, Incremental(id, 1));

        Assert.Equal(0, close.SessionId);
        Assert.Equal((short)ErrorCode.FetchSessionIdNotFound, after.ErrorCode);
    }

    [Fact]
    public async Task Fetch_ForgetAllPartitions_EndsSession()
    {
        DataPath.CreateTopic(_broker, "t");
        var id = await OpenSessionAsync();
        var forget = Incremental(id, 1);
        forget.ForgottenTopicsData.Add(new FetchRequest.ForgottenTopic { Topic = "t", Partitions = [0] });

        var response = await FetchHandlerTests.SendAsync(_broker, forget);

        Assert.Equal(0, response.SessionId);
        Assert.Equal(0, Cache.Count);
    }

    [Fact]
    public async Task Fetch_ForgottenPartition_NoLongerReturned()
    {
        DataPath.CreateTopic(_broker, "t", 2);
        var open = FetchHandlerTests.Fetch("t", 0, sessionEpoch: 0);
        open.Topics[0].Partitions.Add(new FetchRequest.FetchPartition { Partition = 1, FetchOffset = 0, PartitionMaxBytes = 1 << 20 });
        var id = (await FetchHandlerTests.SendAsync(_broker, open)).SessionId;
        var forget = Incremental(id, 1);
        forget.ForgottenTopicsData.Add(new FetchRequest.ForgottenTopic { Topic = "t", Partitions = [1] });
        await FetchHandlerTests.SendAsync(_broker, forget);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1), partition: 1);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1), partition: 0);

        var response = await FetchHandlerTests.SendAsync(_broker, Incremental(id, 2));

        Assert.Equal(0, Assert.Single(Assert.Single(response.Responses).Partitions).PartitionIndex);
    }

    [Fact]
    public async Task Fetch_TopicIdsMismatch_FetchSessionTopicIdError()
    {
        DataPath.CreateTopic(_broker, "t");
        var id = await OpenSessionAsync();

        var response = await FetchHandlerTests.SendAsync(_broker, Incremental(id, 1), version: 13);

        Assert.Equal((short)ErrorCode.FetchSessionTopicIdError, response.ErrorCode);
    }

    [Fact]
    public async Task Fetch_SessionByTopicId_IncrementalWorks()
    {
        var topicId = DataPath.CreateTopic(_broker, "t");
        var open = await FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("", 0, sessionEpoch: 0, topicId: topicId), version: 16);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1));

        var response = await FetchHandlerTests.SendAsync(_broker, Incremental(open.SessionId, 1), version: 16);

        Assert.Equal(topicId, Assert.Single(response.Responses).TopicId);
    }

    [Fact]
    public void TryCreate_CacheFull_EvictsSmallerOrStaleSessionsOnly()
    {
        var time = new ManualTime();
        var cache = new FetchSessionCache(2, 1000, time);
        var small = cache.TryCreate(false, 1)!;
        small.AddOrUpdate(new FetchPartitionKey(default, "a", 0), 0, 1, -1);
        var big = cache.TryCreate(false, 3)!;
        for (var i = 0; i < 3; i++)
        {
            big.AddOrUpdate(new FetchPartitionKey(default, "b", i), 0, 1, -1);
        }

        Assert.Null(cache.TryCreate(false, 1)); // not bigger than the smallest: no slot
        var bigger = cache.TryCreate(false, 2); // bigger than the smallest (1): evicts it
        Assert.NotNull(bigger);
        Assert.Null(cache.Get(small.Id));
        bigger!.AddOrUpdate(new FetchPartitionKey(default, "c", 0), 0, 1, -1);
        bigger.AddOrUpdate(new FetchPartitionKey(default, "c", 1), 0, 1, -1);

        time.Advance(TimeSpan.FromSeconds(2));
        cache.Touch(bigger);
        Assert.NotNull(cache.TryCreate(false, 1)); // the big session is stale: evicted
        Assert.Null(cache.Get(big.Id));
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public void NextEpoch_AtMax_WrapsToOne()
    {
        Assert.Equal(1, FetchSession.NextEpoch(int.MaxValue));
        Assert.Equal(2, FetchSession.NextEpoch(1));
        Assert.Equal(-1, FetchSession.NextEpoch(-1));
    }

    private sealed class ManualTime : TimeProvider
    {
        private DateTimeOffset _now = DateTimeOffset.UnixEpoch.AddDays(20000);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
