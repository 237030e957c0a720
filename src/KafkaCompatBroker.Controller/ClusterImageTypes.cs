using System.Collections.Immutable;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Controller;

/// <summary>A listener a broker registered (RegisterBrokerRecord's BrokerEndpoint).</summary>
public sealed record BrokerEndpoint(string Listener, string Host, int Port, short SecurityProtocol);

/// <summary>A broker's registration as the metadata log holds it.</summary>
public sealed record BrokerRegistration(
    int BrokerId,
    KafkaUuid IncarnationId,
    long BrokerEpoch,
    ImmutableArray<BrokerEndpoint> Endpoints,
    string? Rack,
    bool Fenced,
    bool InControlledShutdown)
{
    /// <summary>Usable for new replicas: not fenced and not shutting down.</summary>
    public bool IsLive => !Fenced && !InControlledShutdown;
}

/// <summary>One partition's replica assignment and leadership (PartitionRecord, updated by PartitionChangeRecord).</summary>
public sealed record PartitionImage(
    int PartitionId,
    KafkaUuid TopicId,
    ImmutableArray<int> Replicas,
    ImmutableArray<int> Isr,
    ImmutableArray<int> RemovingReplicas,
    ImmutableArray<int> AddingReplicas,
    int Leader,
    int LeaderEpoch,
    int PartitionEpoch);

/// <summary>A topic: its name, id and partitions by id.</summary>
public sealed record TopicImage(string Name, KafkaUuid Id, ImmutableSortedDictionary<int, PartitionImage> Partitions);

/// <summary>Config resource types as ConfigRecord and the admin APIs number them.</summary>
public enum ConfigResourceType : sbyte
{
    Unknown = 0,
    Topic = 2,
    Broker = 4,
    BrokerLogger = 8,
    ClientMetrics = 16,
    Group = 32,
}

/// <summary>A config resource: (type, name); a broker resource's name is its id, or "" for the cluster-wide default.</summary>
public readonly record struct ConfigResource(ConfigResourceType Type, string Name) : IComparable<ConfigResource>
{
    public int CompareTo(ConfigResource other)
    {
        var byType = Type.CompareTo(other.Type);
        return byType != 0 ? byType : string.CompareOrdinal(Name, other.Name);
    }

    public override string ToString() => $"{Type}:{Name}";
}
