using System.Globalization;
using KafkaCompatBroker.Controller;

namespace KafkaCompatBroker.Broker.Configuration;

/// <summary>
/// Dynamic broker configs (KIP-226), as Kafka's DynamicBrokerConfig keeps them: ConfigRecords of the BROKER
/// resource "" (cluster-wide defaults) and of this broker's id in the metadata log, which override
/// server.properties (per-broker over cluster default over static) and take effect without a restart.
/// </summary>
public static class DynamicBrokerConfig
{
    /// <summary>The broker config in effect: the static config with the image's dynamic configs applied.</summary>
    public static BrokerConfig Effective(BrokerConfig config, ClusterImage image, int nodeId) =>
        config.WithDynamic(ClusterDefaults(image), PerBroker(image, nodeId));

    public static IReadOnlyDictionary<string, string> ClusterDefaults(ClusterImage image) =>
        image.GetConfigs(new ConfigResource(ConfigResourceType.Broker, ""));

    public static IReadOnlyDictionary<string, string> PerBroker(ClusterImage image, int nodeId) =>
        image.GetConfigs(new ConfigResource(ConfigResourceType.Broker, nodeId.ToString(CultureInfo.InvariantCulture)));

    /// <summary>
    /// Kafka's per-broker-only keys (DynamicBrokerConfig.PerBrokerConfigs: DynamicListenerConfig's reconfigurable keys
    /// except the cluster-level ones): a BROKER resource "" cannot set them.
    /// </summary>
    public static readonly IReadOnlySet<string> PerBrokerConfigs = new HashSet<string>(StringComparer.Ordinal) { "listeners", "listener.security.protocol.map" };

    private static readonly string[] ListenerConfigs = ["listeners", "advertised.listeners", "listener.security.protocol.map"];

    /// <summary>
    /// Kafka's DynamicBrokerConfig.validate on the resource's new set of dynamic configs: null when valid,
    /// otherwise the INVALID_REQUEST message. Keys Kafka knows but cannot change at run time are refused; keys
    /// it does not know are kept (custom configs), as Kafka keeps them. Per-broker-only keys are refused on the
    /// cluster default, and a listener change must pass <see cref="ValidateListenerChange"/>.
    /// </summary>
    public static string? Validate(IReadOnlyDictionary<string, string> configs, bool perBroker, BrokerConfig staticConfig, ClusterImage image, int nodeId)
    {
        var readOnly = configs.Keys
            .Where(k => BrokerConfigKeys.ByName.ContainsKey(k) && !TopicConfigDefinitions.DynamicBrokerConfigs.Contains(k))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (readOnly.Count > 0)
        {
            // Kafka prints the Scala set of names.
            return $"Cannot update these configs dynamically: Set({string.Join(", ", readOnly)})";
        }

        foreach (var (name, value) in configs)
        {
            if (BrokerConfigKeys.ByName.TryGetValue(name, out var key) && BrokerConfig.CheckValue(key, value) is { } error)
            {
                return error;
            }
        }

        if (!perBroker && configs.Keys.Where(PerBrokerConfigs.Contains).Order(StringComparer.Ordinal).ToList() is [_, ..] perBrokerOnly)
        {
            return $"Cannot update these configs at default cluster level, broker id must be specified: Set({string.Join(", ", perBrokerOnly)})";
        }

        var updated = perBroker
            ? staticConfig.WithDynamic(ClusterDefaults(image), configs)
            : staticConfig.WithDynamic(configs, PerBroker(image, nodeId));
        return ValidateListenerChange(Effective(staticConfig, image, nodeId), updated);
    }

