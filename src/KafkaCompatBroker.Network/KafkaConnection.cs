using System.Net;

namespace KafkaCompatBroker.Network;

/// <summary>What the broker knows about one client connection.</summary>
public sealed class KafkaConnection(string id, string listenerName, EndPoint? remoteEndPoint)
{
    public string Id { get; } = id;

    public string ListenerName { get; } = listenerName;

    public EndPoint? RemoteEndPoint { get; } = remoteEndPoint;

    /// <summary>Per-connection state the request handlers keep (e.g. fetch sessions, SASL state), by key.</summary>
    public Dictionary<string, object> Items { get; } = [];

    public override string ToString() => $"{Id} ({RemoteEndPoint}, listener {ListenerName})";
}
