using System.Buffers;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>Dynamic broker configs (KIP-226) through AlterConfigs, IncrementalAlterConfigs and DescribeConfigs.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class DynamicBrokerConfigTests : IDisposable
{
    private const sbyte BrokerType = 4;
    private readonly TestBroker _broker = new("log.retention.hours=24");

    public void Dispose() => _broker.Dispose();

    private Task<AlterConfigsResponse> AlterAsync(short version, string name, bool validateOnly, params (string Key, string? Value)[] configs) =>
        BrokerExchange.SendAsync<AlterConfigsResponse>(_broker, ApiKey.AlterConfigs, version, new AlterConfigsRequest
        {
            Resources = [new() { ResourceType = BrokerType, ResourceName = name, Configs = [.. configs.Select(c => new AlterConfigsRequest.AlterableConfig { Name = c.Key, Value = c.Value })] }],
            ValidateOnly = validateOnly,
        });

    private Task<IncrementalAlterConfigsResponse> IncrementalAsync(short version, string name, bool validateOnly, params (string Key, byte Op, string? Value)[] configs) =>
        BrokerExchange.SendAsync<IncrementalAlterConfigsResponse>(_broker, ApiKey.IncrementalAlterConfigs, version, new IncrementalAlterConfigsRequest
        {
            Resources = [new() { ResourceType = BrokerType, ResourceName = name, Configs = [.. configs.Select(c => new IncrementalAlterConfigsRequest.AlterableConfig { Name = c.Key, ConfigOperation = (sbyte)c.Op, Value = c.Value })] }],
            ValidateOnly = validateOnly,
        });

    private Task<DescribeConfigsResponse> DescribeAsync(short version, sbyte type, string name, List<string>? keys = null) =>
        BrokerExchange.SendAsync<DescribeConfigsResponse>(_broker, ApiKey.DescribeConfigs, version, new DescribeConfigsRequest
        {
            Resources = [new() { ResourceType = type, ResourceName = name, ConfigurationKeys = keys }],
            IncludeSynonyms = true,
        });

    private IReadOnlyDictionary<string, string> Dynamic(string name) =>
        _broker.Metadata.Image.GetConfigs(new Controller.ConfigResource(Controller.ConfigResourceType.Broker, name));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AlterConfigs_BrokerResources_ReplaceTheWholeDynamicSet(short version)
    {
        var response = await AlterAsync(version, "", false, ("log.retention.ms", "5000"), ("message.max.bytes", "2000000"));
        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Null(response.Responses[0].ErrorMessage);
        response = await AlterAsync(version, "1", false, ("log.segment.bytes", "2097152"));
        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);

        response = await AlterAsync(version, "", false, ("message.max.bytes", "3000000"));

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Equal(new Dictionary<string, string> { ["message.max.bytes"] = "3000000" }, Dynamic(""));
        Assert.Equal(new Dictionary<string, string> { ["log.segment.bytes"] = "2097152" }, Dynamic("1"));
    }

    [Theory]
    [InlineData(0, "", "log.dirs", "/x", "Cannot update these configs dynamically: Set(log.dirs)")]
    [InlineData(0, "", "listeners", "PLAINTEXT://127.0.0.1:9092,EXTRA://127.0.0.1:0", "Cannot update these configs at default cluster level, broker id must be specified: Set(listeners)")]
    [InlineData(1, "", "listener.security.protocol.map", "PLAINTEXT:PLAINTEXT", "Cannot update these configs at default cluster level, broker id must be specified: Set(listener.security.protocol.map)")]
    [InlineData(1, "1", "listeners", "PLAINTEXT://127.0.0.1:9093", "Invalid value org.apache.kafka.common.config.ConfigException: Advertised listeners cannot be altered when using a Raft-based metadata quorum. for configuration Invalid dynamic configuration")]
    [InlineData(2, "1", "listeners", "PLAINTEXT://127.0.0.1:9092,EXTRA://127.0.0.1:0", "Error creating broker listeners from 'PLAINTEXT://127.0.0.1:9092,EXTRA://127.0.0.1:0': No security protocol defined for listener EXTRA")]
    [InlineData(2, "1", "listener.security.protocol.map", "PLAINTEXT:SSL", "Invalid value org.apache.kafka.common.config.ConfigException: Security protocol cannot be updated for existing listener ListenerName(PLAINTEXT) for configuration Invalid dynamic configuration")]
    [InlineData(1, "", "advertised.listeners", "PLAINTEXT://h:1", "Cannot update these configs dynamically: Set(advertised.listeners)")]
    [InlineData(2, "1", "advertised.listeners", "PLAINTEXT://h:1", "Cannot update these configs dynamically: Set(advertised.listeners)")]
    [InlineData(2, "1", "connections.max.idle.ms", "1000", "Cannot update these configs dynamically: Set(connections.max.idle.ms)")]
    [InlineData(2, "1", "message.max.bytes", "abc", "Invalid value abc for configuration message.max.bytes: Not a number of type INT")]
    [InlineData(2, "", "log.cleanup.policy", "shred", "Invalid value shred for configuration log.cleanup.policy: String must be one of: delete, compact")]
    [InlineData(2, "2", "message.max.bytes", "1", "Unexpected broker id, expected 1, but received 2")]
    [InlineData(2, "x", "message.max.bytes", "1", "Node id must be an integer, but it is: x")]
    public async Task AlterConfigs_RefusedBrokerChange_ReturnsInvalidRequestWithKafkasMessage(short version, string name, string key, string value, string message)
    {
        var response = await AlterAsync(version, name, false, (key, value));

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.InvalidRequest, result.ErrorCode);
        Assert.Equal(message, result.ErrorMessage);
        Assert.Empty(Dynamic(""));
        Assert.Empty(Dynamic("1"));
    }

    [Fact]
    public async Task AlterConfigs_BrokerValidateOnly_StoresNothing()
    {
        var response = await AlterAsync(2, "1", true, ("log.retention.ms", "5000"));

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Empty(Dynamic("1"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task IncrementalAlterConfigs_Broker_SetDeleteAppendSubtract(short version)
    {
        var response = await IncrementalAsync(version, "", false, ("log.retention.ms", 0, "5000"), ("log.cleanup.policy", 2, "compact"));
        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Equal(new Dictionary<string, string> { ["log.cleanup.policy"] = "delete,compact", ["log.retention.ms"] = "5000" }, Dynamic(""));

        response = await IncrementalAsync(version, "", false, ("log.retention.ms", 1, null), ("log.cleanup.policy", 3, "delete"));

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Equal(new Dictionary<string, string> { ["log.cleanup.policy"] = "compact" }, Dynamic(""));
    }

    [Theory]
    [InlineData(0, "message.max.bytes", 2, "1", ErrorCode.InvalidConfig, "Config value append is not allowed for config key: message.max.bytes")]
    [InlineData(1, "node.id", 0, "5", ErrorCode.InvalidRequest, "Cannot update these configs dynamically: Set(node.id)")]
    [InlineData(1, "message.max.bytes", 0, null, ErrorCode.InvalidRequest, "Null value not supported for : message.max.bytes")]
    public async Task IncrementalAlterConfigs_RefusedBrokerChange_ReturnsKafkasError(short version, string key, byte op, string? value, ErrorCode error, string message)
    {
        var response = await IncrementalAsync(version, "1", false, (key, op, value));

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)error, result.ErrorCode);
        Assert.Equal(message, result.ErrorMessage);
        Assert.Empty(Dynamic("1"));
    }

    [Fact]
    public async Task IncrementalAlterConfigs_BrokerValidateOnly_StoresNothing()
    {
        var response = await IncrementalAsync(1, "", true, ("message.max.bytes", 0, "5000"));

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Empty(Dynamic(""));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task DescribeConfigs_DynamicBrokerConfigs_ReportSourcesAndSynonymsInKafkasOrder(short version)
    {
        await IncrementalAsync(1, "", false, ("log.retention.ms", 0, "7000"), ("message.max.bytes", 0, "2000000"));
        await IncrementalAsync(1, "1", false, ("log.retention.ms", 0, "6000"));
        _broker.Metadata.CreateTopic("t", 1, 1);

        var perBroker = (await DescribeAsync(version, BrokerType, "1", ["log.retention.ms", "message.max.bytes", "log.retention.hours"])).Results[0].Configs.ToDictionary(c => c.Name);
        var clusterDefault = (await DescribeAsync(version, BrokerType, "")).Results[0].Configs.ToDictionary(c => c.Name);
        var topic = Assert.Single((await DescribeAsync(version, 2, "t", ["retention.ms"])).Results[0].Configs);

        Assert.Equal("6000", perBroker["log.retention.ms"].Value);
        Assert.Equal((sbyte)DescribedConfigSource.DynamicBrokerConfig, perBroker["log.retention.ms"].ConfigSource);
        Assert.False(perBroker["log.retention.ms"].ReadOnly);
        Assert.Equal(
            [("log.retention.ms", "6000", (sbyte)2), ("log.retention.ms", "7000", (sbyte)3), ("log.retention.hours", "24", (sbyte)4), ("log.retention.hours", "168", (sbyte)5)],
            perBroker["log.retention.ms"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal(("2000000", (sbyte)3), (perBroker["message.max.bytes"].Value, perBroker["message.max.bytes"].ConfigSource));
        Assert.True(perBroker["log.retention.hours"].ReadOnly);
        Assert.Equal(["log.retention.ms", "message.max.bytes"], clusterDefault.Keys.Order());
        Assert.Equal([("log.retention.ms", "7000", (sbyte)3)], clusterDefault["log.retention.ms"].Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        Assert.Equal(("6000", (sbyte)2), (topic.Value, topic.ConfigSource));
    }

    [Fact]
    public async Task AlterConfigs_DynamicLogDefaults_ApplyToTopicsWithoutOverridesWithoutRestart()
    {
        _broker.Metadata.CreateTopic("plain", 1, 1);
        _broker.Metadata.CreateTopic("own", 1, 1, configs: [new("retention.ms", "1000")]);

        await IncrementalAsync(1, "", false, ("log.retention.ms", 0, "5000"), ("message.max.bytes", 0, "2000000"));
        await IncrementalAsync(1, "1", false, ("message.max.bytes", 0, "3000000"));

        var plain = _broker.Replicas.GetLog("plain", 0)!.Config;
        var own = _broker.Replicas.GetLog("own", 0)!.Config;
        Assert.Equal((5000L, 3000000), (plain.RetentionMs, plain.MaxMessageBytes));
        Assert.Equal((1000L, 3000000), (own.RetentionMs, own.MaxMessageBytes));

        await IncrementalAsync(1, "1", false, ("message.max.bytes", 1, null));
        Assert.Equal(2000000, _broker.Replicas.GetLog("plain", 0)!.Config.MaxMessageBytes);
        await AlterAsync(1, "", false);
        Assert.Equal((24 * 3_600_000L, 1048588), (_broker.Replicas.GetLog("plain", 0)!.Config.RetentionMs, _broker.Replicas.GetLog("plain", 0)!.Config.MaxMessageBytes));
    }

    [Fact]
    public void WithDynamic_PerBrokerOverDefaultOverStatic_HidesSynonymsAndSkipsReadOnlyOrInvalid()
    {
        var config = BrokerConfig.Load($"log.dirs={_broker.DataDir}\nlog.retention.hours=24\nmessage.max.bytes=1500000", [], new System.Collections.Hashtable());

        var effective = config.WithDynamic(
            new Dictionary<string, string> { ["log.retention.ms"] = "5000", ["log.dirs"] = "/elsewhere", ["message.max.bytes"] = "abc", ["log.segment.bytes"] = "2097152" },
            new Dictionary<string, string> { ["log.retention.ms"] = "6000" });

        Assert.Equal(("6000", ConfigSource.DynamicBroker), effective.Get("log.retention.ms"));
        Assert.False(effective.IsSet("log.retention.hours"));
        Assert.Equal(6000, effective.LogRetentionMs);
        Assert.Equal(("2097152", ConfigSource.DynamicDefaultBroker), effective.Get("log.segment.bytes"));
        Assert.Equal((_broker.DataDir, ConfigSource.StaticBrokerConfig), effective.Get("log.dirs"));
        Assert.Equal(("1500000", ConfigSource.StaticBrokerConfig), effective.Get("message.max.bytes"));
        Assert.Equal(("24", ConfigSource.StaticBrokerConfig), config.Get("log.retention.hours"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task DescribeConfigs_RuntimeKeys_ReadOnlyFollowsWhatCanChange(short version)
    {
        var configs = (await DescribeAsync(version, BrokerType, "1", ["log.cleaner.backoff.ms", "producer.id.expiration.ms", "transaction.partition.verification.enable", "advertised.listeners", "listeners", "connections.max.idle.ms"]))
            .Results[0].Configs.ToDictionary(c => c.Name, c => c.ReadOnly);

        Assert.Equal(
            new Dictionary<string, bool>
            {
                ["log.cleaner.backoff.ms"] = false,
                ["producer.id.expiration.ms"] = false,
                ["transaction.partition.verification.enable"] = false,
                ["advertised.listeners"] = true,
                ["listeners"] = false,
                ["connections.max.idle.ms"] = true, // read when a listener binds: not applied at run time
            },
            configs);
    }

    [Fact]
    public async Task IncrementalAlterConfigs_ProducerIdExpiration_NextCheckDropsIdleProducersWithoutRestart()
    {
        DataPath.CreateTopic(_broker, "t");
        var tenMinutesAgo = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 600_000;
        using (var builder = new RecordBatchBuilder(CompressionType.None, 42, 0, 0, false))
        {
            builder.Append(tenMinutesAgo, "k"u8, "v"u8);
            var output = new ArrayBufferWriter<byte>();
            builder.WriteTo(output);
            Assert.Equal(ErrorCode.None, _broker.Replicas.Append("t", 0, new ReadOnlySequence<byte>(output.WrittenMemory)).Error);
        }

        Assert.Equal(0, _broker.Logs.RemoveExpiredProducersOnce());

        var response = await IncrementalAsync(1, "", false, ("producer.id.expiration.ms", 0, "60000"));

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
        Assert.Equal(60_000, _broker.Cleaner.ProducerIdExpirationMs);
        Assert.Equal(1, _broker.Logs.RemoveExpiredProducersOnce());
        Assert.Empty(_broker.Replicas.GetLog("t", 0)!.ActiveProducers());
        await IncrementalAsync(1, "", false, ("producer.id.expiration.ms", 1, null));
        Assert.Equal((86_400_000L, 86_400_000L), (_broker.Logs.ProducerIdExpirationMs, _broker.Cleaner.ProducerIdExpirationMs));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task IncrementalAlterConfigs_PartitionVerificationOff_TxnOffsetCommitAndProduceSkipTheCheckWithoutRestart(short version)
    {
        using var broker = new TestBroker("offsets.topic.num.partitions=3\ntransaction.state.log.num.partitions=3");
        DataPath.CreateTopic(broker, "t");
        Assert.True(broker.Context.ConsumerOffsets.EnsureCreated());
        var init = await BrokerExchange.SendAsync<InitProducerIdResponse>(broker, ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = "tx-1", TransactionTimeoutMs = 60_000 });
        var request = TxnFlow.Request(version, "g", "t", 42);
        (request.ProducerId, request.ProducerEpoch) = (init.ProducerId, init.ProducerEpoch);
        var partition = new TopicPartition("t", 0);
        Assert.Equal(ErrorCode.InvalidTxnState, TxnFlow.SingleError(await TxnFlow.CommitAsync(broker, version, request)));
        Assert.Equal(ErrorCode.InvalidTxnState, broker.Context.TransactionCoordinator.VerifyProducePartition("tx-1", init.ProducerId, init.ProducerEpoch, partition, produceVersion: 9));

        var altered = await BrokerExchange.SendAsync<IncrementalAlterConfigsResponse>(broker, ApiKey.IncrementalAlterConfigs, 1, new IncrementalAlterConfigsRequest
        {
            Resources = [new() { ResourceType = BrokerType, ResourceName = "1", Configs = [new() { Name = "transaction.partition.verification.enable", ConfigOperation = 0, Value = "false" }] }],
        });

        Assert.Equal(0, Assert.Single(altered.Responses).ErrorCode);
        Assert.Equal(ErrorCode.None, TxnFlow.SingleError(await TxnFlow.CommitAsync(broker, version, request)));
        Assert.Equal(ErrorCode.None, broker.Context.TransactionCoordinator.VerifyProducePartition("tx-1", init.ProducerId, init.ProducerEpoch, partition, produceVersion: 9));
    }
}

/// <summary>Dynamic broker configs in a started <see cref="KafkaBroker"/> (listeners on port 0) and across its restart on the same data dir.</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class DynamicBrokerConfigRestartTests
{
    [Fact]
    public async Task KafkaBroker_StaticProducerIdExpiration_ReachesTheCleaner()
    {
        await WithBrokerDirAsync(async dir =>
        {
            var config = BrokerConfig.Load($"listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs={dir}\nproducer.id.expiration.ms=5000", [], new System.Collections.Hashtable());
            await using var broker = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance);

            Assert.Equal(5000, broker.Cleaner.ProducerIdExpirationMs);
            Assert.Equal(5000, broker.Context.Logs.ProducerIdExpirationMs);
        });
    }

    [Fact]
    public async Task DynamicRuntimeConfigs_AppliedAtRunTimeAndAfterRestart()
    {
        await WithBrokerDirAsync(async dir =>
        {
            var config = BrokerConfig.Load($"listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs={dir}", [], new System.Collections.Hashtable());
            await using (var first = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance))
            {
                Assert.Equal(TimeSpan.FromSeconds(15), first.Context.Logs.CleanerPeriod);
                Alter(first, "", ("log.cleaner.backoff.ms", "2000"), ("producer.id.expiration.ms", "7000"), ("transaction.partition.verification.enable", "false"));

                Assert.Equal(TimeSpan.FromSeconds(2), first.Context.Logs.CleanerPeriod);
                Assert.Equal((7000L, 7000L), (first.Context.Logs.ProducerIdExpirationMs, first.Cleaner.ProducerIdExpirationMs));
                Assert.False(first.Context.TransactionCoordinator.PartitionVerificationEnable);
                first.Context.Metadata.WriteSnapshot();
            }

            await using var second = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance);
            Assert.Equal(TimeSpan.FromSeconds(2), second.Context.Logs.CleanerPeriod);
            Assert.Equal((7000L, 7000L), (second.Context.Logs.ProducerIdExpirationMs, second.Cleaner.ProducerIdExpirationMs));
            Assert.False(second.Context.TransactionCoordinator.PartitionVerificationEnable);
        });

        static void Alter(KafkaBroker broker, string resource, params (string Key, string Value)[] configs)
        {
            var result = BrokerConfigAdmin.AlterAsync(broker.Context, resource, [.. configs.Select(c => new Controller.AlterConfigOp(c.Key, Controller.AlterConfigOpType.Set, c.Value))], incremental: true, validateOnly: false).AsTask().GetAwaiter().GetResult();
            Assert.True(result.IsSuccess, result.ErrorMessage);
        }
    }

    private static async Task WithBrokerDirAsync(Func<string, Task> test)
    {
        var dir = Path.Combine(Path.GetTempPath(), "kcb-dyn-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            await test(dir);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task DynamicBrokerConfigs_AfterRestart_StillOverrideServerProperties()
    {
        var dir = Path.Combine(Path.GetTempPath(), "kcb-dyn-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var config = BrokerConfig.Load($"listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs={dir}\nlog.retention.hours=48\nmessage.max.bytes=1500000", [], new System.Collections.Hashtable());
            await using (var first = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance))
            {
                first.Context.Metadata.CreateTopic("t", 1, 1);
                var result = await BrokerConfigAdmin.AlterAsync(first.Context, "", [new("log.retention.ms", Controller.AlterConfigOpType.Set, "9000")], incremental: true, validateOnly: false);
                Assert.True(result.IsSuccess, result.ErrorMessage);
                result = await BrokerConfigAdmin.AlterAsync(first.Context, "1", [new("message.max.bytes", Controller.AlterConfigOpType.Set, "2500000")], incremental: true, validateOnly: false);
                Assert.True(result.IsSuccess, result.ErrorMessage);
                first.Context.Metadata.WriteSnapshot();
            }

            await using var second = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance);
            var log = second.Context.Replicas.GetLog("t", 0)!;
            Assert.Equal((9000L, 2500000), (log.Config.RetentionMs, log.Config.MaxMessageBytes));
            var described = new ConfigDescriber(second.Context.Settings, second.Context.Metadata.Image).DescribeBroker(perBroker: true, ["message.max.bytes"], includeSynonyms: true);
            Assert.Equal(
                [("message.max.bytes", "2500000", (sbyte)2), ("message.max.bytes", "1500000", (sbyte)4), ("message.max.bytes", "1048588", (sbyte)5)],
                Assert.Single(described).Synonyms.Select(s => (s.Name, s.Value, s.Source)));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
