namespace KafkaCompatBroker.Broker.Configuration;

public enum ConfigType
{
    Boolean,
    Int,
    Long,
    Double,
    String,
    List,
    Password,
}

/// <summary>
/// A broker config key: its type, Kafka's default (null when none), the range a number must lie in, and the values a
/// string may take (compared ignoring case where Kafka's ConfigDef uses CaseInsensitiveValidString).
/// </summary>
public sealed record ConfigKey(
    string Name, ConfigType Type, string? Default, long Min = long.MinValue, long Max = long.MaxValue, IReadOnlyList<string>? ValidValues = null, bool IgnoreCase = false);

/// <summary>The broker configs this broker reads, with Kafka's names and defaults.</summary>
public static class BrokerConfigKeys
{
    private const long Int = int.MaxValue;

    public static readonly IReadOnlyList<ConfigKey> All =
    [
        new("node.id", ConfigType.Int, "1", 0, Int),
        new("process.roles", ConfigType.List, "broker,controller", ValidValues: ["broker", "controller"]),
        new("listeners", ConfigType.List, "PLAINTEXT://:9092"),
        new("advertised.listeners", ConfigType.List, null),
        new("listener.security.protocol.map", ConfigType.List, "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"),
        new("inter.broker.listener.name", ConfigType.String, null),
        new("controller.listener.names", ConfigType.List, null),
        new("controller.quorum.voters", ConfigType.List, ""),
        new("controller.quorum.bootstrap.servers", ConfigType.List, ""),
        new("cluster.id", ConfigType.String, null),
        new("log.dirs", ConfigType.List, null),
        new("log.dir", ConfigType.String, "/tmp/kafka-logs"),
        new("num.partitions", ConfigType.Int, "1", 1, Int),
        new("default.replication.factor", ConfigType.Int, "1", 1, short.MaxValue),
        new("min.insync.replicas", ConfigType.Int, "1", 1, Int),
        new("auto.create.topics.enable", ConfigType.Boolean, "true"),
        new("delete.topic.enable", ConfigType.Boolean, "true"),
        new("message.max.bytes", ConfigType.Int, "1048588", 0, Int),
        new("log.segment.bytes", ConfigType.Int, "1073741824", 14, Int),
        new("log.roll.ms", ConfigType.Long, null, 1),
        new("log.roll.hours", ConfigType.Int, "168", 1, Int),
        new("log.retention.ms", ConfigType.Long, null, -1),
        new("log.retention.minutes", ConfigType.Int, null, -1, Int),
        new("log.retention.hours", ConfigType.Int, "168", -1, Int),
        new("log.retention.bytes", ConfigType.Long, "-1", -1),
        new("log.retention.check.interval.ms", ConfigType.Long, "300000", 1),
        new("log.cleanup.policy", ConfigType.List, "delete", ValidValues: ["delete", "compact"]),
        new("log.cleaner.enable", ConfigType.Boolean, "true"),
        new("log.cleaner.backoff.ms", ConfigType.Long, "15000", 0),
        new("log.cleaner.delete.retention.ms", ConfigType.Long, "86400000", 0),
        new("log.cleaner.min.compaction.lag.ms", ConfigType.Long, "0", 0),
        new("log.cleaner.max.compaction.lag.ms", ConfigType.Long, "9223372036854775807", 1),
        new("log.cleaner.min.cleanable.ratio", ConfigType.Double, "0.5"),
        new("log.index.interval.bytes", ConfigType.Int, "4096", 0, Int),
        new("log.index.size.max.bytes", ConfigType.Int, "10485760", 4, Int),
        new("log.flush.interval.messages", ConfigType.Long, "9223372036854775807", 1),
        new("log.flush.interval.ms", ConfigType.Long, null, 0),
        new("log.flush.scheduler.interval.ms", ConfigType.Long, "9223372036854775807", 0),
        new("log.flush.offset.checkpoint.interval.ms", ConfigType.Int, "60000", 0, Int),
        new("log.flush.start.offset.checkpoint.interval.ms", ConfigType.Int, "60000", 0, Int),
        new("log.message.timestamp.type", ConfigType.String, "CreateTime", ValidValues: ["CreateTime", "LogAppendTime"]),
        new("log.segment.delete.delay.ms", ConfigType.Long, "60000", 0),
        new("num.recovery.threads.per.data.dir", ConfigType.Int, "2", 1, Int),
        new("num.network.threads", ConfigType.Int, "3", 1, Int),
        new("num.io.threads", ConfigType.Int, "8", 1, Int),
        new("socket.send.buffer.bytes", ConfigType.Int, "102400", -1, Int),
        new("socket.receive.buffer.bytes", ConfigType.Int, "102400", -1, Int),
        new("socket.request.max.bytes", ConfigType.Int, "104857600", 1, Int),
        new("socket.sendfile.enable", ConfigType.Boolean, "false"),
        new("connections.max.idle.ms", ConfigType.Long, "600000"),
        new("offsets.topic.num.partitions", ConfigType.Int, "50", 1, Int),
        new("offsets.topic.replication.factor", ConfigType.Int, "3", 1, short.MaxValue),
        new("offsets.retention.minutes", ConfigType.Int, "10080", 1, Int),
        new("offsets.retention.check.interval.ms", ConfigType.Long, "600000", 1),
        new("offsets.topic.segment.bytes", ConfigType.Int, "104857600", 1, Int),
        new("offsets.topic.compression.codec", ConfigType.Int, "0", 0, 4),
        new("offset.metadata.max.bytes", ConfigType.Int, "4096", 0, Int),
        new("transaction.state.log.num.partitions", ConfigType.Int, "50", 1, Int),
        new("transaction.state.log.replication.factor", ConfigType.Int, "3", 1, short.MaxValue),
        new("transaction.state.log.min.isr", ConfigType.Int, "2", 1, Int),
        new("transaction.max.timeout.ms", ConfigType.Int, "900000", 1, Int),
        new("transactional.id.expiration.ms", ConfigType.Int, "604800000", 1, Int),
        new("transaction.state.log.segment.bytes", ConfigType.Int, "104857600", 1, Int),
        new("transaction.abort.timed.out.transaction.cleanup.interval.ms", ConfigType.Int, "10000", 1, Int),
        new("transaction.remove.expired.transaction.cleanup.interval.ms", ConfigType.Int, "3600000", 1, Int),
        new("transaction.partition.verification.enable", ConfigType.Boolean, "true"),
        new("transaction.two.phase.commit.enable", ConfigType.Boolean, "false"),
        new("producer.id.expiration.ms", ConfigType.Int, "86400000", 1, Int),
        new("producer.id.expiration.check.interval.ms", ConfigType.Int, "600000", 1, Int),
        new("group.initial.rebalance.delay.ms", ConfigType.Int, "3000", 0, Int),
        new("group.min.session.timeout.ms", ConfigType.Int, "6000", 0, Int),
        new("group.max.session.timeout.ms", ConfigType.Int, "1800000", 0, Int),
        new("group.max.size", ConfigType.Int, "2147483647", 1, Int),
        new("group.coordinator.rebalance.protocols", ConfigType.List, "classic,consumer,streams"),
        new("group.consumer.heartbeat.interval.ms", ConfigType.Int, "5000", 1, Int),
        new("group.consumer.session.timeout.ms", ConfigType.Int, "45000", 1, Int),
        new("group.consumer.min.heartbeat.interval.ms", ConfigType.Int, "5000", 1, Int),
        new("group.consumer.max.heartbeat.interval.ms", ConfigType.Int, "15000", 1, Int),
        new("group.consumer.min.session.timeout.ms", ConfigType.Int, "45000", 1, Int),
        new("group.consumer.max.session.timeout.ms", ConfigType.Int, "60000", 1, Int),
        new("group.consumer.max.size", ConfigType.Int, "2147483647", 1, Int),
        new("group.consumer.assignors", ConfigType.List, "uniform,range"),
        new("group.consumer.migration.policy", ConfigType.String, "bidirectional", ValidValues: ["disabled", "upgrade", "downgrade", "bidirectional"], IgnoreCase: true),
        new("unclean.leader.election.enable", ConfigType.Boolean, "false"),
        new("compression.type", ConfigType.String, "producer", ValidValues: ["uncompressed", "zstd", "lz4", "snappy", "gzip", "producer"]),
        new("metadata.log.dir", ConfigType.String, null),
        new("metadata.log.segment.bytes", ConfigType.Int, "1073741824", 12, Int),
        new("metadata.max.retention.bytes", ConfigType.Long, "104857600"),
        new("broker.rack", ConfigType.String, null),
    ];

