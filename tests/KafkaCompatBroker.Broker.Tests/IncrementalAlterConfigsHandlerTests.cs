using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class IncrementalAlterConfigsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private Task<IncrementalAlterConfigsResponse> AlterAsync(short version, bool validateOnly, params IncrementalAlterConfigsRequest.AlterConfigsResource[] resources) =>
        BrokerExchange.SendAsync<IncrementalAlterConfigsResponse>(_broker, ApiKey.IncrementalAlterConfigs, version, new IncrementalAlterConfigsRequest { Resources = [.. resources], ValidateOnly = validateOnly });

    private static IncrementalAlterConfigsRequest.AlterConfigsResource Topic(string name, params (string Key, sbyte Op, string? Value)[] configs) =>
        new() { ResourceType = 2, ResourceName = name, Configs = [.. configs.Select(c => new IncrementalAlterConfigsRequest.AlterableConfig { Name = c.Key, ConfigOperation = c.Op, Value = c.Value })] };

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task IncrementalAlterConfigs_SetRetentionAndSegmentBytes_AppliesToPartitionLog(short version)
    {
        _broker.Metadata.CreateTopic("t", 2, 1, configs: [new("flush.messages", "10")]);

        var response = await AlterAsync(version, false, Topic("t", ("retention.ms", 0, "60000"), ("segment.bytes", 0, "1048576")));

        var result = Assert.Single(response.Responses);
        Assert.Equal(0, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        for (var p = 0; p < 2; p++)
        {
            var config = _broker.Replicas.GetLog("t", p)!.Config;
            Assert.Equal(60000, config.RetentionMs);
            Assert.Equal(1048576, config.SegmentBytes);
            Assert.Equal(10, config.FlushMessages);
        }
    }

    [Fact]
    public async Task IncrementalAlterConfigs_DeleteAppendSubtract_UpdateOverrides()
    {
        _broker.Metadata.CreateTopic("t", 1, 1, configs: [new("retention.ms", "1000")]);

        var response = await AlterAsync(1, false, Topic("t", ("retention.ms", 1, null), ("cleanup.policy", 2, "compact")));
        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        var configs = _broker.Metadata.Image.GetTopicConfigs("t");
        Assert.False(configs.ContainsKey("retention.ms"));
        Assert.Equal("delete,compact", configs["cleanup.policy"]);
        Assert.Equal(Storage.CleanupPolicy.Delete | Storage.CleanupPolicy.Compact, _broker.Replicas.GetLog("t", 0)!.Config.CleanupPolicy);

        response = await AlterAsync(1, false, Topic("t", ("cleanup.policy", 3, "delete")));
        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Equal("compact", _broker.Metadata.Image.GetTopicConfigs("t")["cleanup.policy"]);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_AppendToNonList_ReturnsInvalidConfig()
    {
        _broker.Metadata.CreateTopic("t", 1, 1);

        var response = await AlterAsync(1, false, Topic("t", ("retention.ms", 2, "5")));

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.InvalidConfig, result.ErrorCode);
        Assert.Equal("Config value append is not allowed for config key: retention.ms", result.ErrorMessage);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_ValidateOnly_ChangesNothing()
    {
        _broker.Metadata.CreateTopic("t", 1, 1);

        var response = await AlterAsync(1, true, Topic("t", ("retention.ms", 0, "5000")));

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Empty(_broker.Metadata.Image.GetTopicConfigs("t"));
        Assert.Equal(Storage.LogConfig.Default.RetentionMs, _broker.Replicas.GetLog("t", 0)!.Config.RetentionMs);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_UnknownTopic_ReturnsUnknownTopicOrPartition()
    {
        var response = await AlterAsync(1, false, Topic("missing", ("retention.ms", 0, "5000")));

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, result.ErrorCode);
        Assert.Equal("The topic 'missing' does not exist.", result.ErrorMessage);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_BrokerAndUnknownType_ReturnSuccessAndError()
    {
        var response = await AlterAsync(1, false,
            new IncrementalAlterConfigsRequest.AlterConfigsResource { ResourceType = 4, ResourceName = "1", Configs = [new() { Name = "log.retention.ms", ConfigOperation = 0, Value = "1" }] },
            new IncrementalAlterConfigsRequest.AlterConfigsResource { ResourceType = 99, ResourceName = "x" });

        Assert.Equal(2, response.Responses.Count);
        Assert.Equal((short)ErrorCode.None, response.Responses[0].ErrorCode);
        Assert.Equal((short)ErrorCode.UnsupportedVersion, response.Responses[1].ErrorCode);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_DescribeAfterSet_ShowsDynamicTopicSource()
    {
        _broker.Metadata.CreateTopic("t", 1, 1);
        await AlterAsync(1, false, Topic("t", ("retention.ms", 0, "5000")));

        var described = await BrokerExchange.SendAsync<DescribeConfigsResponse>(_broker, ApiKey.DescribeConfigs, 4, new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = 2, ResourceName = "t", ConfigurationKeys = ["retention.ms"] }],
        });

        var config = Assert.Single(Assert.Single(described.Results).Configs);
        Assert.Equal("5000", config.Value);
        Assert.Equal(1, config.ConfigSource);
    }
}
