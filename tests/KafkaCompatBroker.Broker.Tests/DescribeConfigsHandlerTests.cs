using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class DescribeConfigsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new("log.retention.hours=24\ncompression.type=zstd");

    public void Dispose() => _broker.Dispose();

    private Task<DescribeConfigsResponse> DescribeAsync(short version, sbyte type, string name, List<string>? keys = null, bool synonyms = false) =>
        BrokerExchange.SendAsync<DescribeConfigsResponse>(_broker, ApiKey.DescribeConfigs, version, new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = type, ResourceName = name, ConfigurationKeys = keys }],
            IncludeSynonyms = synonyms && version >= 1,
            IncludeDocumentation = version >= 3,
        });

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task DescribeConfigs_TopicAllKeys_ListsEveryKafkaTopicConfig(short version)
    {
        _broker.Metadata.CreateTopic("t", 1, 1, configs: [new("cleanup.policy", "compact")]);

        var response = await DescribeAsync(version, 2, "t");

        var result = Assert.Single(response.Results);
        Assert.Equal(0, result.ErrorCode);
        Assert.Equal("", result.ErrorMessage);
        Assert.Equal(33, result.Configs.Count);
        var byName = result.Configs.ToDictionary(c => c.Name);
        Assert.Equal("compact", byName["cleanup.policy"].Value);
        Assert.Equal(1, byName["cleanup.policy"].ConfigSource);
        Assert.Equal("86400000", byName["retention.ms"].Value);
        Assert.Equal("zstd", byName["compression.type"].Value);
        Assert.Equal(4, byName["compression.type"].ConfigSource);
        Assert.Equal("1073741824", byName["segment.bytes"].Value);
        Assert.Equal(5, byName["segment.bytes"].ConfigSource);
        Assert.Equal("1048588", byName["max.message.bytes"].Value);
        Assert.Equal("0.5", byName["min.cleanable.dirty.ratio"].Value);
        Assert.Equal("false", byName["remote.storage.enable"].Value);
        Assert.Equal("-2", byName["local.retention.ms"].Value);
        Assert.Equal("", byName["leader.replication.throttled.replicas"].Value);
        Assert.DoesNotContain("message.downconversion.enable", byName.Keys);
        Assert.All(result.Configs, c => Assert.False(c.ReadOnly));
        Assert.All(result.Configs, c => Assert.False(c.IsSensitive));
        Assert.All(result.Configs, c => Assert.Empty(c.Synonyms));
        if (version >= 3)
        {
            Assert.Equal(7, byName["cleanup.policy"].ConfigType);
            Assert.Equal(3, byName["segment.bytes"].ConfigType);
            Assert.Equal(5, byName["retention.ms"].ConfigType);
            Assert.Equal(6, byName["min.cleanable.dirty.ratio"].ConfigType);
            Assert.Equal(1, byName["preallocate"].ConfigType);
            Assert.All(result.Configs, c => Assert.Null(c.Documentation));
        }
    }

    [Fact]
    public async Task DescribeConfigs_IncludeSynonyms_ListsOverrideThenBrokerSynonymsThenDefault()
    {
        _broker.Metadata.CreateTopic("t", 1, 1, configs: [new("segment.bytes", "1048576"), new("compression.type", "lz4")]);

        var response = await DescribeAsync(4, 2, "t", ["segment.bytes", "compression.type", "retention.ms", "max.message.bytes"], synonyms: true);

        var configs = Assert.Single(response.Results).Configs.ToDictionary(c => c.Name);
        Assert.Equal(4, configs.Count);
        Assert.Equal(
            [("segment.bytes", "1048576", (sbyte)1), ("log.segment.bytes", "1073741824", (sbyte)5)],
            configs["segment.bytes"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal(
            [("compression.type", "lz4", (sbyte)1), ("compression.type", "zstd", (sbyte)4), ("compression.type", "producer", (sbyte)5)],
            configs["compression.type"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal([("message.max.bytes", "1048588", (sbyte)5)], configs["max.message.bytes"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));

        // Kafka lists a topic config's synonyms from its first broker synonym (log.retention.ms), so hours alone show none.
        Assert.Empty(configs["retention.ms"].Synonyms);
        Assert.Equal(5, configs["retention.ms"].ConfigSource);
    }

    [Fact]
    public async Task DescribeConfigs_StaticLogRetentionMs_IsSynonymOfRetentionMs()
    {
        using var broker = new TestBroker("log.retention.ms=5000");
        broker.Metadata.CreateTopic("t", 1, 1);

        var response = await BrokerExchange.SendAsync<DescribeConfigsResponse>(broker, ApiKey.DescribeConfigs, 4, new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = 2, ResourceName = "t", ConfigurationKeys = ["retention.ms"] }],
            IncludeSynonyms = true,
        });

        var config = Assert.Single(Assert.Single(response.Results).Configs);
        Assert.Equal("5000", config.Value);
        Assert.Equal(4, config.ConfigSource);
        Assert.Equal([("log.retention.ms", "5000", (sbyte)4), ("log.retention.hours", "168", (sbyte)5)], config.Synonyms.Select(s => (s.Name, s.Value, s.Source)));
    }

    [Fact]
    public async Task DescribeConfigs_UnknownTopic_ReturnsUnknownTopicOrPartition()
    {
        var response = await DescribeAsync(4, 2, "missing");

        var result = Assert.Single(response.Results);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, result.ErrorCode);
        Assert.Equal("missing", result.ResourceName);
        Assert.Empty(result.Configs);
    }

    [Fact]
    public async Task DescribeConfigs_InvalidTopicName_ReturnsInvalidTopicException()
    {
        var response = await DescribeAsync(4, 2, "bad name!");

        var result = Assert.Single(response.Results);
        Assert.Equal((short)ErrorCode.InvalidTopicException, result.ErrorCode);
        Assert.False(string.IsNullOrEmpty(result.ErrorMessage));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task DescribeConfigs_ThisBroker_ListsEveryBrokerKeyWithSource(short version)
    {
        var response = await DescribeAsync(version, 4, "1", synonyms: true);

        var result = Assert.Single(response.Results);
        Assert.Equal(0, result.ErrorCode);
        var byName = result.Configs.ToDictionary(c => c.Name);
        Assert.Equal(Configuration.BrokerConfigKeys.All.Count, byName.Count);
        Assert.Equal("24", byName["log.retention.hours"].Value);
        Assert.Equal(4, byName["log.retention.hours"].ConfigSource);
        Assert.True(byName["log.retention.hours"].ReadOnly);
        Assert.Equal("1048588", byName["message.max.bytes"].Value);
        Assert.Equal(5, byName["message.max.bytes"].ConfigSource);
        Assert.False(byName["message.max.bytes"].ReadOnly);
        Assert.Null(byName["log.retention.ms"].Value);
        Assert.Equal(4, byName["log.dirs"].ConfigSource);
        Assert.Equal(
            [("log.retention.hours", "24", (sbyte)4), ("log.retention.hours", "168", (sbyte)5)],
            byName["log.retention.hours"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
    }

    [Fact]
    public async Task DescribeConfigs_ClusterDefaultBroker_ReturnsDynamicDefaultsOnly()
    {
        var response = await DescribeAsync(4, 4, "");

        var result = Assert.Single(response.Results);
        Assert.Equal(0, result.ErrorCode);
        Assert.Empty(result.Configs);
    }

    [Theory]
    [InlineData("2", "Unexpected broker id, expected 1 or empty string, but received 2")]
    [InlineData("x", "Broker id must be an integer, but it is: x")]
    public async Task DescribeConfigs_OtherBroker_ReturnsInvalidRequest(string name, string message)
    {
        var response = await DescribeAsync(4, 4, name);

        var result = Assert.Single(response.Results);
        Assert.Equal((short)ErrorCode.InvalidRequest, result.ErrorCode);
        Assert.Equal(message, result.ErrorMessage);
    }

    [Fact]
    public async Task DescribeConfigs_BrokerLogger_ReturnsEmptyList()
    {
        var response = await DescribeAsync(4, 8, "1");

        var result = Assert.Single(response.Results);
        Assert.Equal(0, result.ErrorCode);
        Assert.Empty(result.Configs);
    }

    [Fact]
    public async Task DescribeConfigs_UnknownResourceType_FailsEveryResource()
    {
        _broker.Metadata.CreateTopic("t", 1, 1);
        var response = await BrokerExchange.SendAsync<DescribeConfigsResponse>(_broker, ApiKey.DescribeConfigs, 4, new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = 2, ResourceName = "t", ConfigurationKeys = null }, new() { ResourceType = 99, ResourceName = "x", ConfigurationKeys = null }],
        });

        Assert.Equal(2, response.Results.Count);
        Assert.All(response.Results, r => Assert.Equal((short)ErrorCode.InvalidRequest, r.ErrorCode));
    }

    [Fact]
    public void Normalize_Values_MatchKafkaFormatting()
    {
        Assert.Equal("1.0", Configuration.ConfigDescriber.Normalize("1", Configuration.DescribedConfigType.Double));
        Assert.Equal("0.25", Configuration.ConfigDescriber.Normalize(" 0.25 ", Configuration.DescribedConfigType.Double));
        Assert.Equal("compact,delete", Configuration.ConfigDescriber.Normalize("compact, delete", Configuration.DescribedConfigType.List));
        Assert.Equal("true", Configuration.ConfigDescriber.Normalize("TRUE", Configuration.DescribedConfigType.Boolean));
    }
}