    /// <summary>
    /// A change of the listeners as Kafka checks it: first building the new KafkaConfig (every listener needs a
    /// security protocol; the inter-broker listener stays advertised; advertised listeners are listeners), then
    /// DynamicListenerConfig.validateReconfiguration, whose refusals Kafka wraps in "Invalid dynamic configuration":
    /// an existing listener keeps its security protocol, and in KRaft the advertised listeners (what the broker
    /// registered) cannot change. So listeners that are not advertised can be added, moved or removed.
    /// </summary>
    private static string? ValidateListenerChange(BrokerConfig current, BrokerConfig updated)
    {
        if (ListenerConfigs.All(k => current.GetString(k) == updated.GetString(k)))
        {
            return null;
        }

        var protocols = ProtocolMap(updated);
        List<ListenerAddress> listeners;
        try
        {
            listeners = [.. updated.GetList("listeners").Select(l => ListenerAddress.Parse(l))];
        }
        catch (ConfigException e)
        {
            return e.Message;
        }

        if (listeners.Find(l => !protocols.ContainsKey(l.Name)) is { } unmapped)
        {
            return $"Error creating broker listeners from '{updated.GetString("listeners")}': No security protocol defined for listener {unmapped.Name}";
        }

        List<ListenerAddress> oldListeners = [.. current.GetList("listeners").Select(l => ListenerAddress.Parse(l))];
        var oldAdvertised = AdvertisedListeners(current, oldListeners);
        var newAdvertised = AdvertisedListeners(updated, listeners);
        var interBroker = updated.GetString("inter.broker.listener.name") ?? "PLAINTEXT";

        // This broker does not require the inter-broker listener at start-up, so only a change that drops it is refused.
        if (oldAdvertised.Exists(a => a.Name == interBroker) && !newAdvertised.Exists(a => a.Name == interBroker))
        {
            return "requirement failed: inter.broker.listener.name must be a listener name defined in advertised.listeners. "
                + $"The valid options based on currently configured listeners are {string.Join(",", newAdvertised.Select(a => a.Name))}";
        }

        if (!newAdvertised.TrueForAll(a => listeners.Exists(l => l.Name == a.Name)))
        {
            return "requirement failed: advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. "
                + $"Found {string.Join(",", newAdvertised.Select(a => a.Name))}. The valid options based on the current configuration are {string.Join(",", listeners.Select(l => l.Name))}";
        }

        var oldProtocols = ProtocolMap(current);
        if (listeners.Find(l => oldListeners.Exists(o => o.Name == l.Name) && oldProtocols.GetValueOrDefault(l.Name) != protocols[l.Name]) is { } reprotocolled)
        {
            return InvalidDynamicConfiguration($"Security protocol cannot be updated for existing listener ListenerName({reprotocolled.Name})");
        }

        if (oldAdvertised.Count != newAdvertised.Count || !oldAdvertised.TrueForAll(newAdvertised.Contains))
        {
            return InvalidDynamicConfiguration("Advertised listeners cannot be altered when using a Raft-based metadata quorum.");
        }

        try
        {
            _ = BrokerListeners.FromConfig(updated);
            return null;
        }
        catch (ConfigException e)
        {
            return e.Message;
        }
    }

    /// <summary>Kafka wraps a reconfigurable's refusal as new ConfigException("Invalid dynamic configuration", cause), the (name, value) form.</summary>
    private static string InvalidDynamicConfiguration(string cause) =>
        $"Invalid value org.apache.kafka.common.config.ConfigException: {cause} for configuration Invalid dynamic configuration";

    /// <summary>KafkaConfig.effectiveAdvertisedBrokerListeners: advertised.listeners, else listeners, without the controller listeners.</summary>
    private static List<ListenerAddress> AdvertisedListeners(BrokerConfig config, List<ListenerAddress> listeners)
    {
        var controllers = config.GetList("controller.listener.names");
        var advertised = config.IsSet("advertised.listeners")
            ? config.GetList("advertised.listeners").Select(l => ListenerAddress.Parse(l, "advertised.listeners"))
            : listeners;
        return [.. advertised.Where(a => !controllers.Contains(a.Name))];
    }

    private static Dictionary<string, string> ProtocolMap(BrokerConfig config)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in config.GetList("listener.security.protocol.map"))
        {
            var colon = entry.IndexOf(':');
            if (colon > 0)
            {
                map[entry[..colon].Trim()] = entry[(colon + 1)..].Trim();
            }
        }

        return map;
    }
}
