using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class DescribeLogDirsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task DescribeLogDirs_AllTopics_ListsPartitionsWithSizes(short version)
    {
        DataPath.CreateTopic(_broker, "a", 2);
        DataPath.CreateTopic(_broker, "b");
        await DataPath.ProduceAsync(_broker, "a", DataPath.Batch(3), partition: 1);

        var response = await BrokerExchange.SendAsync<DescribeLogDirsResponse>(_broker, ApiKey.DescribeLogDirs, version, new DescribeLogDirsRequest { Topics = null });

        var dir = Assert.Single(response.Results);
        Assert.Equal(0, dir.ErrorCode);
        Assert.Equal(Path.GetFullPath(_broker.DataDir), dir.LogDir);
        Assert.Equal(["a", "b"], dir.Topics.Select(t => t.Name));
        var a = dir.Topics[0].Partitions;
        Assert.Equal([0, 1], a.Select(p => p.PartitionIndex));
        Assert.Equal(0, a[0].PartitionSize);
        Assert.Equal(_broker.Replicas.GetLog("a", 1)!.Size, a[1].PartitionSize);
        Assert.True(a[1].PartitionSize > 0);
        Assert.All(a, p => Assert.Equal((0L, false), (p.OffsetLag, p.IsFutureKey)));
        if (version >= 4)
        {
            Assert.True(dir.TotalBytes > 0);
            Assert.InRange(dir.UsableBytes, 0, dir.TotalBytes);
        }
        else
        {
            Assert.Equal(-1, dir.TotalBytes);
        }
    }

    [Fact]
    public async Task DescribeLogDirs_SomePartitions_OnlyThoseListed()
    {
        DataPath.CreateTopic(_broker, "a", 2);
        DataPath.CreateTopic(_broker, "b");
        var request = new DescribeLogDirsRequest { Topics = [new DescribeLogDirsRequest.DescribableLogDirTopic { Topic = "a", Partitions = [1, 7] }] };

        var response = await BrokerExchange.SendAsync<DescribeLogDirsResponse>(_broker, ApiKey.DescribeLogDirs, 4, request);

        var topic = Assert.Single(Assert.Single(response.Results).Topics);
        Assert.Equal("a", topic.Name);
        Assert.Equal(1, Assert.Single(topic.Partitions).PartitionIndex);
    }
}
