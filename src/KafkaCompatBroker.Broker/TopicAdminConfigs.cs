using System.Globalization;
using KafkaCompatBroker.Controller;

namespace KafkaCompatBroker.Broker;

/// <summary>One topic config as Kafka describes it: the effective value and where it came from.</summary>
public readonly record struct TopicConfigEntry(string Name, string Value, TopicConfigSource Source);

/// <summary>Kafka's DescribeConfigs config source ids (ConfigSource in the admin protocol).</summary>
public enum TopicConfigSource : sbyte
{
    Unknown = 0,
    DynamicTopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
}

/// <summary>
/// A topic's effective configs as Kafka's ConfigurationControlManager.computeEffectiveTopicConfigs resolves them
/// (CreateTopics v5+ returns them): the topic's own value, else the broker config that is its synonym (dynamic
/// per-broker, dynamic cluster default, then static — hours and minutes converted to milliseconds), else the
/// topic config's default. Sorted by name; none of them is read-only or sensitive.
/// </summary>
public static class TopicAdminConfigs
{
    private const long HourMs = 3_600_000;
    private const long MinuteMs = 60_000;

    /// <summary>Every topic config Kafka 4 defines: its default and its broker synonyms (first match wins), with the unit factor.</summary>
    private static readonly (string Name, string Default, (string Key, long Factor)[] Synonyms)[] Definitions =
    [
        ("cleanup.policy", "delete", [("log.cleanup.policy", 1)]),
        ("compression.gzip.level", "-1", [("compression.gzip.level", 1)]),
        ("compression.lz4.level", "9", [("compression.lz4.level", 1)]),
        ("compression.type", "producer", [("compression.type", 1)]),
        ("compression.zstd.level", "3", [("compression.zstd.level", 1)]),
        ("delete.retention.ms", "86400000", [("log.cleaner.delete.retention.ms", 1)]),
        ("file.delete.delay.ms", "60000", [("log.segment.delete.delay.ms", 1)]),
        ("flush.messages", "9223372036854775807", [("log.flush.interval.messages", 1)]),
        ("flush.ms", "9223372036854775807", [("log.flush.interval.ms", 1)]),
        ("follower.replication.throttled.replicas", "", []),
        ("index.interval.bytes", "4096", [("log.index.interval.bytes", 1)]),
        ("leader.replication.throttled.replicas", "", []),
        ("local.retention.bytes", "-2", [("log.local.retention.bytes", 1)]),
        ("local.retention.ms", "-2", [("log.local.retention.ms", 1)]),
        ("max.compaction.lag.ms", "9223372036854775807", [("log.cleaner.max.compaction.lag.ms", 1)]),
        ("max.message.bytes", "1048588", [("message.max.bytes", 1)]),
        ("message.timestamp.after.max.ms", "3600000", [("log.message.timestamp.after.max.ms", 1)]),
        ("message.timestamp.before.max.ms", "9223372036854775807", [("log.message.timestamp.before.max.ms", 1)]),
        ("message.timestamp.type", "CreateTime", [("log.message.timestamp.type", 1)]),
        ("min.cleanable.dirty.ratio", "0.5", [("log.cleaner.min.cleanable.ratio", 1)]),
        ("min.compaction.lag.ms", "0", [("log.cleaner.min.compaction.lag.ms", 1)]),
        ("min.insync.replicas", "1", [("min.insync.replicas", 1)]),
        ("preallocate", "false", [("log.preallocate", 1)]),
        ("remote.log.copy.disable", "false", []),
        ("remote.log.delete.on.disable", "false", []),
        ("remote.storage.enable", "false", []),
        ("retention.bytes", "-1", [("log.retention.bytes", 1)]),
        ("retention.ms", "604800000", [("log.retention.ms", 1), ("log.retention.minutes", MinuteMs), ("log.retention.hours", HourMs)]),
        ("segment.bytes", "1073741824", [("log.segment.bytes", 1)]),
        ("segment.index.bytes", "10485760", [("log.index.size.max.bytes", 1)]),
        ("segment.jitter.ms", "0", [("log.roll.jitter.ms", 1), ("log.roll.jitter.hours", HourMs)]),
        ("segment.ms", "604800000", [("log.roll.ms", 1), ("log.roll.hours", HourMs)]),
        ("unclean.leader.election.enable", "false", [("unclean.leader.election.enable", 1)]),
    ];

    /// <summary>The effective configs of a topic with <paramref name="topicConfigs"/> as its own overrides.</summary>
    public static List<TopicConfigEntry> Effective(BrokerContext broker, ClusterImage image, IReadOnlyDictionary<string, string> topicConfigs)
    {
        var config = broker.Settings.Config;
        var perBroker = image.GetConfigs(new ConfigResource(ConfigResourceType.Broker, broker.Settings.NodeId.ToString(CultureInfo.InvariantCulture)));
        var clusterDefault = image.GetConfigs(new ConfigResource(ConfigResourceType.Broker, ""));
        var result = new List<TopicConfigEntry>(Definitions.Length);
        foreach (var (name, defaultValue, synonyms) in Definitions)
        {
            if (topicConfigs.TryGetValue(name, out var own))
            {
                result.Add(new(name, own, TopicConfigSource.DynamicTopicConfig));
                continue;
            }

            var resolved = Resolve(synonyms, key => perBroker.TryGetValue(key, out var v) ? v : null, TopicConfigSource.DynamicBrokerConfig, name)
                ?? Resolve(synonyms, key => clusterDefault.TryGetValue(key, out var v) ? v : null, TopicConfigSource.DynamicDefaultBrokerConfig, name)
                ?? Resolve(synonyms, key => config.IsSet(key) ? config.GetString(key) : null, TopicConfigSource.StaticBrokerConfig, name);
            result.Add(resolved ?? new(name, defaultValue, TopicConfigSource.DefaultConfig));
        }

        return result;
    }

    private static TopicConfigEntry? Resolve((string Key, long Factor)[] synonyms, Func<string, string?> lookup, TopicConfigSource source, string name)
    {
        foreach (var (key, factor) in synonyms)
        {
            if (lookup(key) is not { } value)
            {
                continue;
            }

            if (factor != 1 && long.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
            {
                value = (n < 0 ? n : n * factor).ToString(CultureInfo.InvariantCulture);
            }

            return new TopicConfigEntry(name, value.Trim(), source);
        }

        return null;
    }
}
