using System.Collections;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>GROUP config resources (KIP-848 group configs) through DescribeConfigs, AlterConfigs and IncrementalAlterConfigs.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class GroupConfigHandlerTests : IDisposable
{
    private const sbyte GroupType = 32;
    private readonly TestBroker _broker = new("group.consumer.heartbeat.interval.ms=6000");

    public void Dispose() => _broker.Dispose();

    private Task<DescribeConfigsResponse> DescribeAsync(short version, string group, List<string>? keys = null) =>
        BrokerExchange.SendAsync<DescribeConfigsResponse>(_broker, ApiKey.DescribeConfigs, version, new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = GroupType, ResourceName = group, ConfigurationKeys = keys }],
            IncludeSynonyms = true,
        });

    private Task<IncrementalAlterConfigsResponse> IncrementalAsync(short version, string group, bool validateOnly, params (string Key, byte Op, string? Value)[] configs) =>
        BrokerExchange.SendAsync<IncrementalAlterConfigsResponse>(_broker, ApiKey.IncrementalAlterConfigs, version, new IncrementalAlterConfigsRequest
        {
            Resources = [new() { ResourceType = GroupType, ResourceName = group, Configs = [.. configs.Select(c => new IncrementalAlterConfigsRequest.AlterableConfig { Name = c.Key, ConfigOperation = (sbyte)c.Op, Value = c.Value })] }],
            ValidateOnly = validateOnly,
        });

    private Task<AlterConfigsResponse> AlterAsync(short version, string group, params (string Key, string? Value)[] configs) =>
        BrokerExchange.SendAsync<AlterConfigsResponse>(_broker, ApiKey.AlterConfigs, version, new AlterConfigsRequest
        {
            Resources = [new() { ResourceType = GroupType, ResourceName = group, Configs = [.. configs.Select(c => new AlterConfigsRequest.AlterableConfig { Name = c.Key, Value = c.Value })] }],
        });

    private IReadOnlyDictionary<string, string> Stored(string group) =>
        _broker.Metadata.Image.GetConfigs(new Controller.ConfigResource(Controller.ConfigResourceType.Group, group));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task DescribeConfigs_Group_ListsGroupConfigsWithGroupThenBrokerSources(short version)
    {
        await IncrementalAsync(1, "g", false, ("consumer.session.timeout.ms", 0, "50000"));

        var result = Assert.Single((await DescribeAsync(version, "g")).Results);

        Assert.Equal(0, result.ErrorCode);
        Assert.Equal(["consumer.heartbeat.interval.ms", "consumer.session.timeout.ms"], result.Configs.Select(c => c.Name));
        var heartbeat = result.Configs[0];
        Assert.Equal(("6000", (sbyte)DescribedConfigSource.StaticBrokerConfig, false, version >= 3 ? (sbyte)DescribedConfigType.Int : (sbyte)0), (heartbeat.Value, heartbeat.ConfigSource, heartbeat.ReadOnly, heartbeat.ConfigType));
        Assert.Equal(
            [("group.consumer.heartbeat.interval.ms", "6000", (sbyte)4), ("group.consumer.heartbeat.interval.ms", "5000", (sbyte)5)],
            heartbeat.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        var session = result.Configs[1];
        Assert.Equal(("50000", (sbyte)DescribedConfigSource.GroupConfig), (session.Value, session.ConfigSource));
        Assert.Equal(
            [("consumer.session.timeout.ms", "50000", (sbyte)8), ("group.consumer.session.timeout.ms", "45000", (sbyte)5)],
            session.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
    }

    [Fact]
    public async Task DescribeConfigs_GroupWithoutConfigsOrEmptyName_DefaultsOrInvalidRequest()
    {
        var unknown = Assert.Single(Assert.Single((await DescribeAsync(4, "no-such-group", ["consumer.session.timeout.ms"])).Results).Configs);
        Assert.Equal(("45000", (sbyte)DescribedConfigSource.DefaultConfig), (unknown.Value, unknown.ConfigSource));

        var empty = Assert.Single((await DescribeAsync(4, "")).Results);
        Assert.Equal((short)ErrorCode.InvalidRequest, empty.ErrorCode);
        Assert.Equal("Group name must not be empty", empty.ErrorMessage);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task IncrementalAlterConfigs_Group_SetsAndDeletes(short version)
    {
        var response = await IncrementalAsync(version, "g", false, ("consumer.session.timeout.ms", 0, "55000"), ("consumer.heartbeat.interval.ms", 0, "7000"));
        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Equal(new Dictionary<string, string> { ["consumer.heartbeat.interval.ms"] = "7000", ["consumer.session.timeout.ms"] = "55000" }, Stored("g"));
        Assert.Equal(7000, _broker.Context.GroupCoordinator.GroupConfigs.ConsumerHeartbeatIntervalMs("g"));

        response = await IncrementalAsync(version, "g", false, ("consumer.session.timeout.ms", 1, null));

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Equal(new Dictionary<string, string> { ["consumer.heartbeat.interval.ms"] = "7000" }, Stored("g"));
        Assert.Null(_broker.Context.GroupCoordinator.GroupConfigs.ConsumerSessionTimeoutMs("g"));
    }

    [Theory]
    [InlineData("consumer.session.timeout.ms", "44999", "consumer.session.timeout.ms must be greater than or equal to group.consumer.min.session.timeout.ms")]
    [InlineData("consumer.session.timeout.ms", "60001", "consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms")]
    [InlineData("consumer.heartbeat.interval.ms", "4999", "consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms")]
    [InlineData("consumer.heartbeat.interval.ms", "15001", "consumer.heartbeat.interval.ms must be less than or equal to group.consumer.max.heartbeat.interval.ms")]
    [InlineData("consumer.heartbeat.interval.ms", "abc", "Invalid value abc for configuration consumer.heartbeat.interval.ms: Not a number of type INT")]
    [InlineData("consumer.heartbeat.interval.ms", "0", "Invalid value 0 for configuration consumer.heartbeat.interval.ms: Value must be at least 1")]
    [InlineData("share.session.timeout.ms", "45000", "Unknown group config name: share.session.timeout.ms")]
    public async Task IncrementalAlterConfigs_InvalidGroupConfig_ReturnsInvalidConfigWithKafkasMessage(string key, string value, string message)
    {
        var response = await IncrementalAsync(1, "g", false, (key, 0, value));

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.InvalidConfig, result.ErrorCode);
        Assert.Equal(message, result.ErrorMessage);
        Assert.Empty(Stored("g"));
    }

    [Fact]
    public async Task IncrementalAlterConfigs_GroupSessionNotAboveHeartbeat_ReturnsInvalidConfig()
    {
        using var broker = new TestBroker("group.consumer.min.session.timeout.ms=1000\ngroup.consumer.max.heartbeat.interval.ms=40000");
        var response = await BrokerExchange.SendAsync<IncrementalAlterConfigsResponse>(broker, ApiKey.IncrementalAlterConfigs, 1, new IncrementalAlterConfigsRequest
        {
            Resources = [new() { ResourceType = GroupType, ResourceName = "g", Configs = [new() { Name = "consumer.session.timeout.ms", ConfigOperation = 0, Value = "5000" }] }],
        });

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.InvalidConfig, result.ErrorCode);
        Assert.Equal("consumer.session.timeout.ms must be greater than consumer.heartbeat.interval.ms", result.ErrorMessage);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_DefaultGroupOrValidateOnly_InvalidRequestOrNothingStored()
    {
        var response = await IncrementalAsync(1, "", false, ("consumer.session.timeout.ms", 0, "50000"));
        Assert.Equal((short)ErrorCode.InvalidRequest, response.Responses[0].ErrorCode);
        Assert.Equal("Default group resources are not allowed.", response.Responses[0].ErrorMessage);

        response = await IncrementalAsync(1, "g", true, ("consumer.session.timeout.ms", 0, "50000"));
        Assert.Equal(0, response.Responses[0].ErrorCode);
        Assert.Empty(Stored("g"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AlterConfigs_Group_ReplacesTheWholeSet(short version)
    {
        await IncrementalAsync(1, "g", false, ("consumer.session.timeout.ms", 0, "50000"));

        var response = await AlterAsync(version, "g", ("consumer.heartbeat.interval.ms", "8000"));

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Equal(new Dictionary<string, string> { ["consumer.heartbeat.interval.ms"] = "8000" }, Stored("g"));
        response = await AlterAsync(version, "g", ("consumer.heartbeat.interval.ms", "20000"));
        Assert.Equal((short)ErrorCode.InvalidConfig, response.Responses[0].ErrorCode);
    }

    [Theory]
    [InlineData("group.consumer.heartbeat.interval.ms=4000", "group.consumer.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms")]
    [InlineData("group.consumer.max.heartbeat.interval.ms=4000", "group.consumer.max.heartbeat.interval.ms must be greater than or equal to group.consumer.min.heartbeat.interval.ms")]
    [InlineData("group.consumer.session.timeout.ms=70000", "group.consumer.session.timeout.ms must be less than or equal to group.consumer.max.session.timeout.ms")]
    [InlineData("group.consumer.min.session.timeout.ms=1000\ngroup.consumer.session.timeout.ms=5000", "group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms")]
    public void Load_InconsistentConsumerGroupTimeouts_FailsWithKafkasMessage(string properties, string message)
    {
        var e = Assert.Throws<ConfigException>(() => BrokerConfig.Load(properties, [], new Hashtable()));

        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void Load_ConsumerGroupTimeoutBounds_AreKnownKeysWithKafkasDefaults()
    {
        var config = BrokerConfig.Load("group.consumer.max.session.timeout.ms=90000", [], new Hashtable());

        Assert.Empty(config.Warnings);
        Assert.Equal(
            [45000, 90000, 5000, 15000],
            new[] { "group.consumer.min.session.timeout.ms", "group.consumer.max.session.timeout.ms", "group.consumer.min.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms" }.Select(config.GetInt));
    }
}
