using System.Globalization;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Coordinator;

namespace KafkaCompatBroker.Broker;

/// <summary>The group coordinator's view of the GROUP config resources: the metadata store's current image, read at each call.</summary>
public sealed class MetadataGroupConfigView(MetadataStore metadata) : IGroupConfigView
{
    public int? ConsumerSessionTimeoutMs(string groupId) => Get(groupId, GroupConfigDefinitions.ConsumerSessionTimeoutMs);

    public int? ConsumerHeartbeatIntervalMs(string groupId) => Get(groupId, GroupConfigDefinitions.ConsumerHeartbeatIntervalMs);

    private int? Get(string groupId, string name) =>
        metadata.Image.GetConfigs(new ConfigResource(ConfigResourceType.Group, groupId)).TryGetValue(name, out var value)
        && int.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var ms)
            ? ms
            : null;
}
