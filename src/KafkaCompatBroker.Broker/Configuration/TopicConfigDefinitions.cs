namespace KafkaCompatBroker.Broker.Configuration;

/// <summary>The config types DescribeConfigs v3+ reports (Kafka's DescribeConfigsResponse.ConfigType ids).</summary>
public enum DescribedConfigType : sbyte
{
    Unknown = 0,
    Boolean = 1,
    String = 2,
    Int = 3,
    Short = 4,
    Long = 5,
    Double = 6,
    List = 7,
    Class = 8,
    Password = 9,
}

/// <summary>
/// A broker config that provides a topic config's default, and how its value converts to the topic
/// config's unit (log.retention.hours → retention.ms multiplies by 3,600,000).
/// </summary>
public sealed record BrokerSynonym(string Name, long Multiplier = 1);

/// <summary>One topic-level config: its Kafka type and default, and the broker configs that supply its default, in priority order.</summary>
public sealed record TopicConfigDefinition(string Name, DescribedConfigType Type, string Default, IReadOnlyList<BrokerSynonym> Synonyms);

/// <summary>
/// Every topic config of Kafka 4.x (LogConfig's definitions minus the internal ones; message.format.version,
/// message.timestamp.difference.max.ms and message.downconversion.enable were removed in 4.0), with Kafka's
/// defaults and the broker synonyms of ServerTopicConfigSynonyms. Also the Kafka defaults of broker synonyms
/// this broker does not otherwise read, and which broker configs Kafka can change dynamically.
/// </summary>
public static class TopicConfigDefinitions
{
    private const long Hours = 3_600_000;
    private const long Minutes = 60_000;
    private const string LongMax = "9223372036854775807";

    public static readonly IReadOnlyList<TopicConfigDefinition> All =
    [
        new("cleanup.policy", DescribedConfigType.List, "delete", [new("log.cleanup.policy")]),
        new("compression.gzip.level", DescribedConfigType.Int, "-1", [new("compression.gzip.level")]),
        new("compression.lz4.level", DescribedConfigType.Int, "9", [new("compression.lz4.level")]),
        new("compression.type", DescribedConfigType.String, "producer", [new("compression.type")]),
        new("compression.zstd.level", DescribedConfigType.Int, "3", [new("compression.zstd.level")]),
        new("delete.retention.ms", DescribedConfigType.Long, "86400000", [new("log.cleaner.delete.retention.ms")]),
        new("file.delete.delay.ms", DescribedConfigType.Long, "60000", [new("log.segment.delete.delay.ms")]),
        new("flush.messages", DescribedConfigType.Long, LongMax, [new("log.flush.interval.messages")]),
        new("flush.ms", DescribedConfigType.Long, LongMax, [new("log.flush.interval.ms"), new("log.flush.scheduler.interval.ms")]),
        new("follower.replication.throttled.replicas", DescribedConfigType.List, "", []),
        new("index.interval.bytes", DescribedConfigType.Int, "4096", [new("log.index.interval.bytes")]),
        new("leader.replication.throttled.replicas", DescribedConfigType.List, "", []),
        new("local.retention.bytes", DescribedConfigType.Long, "-2", [new("log.local.retention.bytes")]),
        new("local.retention.ms", DescribedConfigType.Long, "-2", [new("log.local.retention.ms")]),
        new("max.compaction.lag.ms", DescribedConfigType.Long, LongMax, [new("log.cleaner.max.compaction.lag.ms")]),
        new("max.message.bytes", DescribedConfigType.Int, "1048588", [new("message.max.bytes")]),
        new("message.timestamp.after.max.ms", DescribedConfigType.Long, "3600000", [new("log.message.timestamp.after.max.ms")]),
        new("message.timestamp.before.max.ms", DescribedConfigType.Long, LongMax, [new("log.message.timestamp.before.max.ms")]),
        new("message.timestamp.type", DescribedConfigType.String, "CreateTime", [new("log.message.timestamp.type")]),
        new("min.cleanable.dirty.ratio", DescribedConfigType.Double, "0.5", [new("log.cleaner.min.cleanable.ratio")]),
        new("min.compaction.lag.ms", DescribedConfigType.Long, "0", [new("log.cleaner.min.compaction.lag.ms")]),
        new("min.insync.replicas", DescribedConfigType.Int, "1", [new("min.insync.replicas")]),
        new("preallocate", DescribedConfigType.Boolean, "false", [new("log.preallocate")]),
        new("remote.log.copy.disable", DescribedConfigType.Boolean, "false", []),
        new("remote.log.delete.on.disable", DescribedConfigType.Boolean, "false", []),
        new("remote.storage.enable", DescribedConfigType.Boolean, "false", []),
        new("retention.bytes", DescribedConfigType.Long, "-1", [new("log.retention.bytes")]),
        new("retention.ms", DescribedConfigType.Long, "604800000", [new("log.retention.ms"), new("log.retention.minutes", Minutes), new("log.retention.hours", Hours)]),
        new("segment.bytes", DescribedConfigType.Int, "1073741824", [new("log.segment.bytes")]),
        new("segment.index.bytes", DescribedConfigType.Int, "10485760", [new("log.index.size.max.bytes")]),
        new("segment.jitter.ms", DescribedConfigType.Long, "0", [new("log.roll.jitter.ms"), new("log.roll.jitter.hours", Hours)]),
        new("segment.ms", DescribedConfigType.Long, "604800000", [new("log.roll.ms"), new("log.roll.hours", Hours)]),
        new("unclean.leader.election.enable", DescribedConfigType.Boolean, "false", [new("unclean.leader.election.enable")]),
    ];

