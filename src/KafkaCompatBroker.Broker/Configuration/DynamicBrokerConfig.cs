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
    /// Kafka's DynamicBrokerConfig.validateConfigs on the resource's new set of dynamic configs: null when valid,
    /// otherwise the INVALID_REQUEST message. Keys Kafka knows but cannot change at run time are refused; keys
    /// it does not know are kept (custom configs), as Kafka keeps them.
    /// </summary>
    public static string? Validate(IReadOnlyDictionary<string, string> configs)
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

        return null;
    }
}
