using System.Globalization;

namespace KafkaCompatBroker.Broker.Configuration;

/// <summary>
/// The group configs (GROUP config resource, KIP-848) this broker implements: Kafka's GroupConfig consumer keys.
/// Each defaults to the broker config of the same name with the "group." prefix; a value must lie within the
/// broker's group.consumer.min/max bounds, as GroupConfig.validate checks.
/// </summary>
public static class GroupConfigDefinitions
{
    public const string ConsumerHeartbeatIntervalMs = "consumer.heartbeat.interval.ms";
    public const string ConsumerSessionTimeoutMs = "consumer.session.timeout.ms";

    /// <summary>The keys, sorted; each an INT of at least 1 whose Kafka default is GroupConfig's (the broker key's default).</summary>
    public static readonly IReadOnlyList<ConfigKey> All =
    [
        new(ConsumerHeartbeatIntervalMs, ConfigType.Int, "5000", 1, int.MaxValue),
        new(ConsumerSessionTimeoutMs, ConfigType.Int, "45000", 1, int.MaxValue),
    ];

    /// <summary>The broker config that supplies a group config's default (GroupCoordinatorConfig.GROUP_PREFIX + name).</summary>
    public static string BrokerSynonym(string name) => "group." + name;

    /// <summary>
    /// Kafka's GroupConfig.validate on a group's whole new set of configs: null when valid, otherwise the
    /// INVALID_CONFIG message. Keys not set take GroupConfig's defaults for the cross-checks, as Kafka parses them.
    /// </summary>
    public static string? Validate(IReadOnlyDictionary<string, string> configs, BrokerConfig broker)
    {
        foreach (var name in configs.Keys)
        {
            if (!All.Any(k => k.Name == name))
            {
                return $"Unknown group config name: {name}";
            }
        }

        var values = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var key in All)
        {
            var value = configs.TryGetValue(key.Name, out var set) ? set : key.Default!;
            if (BrokerConfig.CheckValue(key, value) is { } error)
            {
                return error;
            }

            values[key.Name] = int.Parse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        }

        var heartbeat = values[ConsumerHeartbeatIntervalMs];
        var session = values[ConsumerSessionTimeoutMs];
        if (heartbeat < broker.GetInt("group.consumer.min.heartbeat.interval.ms"))
        {
            return $"{ConsumerHeartbeatIntervalMs} must be greater than or equal to group.consumer.min.heartbeat.interval.ms";
        }

        if (heartbeat > broker.GetInt("group.consumer.max.heartbeat.interval.ms"))
        {
            return $"{ConsumerHeartbeatIntervalMs} must be less than or equal to group.consumer.max.heartbeat.interval.ms";
        }

        if (session < broker.GetInt("group.consumer.min.session.timeout.ms"))
        {
            return $"{ConsumerSessionTimeoutMs} must be greater than or equal to group.consumer.min.session.timeout.ms";
        }

        if (session > broker.GetInt("group.consumer.max.session.timeout.ms"))
        {
            return $"{ConsumerSessionTimeoutMs} must be less than or equal to group.consumer.max.session.timeout.ms";
        }

        return session <= heartbeat ? $"{ConsumerSessionTimeoutMs} must be greater than {ConsumerHeartbeatIntervalMs}" : null;
    }
}