    public static readonly IReadOnlyDictionary<string, ConfigKey> ByName = All.ToDictionary(k => k.Name, StringComparer.Ordinal);

    private const string ListenerPrefix = "listener.name.";

    /// <summary>The keys a listener can override with listener.name.&lt;listener&gt;.&lt;key&gt; (Kafka: KafkaConfig.valuesWithPrefixOverride) that this broker reads.</summary>
    public static readonly IReadOnlySet<string> ListenerOverridable = new HashSet<string>(StringComparer.Ordinal) { "connections.max.idle.ms" };

    /// <summary>The key listener.name.&lt;listener&gt;.&lt;key&gt; overrides <paramref name="key"/> with for the listener named <paramref name="listener"/>: Kafka's ListenerName.configPrefix lower-cases the name.</summary>
    public static string ListenerOverride(string listener, string key) => $"{ListenerPrefix}{listener.ToLowerInvariant()}.{key}";

    /// <summary>The definition of a listener override such as listener.name.internal.connections.max.idle.ms (named as given), or null.</summary>
    public static ConfigKey? ListenerOverrideKey(string name)
    {
        if (!name.StartsWith(ListenerPrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = name.AsSpan(ListenerPrefix.Length);
        var dot = rest.IndexOf('.');
        var key = dot > 0 ? rest[(dot + 1)..].ToString() : "";
        return ListenerOverridable.Contains(key) ? ByName[key] with { Name = name } : null;
    }
}
