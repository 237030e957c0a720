using System.Collections;
using KafkaCompatBroker.Broker.Configuration;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class BrokerConfigTests
{
    private static readonly IDictionary NoEnvironment = new Hashtable();

    [Fact]
    public void Load_PropertiesFile_ParsesJavaPropertiesSyntax()
    {
        const string text = """
            # a comment
            ! another comment
            node.id=7
            log.dirs = /data/a,\
                /data/b
            num.partitions: 3
            auto.create.topics.enable false
            """;
        var config = BrokerConfig.Load(text, [], NoEnvironment);

        Assert.Equal(7, config.GetInt("node.id"));
        Assert.Equal(["/data/a", "/data/b"], config.LogDirs);
        Assert.Equal(3, config.GetInt("num.partitions"));
        Assert.False(config.GetBool("auto.create.topics.enable"));
        Assert.Empty(config.Warnings);
    }

    [Fact]
    public void GetListenerLong_ListenerOverride_WinsForThatListenerOnly()
    {
        var config = BrokerConfig.Load(
            "connections.max.idle.ms=300000\nlistener.name.internal.connections.max.idle.ms=5000\nlistener.name.other.no.such.setting=1", [], NoEnvironment);

        // Kafka's prefix is the listener name in lower case.
        Assert.Equal(5000, config.GetListenerLong("INTERNAL", "connections.max.idle.ms"));
        Assert.Equal(300000, config.GetListenerLong("PLAINTEXT", "connections.max.idle.ms"));
        Assert.Equal(600000, BrokerConfig.Load(null, [], NoEnvironment).GetListenerLong("PLAINTEXT", "connections.max.idle.ms"));
        Assert.Equal(["The configuration 'listener.name.other.no.such.setting' was supplied but isn't a known config."], config.Warnings);
        Assert.Equal([5000, 300000], config.AllListenerLongs("connections.max.idle.ms").Order());
    }

    [Fact]
    public void Load_ListenerOverrideNotANumber_FailsNamingTheKey()
    {
        var e = Assert.Throws<ConfigException>(() => BrokerConfig.Load("listener.name.plaintext.connections.max.idle.ms=soon", [], NoEnvironment));

        Assert.Equal("Invalid value soon for configuration listener.name.plaintext.connections.max.idle.ms: Not a number of type LONG", e.Message);
    }

    [Fact]
    public void Load_Precedence_IsDefaultThenFileThenEnvironmentThenOverride()
    {
        var env = new Hashtable { ["KAFKA_NUM_PARTITIONS"] = "4", ["KAFKA_LOG_DIRS"] = "/env", ["PATH"] = "/bin" };
        var config = BrokerConfig.Load("num.partitions=2\nlog.dirs=/file\nmessage.max.bytes=5000", ["num.partitions=6"], env);

        Assert.Equal((("6", ConfigSource.CommandLine)), config.Get("num.partitions"));
        Assert.Equal(("/env", ConfigSource.Environment), config.Get("log.dirs"));
        Assert.Equal(("5000", ConfigSource.StaticBrokerConfig), config.Get("message.max.bytes"));
        Assert.Equal(("1", ConfigSource.Default), config.Get("default.replication.factor"));
    }

    [Fact]
    public void Load_UnknownKey_Warns()
    {
        var config = BrokerConfig.Load("no.such.setting=1", [], NoEnvironment);
        Assert.Contains(config.Warnings, w => w.Contains("no.such.setting", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("num.partitions=zero", "num.partitions")]
    [InlineData("num.partitions=0", "num.partitions")]
    [InlineData("auto.create.topics.enable=maybe", "auto.create.topics.enable")]
    [InlineData("log.message.timestamp.type=Sometimes", "log.message.timestamp.type")]
    [InlineData("socket.request.max.bytes=99999999999", "socket.request.max.bytes")]
    [InlineData("group.consumer.migration.policy=sideways", "group.consumer.migration.policy")]
    public void Load_BadValue_FailsNamingTheKey(string line, string key)
    {
        var e = Assert.Throws<ConfigException>(() => BrokerConfig.Load(line, [], NoEnvironment));
        Assert.Contains(key, e.Message);
    }

    [Theory]
    [InlineData("Upgrade")]
    [InlineData("BIDIRECTIONAL")]
    public void Load_MigrationPolicyInAnyCase_Accepted(string value)
    {
        // Kafka's GroupCoordinatorConfig validates group.consumer.migration.policy with CaseInsensitiveValidString.
        var config = BrokerConfig.Load($"group.consumer.migration.policy={value}", [], NoEnvironment);
        Assert.Equal(value, config.GetString("group.consumer.migration.policy"));
    }

    [Fact]
    public void Load_OverrideWithoutEquals_Fails()
    {
        Assert.Throws<ConfigException>(() => BrokerConfig.Load(null, ["num.partitions"], NoEnvironment));
    }

    [Fact]
    public void Retention_FollowsKafkaPrecedenceOfMsMinutesHours()
    {
        Assert.Equal(168L * 3_600_000, BrokerConfig.Load(null, [], NoEnvironment).LogRetentionMs);
        Assert.Equal(5L * 60_000, BrokerConfig.Load("log.retention.minutes=5\nlog.retention.hours=1", [], NoEnvironment).LogRetentionMs);
        Assert.Equal(1234, BrokerConfig.Load("log.retention.ms=1234\nlog.retention.minutes=5", [], NoEnvironment).LogRetentionMs);
    }
}
