namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// Per-group dynamic configs (KIP-848 group configs: the GROUP config resource), as Kafka's GroupConfigManager
/// hands them to the coordinator. Null means the group does not override the broker's value.
/// </summary>
public interface IGroupConfigView
{
    /// <summary>consumer.session.timeout.ms of the group, or null.</summary>
    int? ConsumerSessionTimeoutMs(string groupId);

    /// <summary>consumer.heartbeat.interval.ms of the group, or null.</summary>
    int? ConsumerHeartbeatIntervalMs(string groupId);
}

/// <summary>No group overrides (until the broker wires its metadata in).</summary>
public sealed class EmptyGroupConfigView : IGroupConfigView
{
    public static readonly EmptyGroupConfigView Instance = new();

    public int? ConsumerSessionTimeoutMs(string groupId) => null;

    public int? ConsumerHeartbeatIntervalMs(string groupId) => null;
}

public sealed partial class GroupCoordinatorShard
{
    private IGroupConfigView GroupConfigs => _owner.GroupConfigs;

    /// <summary>The group's consumer.session.timeout.ms, else group.consumer.session.timeout.ms (Kafka's GroupMetadataManager).</summary>
    private int ConsumerSessionTimeoutMs(string groupId) => GroupConfigs.ConsumerSessionTimeoutMs(groupId) ?? _config.ConsumerSessionTimeoutMs;

    /// <summary>The group's consumer.heartbeat.interval.ms, else group.consumer.heartbeat.interval.ms.</summary>
    private int ConsumerHeartbeatIntervalMs(string groupId) => GroupConfigs.ConsumerHeartbeatIntervalMs(groupId) ?? _config.ConsumerHeartbeatIntervalMs;
}
