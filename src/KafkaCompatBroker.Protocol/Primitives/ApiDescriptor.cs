namespace KafkaCompatBroker.Protocol;

[Flags]
public enum ApiListeners
{
    None = 0,
    Broker = 1,
    Controller = 2,
}

/// <summary>What Kafka 4.3 says about one API: its version range, its first flexible version, who serves it.</summary>
public sealed record ApiDescriptor(
    ApiKey Key,
    string Name,
    short MinVersion,
    short MaxVersion,
    short FlexibleMinVersion,
    ApiListeners Listeners,
    bool LatestVersionUnstable)
{
    public bool IsFlexible(short version) => FlexibleMinVersion >= 0 && version >= FlexibleMinVersion;
}