/// <summary>DescribeConfigs and AlterConfigs end to end with a real client: kafka-python 2.0.2's admin client against a started broker.</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class DescribeConfigsKafkaPythonTests
{
    [Fact]
    public async Task DescribeAndAlterConfigs_KafkaPythonAdmin_RoundTrips()
    {
        // Needs Debian's python3-kafka 2.0.2 under /usr/bin/python3 (compat-tests/scripts/install-clients.sh installs it).
        Assert.True(File.Exists("/usr/bin/python3"), "/usr/bin/python3 is missing: run compat-tests/scripts/install-clients.sh");

        var dir = Path.Combine(Path.GetTempPath(), "kcb-cfg-e2e-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var config = Configuration.BrokerConfig.Load($"listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs={dir}\nlog.retention.hours=48", [], new System.Collections.Hashtable());
            await using var broker = await KafkaBroker.StartAsync(config, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
            broker.Context.Metadata.CreateTopic("e2e", 1, 1);
            var script = """
                import sys
                from kafka.admin import KafkaAdminClient, ConfigResource, ConfigResourceType
                admin = KafkaAdminClient(bootstrap_servers=sys.argv[1], request_timeout_ms=10000)
                r = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, 'e2e', configs={'retention.ms': '12345', 'cleanup.policy': 'compact'})])
                print('alter', r.resources[0][0])
                d = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, 'e2e')])
                configs = {c[0]: c[1] for c in d[0].resources[0][4]}
                print('count', len(configs))
                print('retention.ms', configs['retention.ms'])
                print('cleanup.policy', configs['cleanup.policy'])
                b = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, '1')])
                print('log.retention.hours', {c[0]: c[1] for c in b[0].resources[0][4]}['log.retention.hours'])
                r = admin.alter_configs([ConfigResource(ConfigResourceType.BROKER, '', configs={'message.max.bytes': '2000000'})])
                print('alter broker', r.resources[0][0])
                b = admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, '1')])
                print('message.max.bytes', {c[0]: c[1] for c in b[0].resources[0][4]}['message.max.bytes'])
                admin.close()
                """;
            var scriptPath = Path.Combine(dir, "admin.py");
            await File.WriteAllTextAsync(scriptPath, script);
            using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/usr/bin/python3", [scriptPath, broker.BootstrapServers])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            var output = await stdout;
            Assert.True(process.ExitCode == 0, output + await stderr);
            Assert.Contains("alter 0", output, StringComparison.Ordinal);
            Assert.Contains("count 33", output, StringComparison.Ordinal);
            Assert.Contains("retention.ms 12345", output, StringComparison.Ordinal);
            Assert.Contains("cleanup.policy compact", output, StringComparison.Ordinal);
            Assert.Contains("log.retention.hours 48", output, StringComparison.Ordinal);
            Assert.Contains("alter broker 0", output, StringComparison.Ordinal);
            Assert.Contains("message.max.bytes 2000000", output, StringComparison.Ordinal);
            Assert.Equal((12345, 2000000), (broker.Context.Replicas.GetLog("e2e", 0)!.Config.RetentionMs, broker.Context.Replicas.GetLog("e2e", 0)!.Config.MaxMessageBytes));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
