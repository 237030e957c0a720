using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker;

/// <summary>An advertised listener: what Metadata and FindCoordinator tell clients to connect to.</summary>
public sealed record AdvertisedListener(string Name, string Host, int Port);

/// <summary>The broker settings request handlers use, resolved once from <see cref="BrokerConfig"/>.</summary>
public sealed record BrokerSettings
{
    public required int NodeId { get; init; }

    public required BrokerConfig Config { get; init; }

    public string? Rack { get; init; }

    /// <summary>advertised.listeners (or listeners), with the ports actually bound.</summary>
    public required IReadOnlyList<AdvertisedListener> AdvertisedListeners { get; init; }

    public bool AutoCreateTopics { get; init; } = true;

    public int DefaultNumPartitions { get; init; } = 1;

    public short DefaultReplicationFactor { get; init; } = 1;

    /// <summary>
    /// Kafka's mapping of broker configs to the topic-level defaults: segment.bytes ← log.segment.bytes,
    /// retention.ms ← log.retention.{ms,minutes,hours}, max.message.bytes ← message.max.bytes, and so on.
    /// </summary>
    public static LogConfig LogDefaultsFrom(BrokerConfig config)
    {
        var overrides = new Dictionary<string, string>
        {
            ["segment.bytes"] = config.GetString("log.segment.bytes")!,
            ["segment.ms"] = config.LogRollMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["segment.index.bytes"] = config.GetString("log.index.size.max.bytes")!,
            ["index.interval.bytes"] = config.GetString("log.index.interval.bytes")!,
            ["retention.ms"] = config.LogRetentionMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["retention.bytes"] = config.GetString("log.retention.bytes")!,
            ["cleanup.policy"] = config.GetString("log.cleanup.policy")!,
            ["delete.retention.ms"] = config.GetString("log.cleaner.delete.retention.ms")!,
            ["min.compaction.lag.ms"] = config.GetString("log.cleaner.min.compaction.lag.ms")!,
            ["max.compaction.lag.ms"] = config.GetString("log.cleaner.max.compaction.lag.ms")!,
            ["min.cleanable.dirty.ratio"] = config.GetString("log.cleaner.min.cleanable.ratio")!,
            ["max.message.bytes"] = config.GetString("message.max.bytes")!,
            ["message.timestamp.type"] = config.GetString("log.message.timestamp.type")!,
            ["file.delete.delay.ms"] = config.GetString("log.segment.delete.delay.ms")!,
            ["flush.messages"] = config.GetString("log.flush.interval.messages")!,
        };
        if (config.GetString("log.flush.interval.ms") is { } flushMs)
        {
            overrides["flush.ms"] = flushMs;
        }

        return LogConfig.Default.With(overrides);
    }

    /// <summary>The timestamp type name Kafka reports for a config value.</summary>
    public static string TimestampTypeName(TimestampType type) => type == TimestampType.LogAppendTime ? "LogAppendTime" : "CreateTime";
}
