using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// Produce with acks=-1 on topics with flush.messages=1: the answer waits for a (group-commit) flush that covers
/// the records, the records become visible only then, concurrent requests share flushes, and a failed fsync is
/// KAFKA_STORAGE_ERROR. Flushes are counted and held through <see cref="PartitionLog.BeforeFsync"/>.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ProduceGroupCommitTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private PartitionLog DurableTopic(string name, int partitions = 1)
    {
        DataPath.CreateTopic(_broker, name, partitions, ("flush.messages", "1"));
        return _broker.Replicas.GetLog(name, 0)!;
    }

    [Theory]
    [InlineData(3)]
    [InlineData(9)]
    [InlineData(13)]
    public async Task Produce_AcksAllFlushMessages1_AnsweredOnlyAfterTheFlushThenVisible(short version)
    {
        var log = DurableTopic("durable");
        var topicId = _broker.Replicas.Image.GetTopic("durable")!.Id;
        using var flushStarted = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        log.BeforeFsync = () =>
        {
            flushStarted.Release();
            Assert.True(release.Wait(Timeout));
        };

        var request = DataPath.Produce("durable", 0, DataPath.Batch(3), acks: -1, topicId: version >= 13 ? topicId : default);
        var send = BrokerExchange.SendAsync<ProduceResponse>(_broker, ApiKey.Produce, version, request);
        Assert.True(await flushStarted.WaitAsync(Timeout));

        Assert.False(send.IsCompleted); // not answered while its records are only in the page cache
        Assert.Equal(3, log.LogEndOffset);
        Assert.Equal(0, log.HighWatermark); // nor shown to consumers

        release.Set();
        var response = Assert.Single(Assert.Single((await send.WaitAsync(Timeout)).Responses).PartitionResponses);

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal(0, response.BaseOffset);
        Assert.Equal(3, log.FlushedOffset);
        Assert.Equal(3, log.HighWatermark);
        log.BeforeFsync = null; // the broker's closing flush runs after the test's events are disposed
    }

    [Fact]
    public async Task Produce_ConcurrentRequestsFlushMessages1_ShareFlushes()
    {
        var log = DurableTopic("shared");
        var flushes = 0;
        using var flushStarted = new SemaphoreSlim(0);
        using var release = new ManualResetEventSlim();
        log.BeforeFsync = () =>
        {
            Interlocked.Increment(ref flushes);
            flushStarted.Release();
            Assert.True(release.Wait(Timeout));
        };

        // The first request's flush is held; ten more requests append meanwhile and wait for the next flush.
        var first = DataPath.ProduceAsync(_broker, "shared", DataPath.Batch(1));
        Assert.True(await flushStarted.WaitAsync(Timeout));
        var more = Enumerable.Range(0, 10).Select(_ => DataPath.ProduceAsync(_broker, "shared", DataPath.Batch(2))).ToList();
        await Eventually.UntilAsync(() => log.LogEndOffset >= 21, "the ten appends reach the log while the first flush is held");

        Assert.All(more, t => Assert.False(t.IsCompleted));
        release.Set();
        var answers = await Task.WhenAll(more.Prepend(first)).WaitAsync(Timeout);

        Assert.All(answers, a => Assert.Equal(0, a.ErrorCode));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => 1L + (2 * i)), answers.Skip(1).Select(a => a.BaseOffset).Order());
        Assert.Equal(2, Volatile.Read(ref flushes)); // eleven acknowledged appends, two fsync rounds
        Assert.Equal(21, log.FlushedOffset);
        Assert.Equal(21, log.HighWatermark);
        log.BeforeFsync = null;
    }

    [Fact]
    public async Task Produce_TwoPartitionsFlushMessages1_BothOnDiskBeforeTheAnswer()
    {
        DurableTopic("pair", partitions: 2);
        var request = DataPath.Produce("pair", 0, DataPath.Batch(2));
        request.TopicData[0].PartitionData.Add(new ProduceRequest.PartitionProduceData { Index = 1, Records = new ReadOnlySequence<byte>(DataPath.Batch(4)) });

        var response = await BrokerExchange.SendAsync<ProduceResponse>(_broker, ApiKey.Produce, 9, request);

        var partitions = Assert.Single(response.Responses).PartitionResponses;
        Assert.Equal([0, 1], partitions.Select(p => p.Index));
        Assert.All(partitions, p => Assert.Equal(0, p.ErrorCode));
        Assert.Equal(2, _broker.Replicas.GetLog("pair", 0)!.FlushedOffset);
        Assert.Equal(4, _broker.Replicas.GetLog("pair", 1)!.FlushedOffset);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(9)]
    public async Task Produce_FsyncFails_KafkaStorageErrorAndNothingVisible(short version)
    {
        var log = DurableTopic("failing");
        log.BeforeFsync = () => throw new IOException("Input/output error");

        var failed = await DataPath.ProduceAsync(_broker, "failing", DataPath.Batch(2), version);
        var next = await DataPath.ProduceAsync(_broker, "failing", DataPath.Batch(2), version);

        Assert.Equal((short)ErrorCode.KafkaStorageError, failed.ErrorCode);
        Assert.Equal(-1, failed.BaseOffset);
        Assert.Equal(version >= 8 ? "fsync of the log of failing-0 failed: Input/output error" : null, failed.ErrorMessage);
        Assert.Equal((short)ErrorCode.KafkaStorageError, next.ErrorCode); // the log is offline, as Kafka's log dir would be
        Assert.Equal(0, log.HighWatermark);
        Assert.Equal(0, log.FlushedOffset);
    }

    [Fact]
    public async Task Produce_DefaultConfig_AnsweredWithoutAnyFlush()
    {
        DataPath.CreateTopic(_broker, "plain");
        var log = _broker.Replicas.GetLog("plain", 0)!;
        var flushes = 0;
        log.BeforeFsync = () => flushes++;

        var response = await DataPath.ProduceAsync(_broker, "plain", DataPath.Batch(5));

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal(0, flushes);
        Assert.Equal(0, log.FlushedOffset);
        Assert.Equal(5, log.HighWatermark);
    }

    [Fact]
    public void Append_CoordinatorWriteFlushMessages1_OnDiskAndVisibleOnReturn()
    {
        var log = DurableTopic("internal");

        var result = _broker.Replicas.Append("internal", 0, new ReadOnlySequence<byte>(DataPath.Batch(3)), AppendOrigin.Coordinator);

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal(3, log.FlushedOffset);
        Assert.Equal(3, log.HighWatermark);
    }
}
