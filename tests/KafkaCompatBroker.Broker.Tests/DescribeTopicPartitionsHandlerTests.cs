using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class DescribeTopicPartitionsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public DescribeTopicPartitionsHandlerTests()
    {
        _broker.Metadata.CreateTopic("b", 3);
        _broker.Metadata.CreateTopic("a", 2);
        _broker.Metadata.CreateTopic("c", 1);
    }

    public void Dispose() => _broker.Dispose();

    private Task<DescribeTopicPartitionsResponse> DescribeAsync(DescribeTopicPartitionsRequest request) =>
        BrokerExchange.SendAsync<DescribeTopicPartitionsResponse>(_broker, ApiKey.DescribeTopicPartitions, 0, request);

    private static DescribeTopicPartitionsRequest Request(int limit, string[] topics, (string Topic, int Partition)? cursor = null) => new()
    {
        Topics = [.. topics.Select(t => new DescribeTopicPartitionsRequest.TopicRequest { Name = t })],
        ResponsePartitionLimit = limit,
        Cursor = cursor is { } c ? new DescribeTopicPartitionsRequest.CursorData { TopicName = c.Topic, PartitionIndex = c.Partition } : null,
    };

    private static string Describe(DescribeTopicPartitionsResponse response) =>
        string.Join(' ', response.Topics.Select(t => $"{t.Name}:{t.ErrorCode}:[{string.Join(',', t.Partitions.Select(p => p.PartitionIndex))}]"))
        + (response.NextCursor is { } next ? $" next={next.TopicName}/{next.PartitionIndex}" : "");

    [Fact]
    public async Task DescribeTopicPartitions_NoTopics_ReturnsAllSortedWithDetails()
    {
        var response = await DescribeAsync(Request(2000, []));

        Assert.Equal("a:0:[0,1] b:0:[0,1,2] c:0:[0]", Describe(response));
        var a = response.Topics[0];
        Assert.Equal(_broker.Metadata.Image.GetTopic("a")!.Id, a.TopicId);
        Assert.Equal(3576, a.TopicAuthorizedOperations);
        var p = a.Partitions[0];
        Assert.Equal((1, 0), (p.LeaderId, p.LeaderEpoch));
        Assert.Equal([1], p.ReplicaNodes);
        Assert.Equal([1], p.IsrNodes);
        Assert.Empty(p.EligibleLeaderReplicas!);
        Assert.Empty(p.LastKnownElr!);
        Assert.Empty(p.OfflineReplicas);
    }

    [Fact]
    public async Task DescribeTopicPartitions_LimitInsideTopic_SetsCursorAtFirstLeftOut()
    {
        var response = await DescribeAsync(Request(3, []));
        Assert.Equal("a:0:[0,1] b:0:[0] next=b/1", Describe(response));

        var second = await DescribeAsync(Request(3, [], ("b", 1)));
        Assert.Equal("b:0:[1,2] c:0:[0]", Describe(second));
    }

    [Fact]
    public async Task DescribeTopicPartitions_LimitEndsAtTopicBoundary_CursorAtNextTopicPartitionZero()
    {
        var response = await DescribeAsync(Request(2, []));
        Assert.Equal("a:0:[0,1] next=b/0", Describe(response));
    }

    [Fact]
    public async Task DescribeTopicPartitions_NamedTopics_UnknownGetsErrorAndUnrequestedSkipped()
    {
        var response = await DescribeAsync(Request(2000, ["c", "zz", "a"]));
        Assert.Equal("a:0:[0,1] c:0:[0] zz:3:[]", Describe(response));
    }

    [Fact]
    public async Task DescribeTopicPartitions_CursorTopicNotRequested_ReturnsInvalidRequest()
    {
        var response = await DescribeAsync(Request(2000, ["a"], ("b", 0)));
        Assert.Equal("a:42:[]", Describe(response));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(int.MinValue)]
    public async Task DescribeTopicPartitions_NegativeCursorPartition_ReturnsInvalidRequestAtOnce(int partition)
    {
        // Kafka refuses a negative cursor partition; walking from int.MinValue would take 2^31 steps.
        var named = await DescribeAsync(Request(2000, ["b", "a"], ("b", partition)));
        var all = await DescribeAsync(Request(2000, [], ("b", partition)));

        Assert.Equal("b:42:[] a:42:[]", Describe(named));
        Assert.Equal("", Describe(all));
    }
}

/// <summary>The response partition limit against a topic of 2,001 partitions (each one a log dir on disk, so integration).</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class DescribeTopicPartitionsLimitTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task DescribeTopicPartitions_LimitAboveBrokerMaximum_IsCappedAt2000()
    {
        _broker.Metadata.CreateTopic("big", 2001);
        var response = await BrokerExchange.SendAsync<DescribeTopicPartitionsResponse>(_broker, ApiKey.DescribeTopicPartitions, 0, new DescribeTopicPartitionsRequest
        {
            Topics = [new() { Name = "big" }],
            ResponsePartitionLimit = 5000,
        });

        Assert.Equal(2000, Assert.Single(response.Topics).Partitions.Count);
        Assert.Equal(("big", 2000), (response.NextCursor!.TopicName, response.NextCursor.PartitionIndex));
    }
}
