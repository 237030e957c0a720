using System.Buffers;
using KafkaCompatBroker.Broker.Handlers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class OffsetForLeaderEpochHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private async Task<OffsetForLeaderEpochResponse.EpochEndOffset> AskAsync(int leaderEpoch, short version, int currentLeaderEpoch = -1, string topic = "t")
    {
        var request = new OffsetForLeaderEpochRequest();
        request.Topics.Add(new OffsetForLeaderEpochRequest.OffsetForLeaderTopic
        {
            Topic = topic,
            Partitions = [new OffsetForLeaderEpochRequest.OffsetForLeaderPartition { Partition = 0, LeaderEpoch = leaderEpoch, CurrentLeaderEpoch = currentLeaderEpoch }],
        });
        var response = await BrokerExchange.SendAsync<OffsetForLeaderEpochResponse>(_broker, ApiKey.OffsetForLeaderEpoch, version, request);
        return Assert.Single(Assert.Single(response.Topics).Partitions);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task OffsetForLeaderEpoch_CurrentEpoch_LogEndOffset(short version)
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(4));

        var result = await AskAsync(0, version);

        Assert.Equal((0, 0, 4L), (result.ErrorCode, result.LeaderEpoch, result.EndOffset));
    }

    [Fact]
    public async Task OffsetForLeaderEpoch_FutureEpoch_Undefined()
    {
        DataPath.CreateTopic(_broker, "t");

        var result = await AskAsync(3, 4);

        Assert.Equal((0, -1, -1L), (result.ErrorCode, result.LeaderEpoch, result.EndOffset));
    }

    [Fact]
    public async Task OffsetForLeaderEpoch_CurrentLeaderEpochChecks_FencedAndUnknown()
    {
        DataPath.CreateTopic(_broker, "t");

        var unknown = await AskAsync(0, 4, currentLeaderEpoch: 1);
        var unknownTopic = await AskAsync(0, 4, topic: "missing");

        Assert.Equal((short)ErrorCode.UnknownLeaderEpoch, unknown.ErrorCode);
        Assert.Equal(-1, unknown.EndOffset);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, unknownTopic.ErrorCode);
    }

    [Fact]
    public void EndOffsetForEpoch_OlderEpochs_StartOfNextEpoch()
    {
        DataPath.CreateTopic(_broker, "t");
        var log = _broker.Replicas.GetLog("t", 0)!;
        log.Append(new ReadOnlySequence<byte>(DataPath.Batch(2)), leaderEpoch: 1);   // 0-1 epoch 1
        log.Append(new ReadOnlySequence<byte>(DataPath.Batch(3)), leaderEpoch: 1);   // 2-4 epoch 1
        log.Append(new ReadOnlySequence<byte>(DataPath.Batch(2)), leaderEpoch: 3);   // 5-6 epoch 3
        log.Append(new ReadOnlySequence<byte>(DataPath.Batch(1)), leaderEpoch: 4);   // 7   epoch 4

        Assert.Equal((1, 5L), OffsetForLeaderEpochHandler.EndOffsetForEpoch(log, 1, currentEpoch: 5));
        Assert.Equal((1, 5L), OffsetForLeaderEpochHandler.EndOffsetForEpoch(log, 2, currentEpoch: 5));
        Assert.Equal((3, 7L), OffsetForLeaderEpochHandler.EndOffsetForEpoch(log, 3, currentEpoch: 5));
        Assert.Equal((4, 8L), OffsetForLeaderEpochHandler.EndOffsetForEpoch(log, 4, currentEpoch: 5));
        Assert.Equal((0, 0L), OffsetForLeaderEpochHandler.EndOffsetForEpoch(log, 0, currentEpoch: 5));
        Assert.Equal((5, 8L), OffsetForLeaderEpochHandler.EndOffsetForEpoch(log, 5, currentEpoch: 5));
        Assert.Equal((-1, -1L), OffsetForLeaderEpochHandler.EndOffsetForEpoch(log, -1, currentEpoch: 5));
        Assert.Equal(3, OffsetForLeaderEpochHandler.EpochAt(log, 6));
    }
}