    public static readonly IReadOnlyDictionary<string, TopicConfigDefinition> ByName = All.ToDictionary(d => d.Name, StringComparer.Ordinal);

    /// <summary>
    /// Kafka's type and default of broker configs that only matter as topic-config synonyms here (the broker
    /// does not read them itself, so they are not in <see cref="BrokerConfigKeys"/>). A null default means none.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, (DescribedConfigType Type, string? Default)> ExtraBrokerSynonyms =
        new Dictionary<string, (DescribedConfigType, string?)>(StringComparer.Ordinal)
        {
            ["compression.gzip.level"] = (DescribedConfigType.Int, "-1"),
            ["compression.lz4.level"] = (DescribedConfigType.Int, "9"),
            ["compression.zstd.level"] = (DescribedConfigType.Int, "3"),
            ["log.local.retention.bytes"] = (DescribedConfigType.Long, "-2"),
            ["log.local.retention.ms"] = (DescribedConfigType.Long, "-2"),
            ["log.message.timestamp.after.max.ms"] = (DescribedConfigType.Long, "3600000"),
            ["log.message.timestamp.before.max.ms"] = (DescribedConfigType.Long, LongMax),
            ["log.preallocate"] = (DescribedConfigType.Boolean, "false"),
            ["log.roll.jitter.hours"] = (DescribedConfigType.Int, "0"),
            ["log.roll.jitter.ms"] = (DescribedConfigType.Long, null),
        };

    /// <summary>
    /// Broker configs (of <see cref="BrokerConfigKeys"/>) that can be updated dynamically: Kafka's reconfigurable
    /// sets (DynamicBrokerConfig.AllDynamicConfigs) that this broker applies at run time. advertised.listeners is not
    /// among Kafka's (KAFKA-18405: a KRaft broker's registration is fixed). DescribeConfigs reports every other broker
    /// config as read-only, and AlterConfigs refuses them.
    /// </summary>
    public static readonly IReadOnlySet<string> DynamicBrokerConfigs = new HashSet<string>(StringComparer.Ordinal)
    {
        // the first broker synonym of each topic config (DynamicLogConfig): the topic defaults
        "log.segment.bytes", "log.roll.ms", "log.index.size.max.bytes", "log.flush.interval.messages", "log.flush.interval.ms",
        "log.retention.bytes", "log.retention.ms", "message.max.bytes", "log.index.interval.bytes", "log.cleaner.delete.retention.ms",
        "log.cleaner.min.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms", "log.segment.delete.delay.ms",
        "log.cleaner.min.cleanable.ratio", "log.cleanup.policy", "unclean.leader.election.enable", "min.insync.replicas",
        "compression.type", "log.message.timestamp.type",

        // thread pools (DynamicThreadPool, DynamicListenerConfig); recovery threads are used at start-up
        "num.io.threads", "num.network.threads", "num.recovery.threads.per.data.dir",

        // DynamicListenerConfig, per broker only: ListenerHosts binds and closes listeners at run time
        "listeners", "listener.security.protocol.map",

        // LogCleaner.RECONFIGURABLE_CONFIGS and DynamicProducerStateManagerConfig (DynamicConfigPublisher applies them)
        "log.cleaner.backoff.ms", "producer.id.expiration.ms", "transaction.partition.verification.enable",
    };

    /// <summary>Broker synonyms of each broker config (Kafka's DynamicBrokerConfig.brokerConfigSynonyms): the time units of one setting.</summary>
    public static IReadOnlyList<string> BrokerConfigSynonyms(string name) => name switch
    {
        "log.roll.ms" or "log.roll.hours" => ["log.roll.ms", "log.roll.hours"],
        "log.roll.jitter.ms" or "log.roll.jitter.hours" => ["log.roll.jitter.ms", "log.roll.jitter.hours"],
        "log.flush.interval.ms" => ["log.flush.interval.ms", "log.flush.scheduler.interval.ms"],
        "log.retention.ms" or "log.retention.minutes" or "log.retention.hours" => ["log.retention.ms", "log.retention.minutes", "log.retention.hours"],
        _ => [name],
    };

    /// <summary>The Kafka type of a broker config as DescribeConfigs reports it.</summary>
    public static DescribedConfigType BrokerConfigType(string name)
    {
        // Kafka types some keys differently from how this broker parses them.
        switch (name)
        {
            case "offsets.topic.replication.factor" or "transaction.state.log.replication.factor":
                return DescribedConfigType.Short;
            case "log.dir":
                return DescribedConfigType.List;
        }

        if (BrokerConfigKeys.ByName.TryGetValue(name, out var key))
        {
            return key.Type switch
            {
                ConfigType.Boolean => DescribedConfigType.Boolean,
                ConfigType.Int => DescribedConfigType.Int,
                ConfigType.Long => DescribedConfigType.Long,
                ConfigType.Double => DescribedConfigType.Double,
                ConfigType.String => DescribedConfigType.String,
                ConfigType.List => DescribedConfigType.List,
                ConfigType.Password => DescribedConfigType.Password,
                _ => DescribedConfigType.Unknown,
            };
        }

        return ExtraBrokerSynonyms.TryGetValue(name, out var extra) ? extra.Type : DescribedConfigType.Unknown;
    }

    /// <summary>Kafka's default of a broker config as a string, or null when it has none.</summary>
    public static string? BrokerConfigDefault(string name) =>
        BrokerConfigKeys.ByName.TryGetValue(name, out var key) ? key.Default
        : ExtraBrokerSynonyms.TryGetValue(name, out var extra) ? extra.Default
        : null;
}
