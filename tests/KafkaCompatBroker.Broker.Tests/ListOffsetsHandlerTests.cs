using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class ListOffsetsHandlerTests : IDisposable
{
    private const long T0 = 1_700_000_000_000;
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private async Task<ListOffsetsResponse.ListOffsetsPartitionResponse> ListAsync(long timestamp, short version = 9, string topic = "t", int partition = 0, sbyte isolation = 0)
    {
        var request = new ListOffsetsRequest { ReplicaId = -1, IsolationLevel = isolation };
        request.Topics.Add(new ListOffsetsRequest.ListOffsetsTopic { Name = topic, Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = partition, Timestamp = timestamp }] });
        var response = await BrokerExchange.SendAsync<ListOffsetsResponse>(_broker, ApiKey.ListOffsets, version, request);
        return Assert.Single(Assert.Single(response.Topics).Partitions);
    }

    private async Task SeedAsync()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(3, T0));          // offsets 0-2, ts T0..T0+2
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(3, T0 + 100));    // offsets 3-5, ts T0+100..T0+102
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(10)]
    [InlineData(11)]
    public async Task ListOffsets_LatestAndEarliest_EveryVersion(short version)
    {
        await SeedAsync();

        var latest = await ListAsync(-1, version);
        var earliest = await ListAsync(-2, version);

        Assert.Equal((0, 6L, -1L), (latest.ErrorCode, latest.Offset, latest.Timestamp));
        Assert.Equal(0, earliest.Offset);
        Assert.Equal(version >= 4 ? 0 : -1, latest.LeaderEpoch);
    }

    [Fact]
    public async Task ListOffsets_ByTimestamp_FirstOffsetAtOrAfter()
    {
        await SeedAsync();

        var exact = await ListAsync(T0 + 1);
        var between = await ListAsync(T0 + 50);
        var after = await ListAsync(T0 + 1000);

        Assert.Equal((1L, T0 + 1), (exact.Offset, exact.Timestamp));
        Assert.Equal((3L, T0 + 100), (between.Offset, between.Timestamp));
        Assert.Equal((0, -1L, -1L), (after.ErrorCode, after.Offset, after.Timestamp));
    }

    [Fact]
    public async Task ListOffsets_MaxTimestamp_OffsetOfLargestTimestamp()
    {
        await SeedAsync();

        var max = await ListAsync(-3, version: 7);

        Assert.Equal((5L, T0 + 102), (max.Offset, max.Timestamp));
        Assert.Equal(0, max.LeaderEpoch);
    }

    [Fact]
    public async Task ListOffsets_TieredSpecials_WithoutTieredStorage()
    {
        await SeedAsync();
        _broker.Replicas.GetLog("t", 0)!.DeleteRecordsBefore(2);

        var earliestLocal = await ListAsync(-4, version: 8);
        var latestTiered = await ListAsync(-5, version: 9);

        Assert.Equal(2, earliestLocal.Offset);
        Assert.Equal((0, -1L, -1L, -1), (latestTiered.ErrorCode, latestTiered.Offset, latestTiered.Timestamp, latestTiered.LeaderEpoch));
    }

    [Fact]
    public async Task ListOffsets_ReadCommitted_LastStableOffset()
    {
        await SeedAsync();

        var latest = await ListAsync(-1, isolation: 1);

        Assert.Equal(6, latest.Offset);
    }

    [Fact]
    public async Task ListOffsets_UnknownPartition_Error()
    {
        await SeedAsync();

        var missing = await ListAsync(-1, topic: "missing");
        var badPartition = await ListAsync(-1, partition: 3);

        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, missing.ErrorCode);
        Assert.Equal((-1L, -1L), (missing.Offset, missing.Timestamp));
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, badPartition.ErrorCode);
    }

    [Fact]
    public async Task ListOffsets_FencedCurrentLeaderEpoch_Error()
    {
        await SeedAsync();
        var request = new ListOffsetsRequest { ReplicaId = -1 };
        request.Topics.Add(new ListOffsetsRequest.ListOffsetsTopic { Name = "t", Partitions = [new ListOffsetsRequest.ListOffsetsPartition { PartitionIndex = 0, Timestamp = -1, CurrentLeaderEpoch = 7 }] });

        var response = await BrokerExchange.SendAsync<ListOffsetsResponse>(_broker, ApiKey.ListOffsets, 5, request);

        Assert.Equal((short)ErrorCode.UnknownLeaderEpoch, response.Topics[0].Partitions[0].ErrorCode);
    }

    [Fact]
    public async Task ListOffsets_DuplicatePartition_InvalidRequest()
    {
        await SeedAsync();
        var request = new ListOffsetsRequest { ReplicaId = -1 };
        request.Topics.Add(new ListOffsetsRequest.ListOffsetsTopic
        {
            Name = "t",
            Partitions = [new ListOffsetsRequest.ListOffsetsPartition { Timestamp = -1 }, new ListOffsetsRequest.ListOffsetsPartition { Timestamp = -2 }],
        });

        var response = await BrokerExchange.SendAsync<ListOffsetsResponse>(_broker, ApiKey.ListOffsets, 5, request);

        Assert.All(response.Topics[0].Partitions, p => Assert.Equal((short)ErrorCode.InvalidRequest, p.ErrorCode));
    }
}
