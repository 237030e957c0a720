using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>The replica manager's hosted partitions: resolved once per request, high watermark, fetches parked per partition.</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class PartitionTests : IDisposable
{
    private readonly FetchParkingClock _clock = new(TimeSpan.FromSeconds(10));
    private readonly TestBroker _broker;

    public PartitionTests() => _broker = new(time: _clock);

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task Produce_RacingDeleteTopics_AnswersUnknownOrSucceedsAndKeepsTheConnection()
    {
        // Once, an append read the image twice: a DeleteTopics in between threw a null reference and closed the connection.
        for (var i = 0; i < 30; i++)
        {
            var topic = "race-" + i;
            DataPath.CreateTopic(_broker, topic);
            var produces = Enumerable.Range(0, 4).Select(_ => Task.Run(() => BrokerExchange.SendAsync<ProduceResponse>(
                _broker, ApiKey.Produce, 9, DataPath.Produce(topic, 0, DataPath.Batch(1)), new Network.KafkaConnection("race-" + Guid.NewGuid().ToString("N"), "PLAINTEXT", null)))).ToArray();
            var delete = Task.Run(() => _broker.Metadata.DeleteTopic(topic));

            // SendAsync asserts the dispatcher kept the connection open.
            foreach (var response in await Task.WhenAll(produces))
            {
                var error = (ErrorCode)Assert.Single(Assert.Single(response.Responses).PartitionResponses).ErrorCode;
                Assert.Contains(error, new[] { ErrorCode.None, ErrorCode.UnknownTopicOrPartition });
            }

            Assert.True((await delete).IsSuccess);
        }
    }

    [Fact]
    public async Task Produce_Append_MovesThePartitionsHighWatermarkToTheLogEnd()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(3));

        var partition = _broker.Replicas.GetPartition("t", 0)!;
        Assert.Equal((3L, 3L, 3L), (partition.HighWatermark, partition.Log.HighWatermark, partition.Log.LogEndOffset));
    }

    [Fact]
    public async Task Fetch_LongPoll_RegistersOnlyOnItsPartitionAndWakesAtItsAppend()
    {
        DataPath.CreateTopic(_broker, "t", partitions: 2);
        var fetch = FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("t", 0, partition: 1, maxWaitMs: 10_000, minBytes: 1));
        await _clock.WaitUntilParkedAsync();
        var (p0, p1) = (_broker.Replicas.GetPartition("t", 0)!, _broker.Replicas.GetPartition("t", 1)!);
        Assert.Equal((0, 1), (p0.Watchers.Count, p1.Watchers.Count));

        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1), partition: 0);
        Assert.False(fetch.IsCompleted);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2), partition: 1);
        var response = await fetch.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal([(0L, 2)], DataPath.Batches(response.Responses[0].Partitions[0].Records));
        Assert.Equal(0, p1.Watchers.Count);
    }

    [Fact]
    public async Task Fetch_LongPollOnDeletedTopic_AnswersUnknownTopicAtTheDeletion()
    {
        DataPath.CreateTopic(_broker, "gone");
        var fetch = FetchHandlerTests.SendAsync(_broker, FetchHandlerTests.Fetch("gone", 0, maxWaitMs: 10_000, minBytes: 1));
        await _clock.WaitUntilParkedAsync();

        Assert.True(_broker.Metadata.DeleteTopic("gone").IsSuccess);
        var response = await fetch.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, response.Responses[0].Partitions[0].ErrorCode);
    }
}
