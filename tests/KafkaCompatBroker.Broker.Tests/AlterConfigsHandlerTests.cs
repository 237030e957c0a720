using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class AlterConfigsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private Task<AlterConfigsResponse> AlterAsync(short version, bool validateOnly, params AlterConfigsRequest.AlterConfigsResource[] resources) =>
        BrokerExchange.SendAsync<AlterConfigsResponse>(_broker, ApiKey.AlterConfigs, version, new AlterConfigsRequest { Resources = [.. resources], ValidateOnly = validateOnly });

    private static AlterConfigsRequest.AlterConfigsResource Topic(string name, params (string Key, string? Value)[] configs) =>
        new() { ResourceType = 2, ResourceName = name, Configs = [.. configs.Select(c => new AlterConfigsRequest.AlterableConfig { Name = c.Key, Value = c.Value })] };

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AlterConfigs_Topic_ReplacesWholeOverrideSet(short version)
    {
        _broker.Metadata.CreateTopic("t", 1, 1, configs: [new("cleanup.policy", "compact"), new("retention.ms", "1000")]);

        var response = await AlterAsync(version, false, Topic("t", ("retention.ms", "5000"), ("segment.bytes", "2097152")));

        var result = Assert.Single(response.Responses);
        Assert.Equal(0, result.ErrorCode);
        Assert.Null(result.ErrorMessage);
        var configs = _broker.Metadata.Image.GetTopicConfigs("t");
        Assert.Equal(["retention.ms", "segment.bytes"], configs.Keys);
        var log = _broker.Replicas.GetLog("t", 0)!;
        Assert.Equal(5000, log.Config.RetentionMs);
        Assert.Equal(2097152, log.Config.SegmentBytes);
        Assert.Equal(Storage.CleanupPolicy.Delete, log.Config.CleanupPolicy);
    }

    [Fact]
    public async Task AlterConfigs_ValidateOnly_ChangesNothing()
    {
        _broker.Metadata.CreateTopic("t", 1, 1);

        var response = await AlterAsync(2, true, Topic("t", ("retention.ms", "5000")));

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Empty(_broker.Metadata.Image.GetTopicConfigs("t"));
    }

    [Fact]
    public async Task AlterConfigs_InvalidValueOrUnknownKey_ReturnsInvalidConfig()
    {
        _broker.Metadata.CreateTopic("t", 1, 1);

        var response = await AlterAsync(2, false, Topic("t", ("retention.ms", "abc")));
        Assert.Equal((short)ErrorCode.InvalidConfig, Assert.Single(response.Responses).ErrorCode);

        response = await AlterAsync(2, false, Topic("t", ("no.such.config", "1")));
        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.InvalidConfig, result.ErrorCode);
        Assert.Equal("Unknown topic config name: no.such.config", result.ErrorMessage);
    }

    [Fact]
    public async Task AlterConfigs_UnknownTopic_ReturnsUnknownTopicOrPartition()
    {
        var response = await AlterAsync(2, false, Topic("missing", ("retention.ms", "5000")));

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, result.ErrorCode);
        Assert.Equal("The topic 'missing' does not exist.", result.ErrorMessage);
    }

    [Fact]
    public async Task AlterConfigs_DuplicateResource_ReturnsInvalidRequestOnce()
    {
        _broker.Metadata.CreateTopic("t", 1, 1);

        var response = await AlterAsync(2, false, Topic("t", ("retention.ms", "1")), Topic("t", ("retention.ms", "2")));

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.InvalidRequest, result.ErrorCode);
        Assert.Equal("Duplicate resource.", result.ErrorMessage);
        Assert.Empty(_broker.Metadata.Image.GetTopicConfigs("t"));
    }

    [Fact]
    public async Task AlterConfigs_UnknownTypeAndBroker_ReturnErrorAndSuccess()
    {
        var response = await AlterAsync(2, false,
            new AlterConfigsRequest.AlterConfigsResource { ResourceType = 99, ResourceName = "x" },
            new AlterConfigsRequest.AlterConfigsResource { ResourceType = 4, ResourceName = "1", Configs = [new() { Name = "log.retention.ms", Value = "1" }] });

        Assert.Equal(2, response.Responses.Count);
        Assert.Equal((short)ErrorCode.UnsupportedVersion, response.Responses[0].ErrorCode);
        Assert.Equal("Unknown resource type 99.", response.Responses[0].ErrorMessage);
        Assert.Equal((short)ErrorCode.None, response.Responses[1].ErrorCode);
    }
}
