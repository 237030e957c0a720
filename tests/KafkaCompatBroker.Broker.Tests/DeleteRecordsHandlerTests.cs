using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class DeleteRecordsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private async Task<DeleteRecordsResponse.DeleteRecordsPartitionResult> DeleteAsync(long offset, short version = 2, string topic = "t")
    {
        var request = new DeleteRecordsRequest { TimeoutMs = 1000 };
        request.Topics.Add(new DeleteRecordsRequest.DeleteRecordsTopic { Name = topic, Partitions = [new DeleteRecordsRequest.DeleteRecordsPartition { PartitionIndex = 0, Offset = offset }] });
        var response = await BrokerExchange.SendAsync<DeleteRecordsResponse>(_broker, ApiKey.DeleteRecords, version, request);
        return Assert.Single(Assert.Single(response.Topics).Partitions);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task DeleteRecords_Offset_MovesLowWatermark(short version)
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(5));

        var result = await DeleteAsync(3, version);

        Assert.Equal((0, 3L), (result.ErrorCode, result.LowWatermark));
        Assert.Equal(3, _broker.Replicas.GetLog("t", 0)!.LogStartOffset);
    }

    [Fact]
    public async Task DeleteRecords_MinusOne_DeletesUpToHighWatermark()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(5));

        var result = await DeleteAsync(-1);

        Assert.Equal(5, result.LowWatermark);
    }

    [Fact]
    public async Task DeleteRecords_BeyondHighWatermark_OffsetOutOfRange()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(5));

        var result = await DeleteAsync(6);

        Assert.Equal(((short)ErrorCode.OffsetOutOfRange, -1L), (result.ErrorCode, result.LowWatermark));
    }

    [Fact]
    public async Task DeleteRecords_CompactedTopic_PolicyViolation()
    {
        DataPath.CreateTopic(_broker, "t", 1, ("cleanup.policy", "compact"));

        var result = await DeleteAsync(0);

        Assert.Equal((short)ErrorCode.PolicyViolation, result.ErrorCode);
    }

    [Fact]
    public async Task DeleteRecords_UnknownTopic_UnknownTopicOrPartition()
    {
        var result = await DeleteAsync(0, topic: "missing");

        Assert.Equal(((short)ErrorCode.UnknownTopicOrPartition, -1L), (result.ErrorCode, result.LowWatermark));
    }
}
