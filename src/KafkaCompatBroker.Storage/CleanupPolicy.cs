namespace KafkaCompatBroker.Storage;

/// <summary>Kafka's cleanup.policy: delete, compact, or both ("compact,delete").</summary>
[Flags]
public enum CleanupPolicy
{
    None = 0,
    Delete = 1,
    Compact = 2,
}
