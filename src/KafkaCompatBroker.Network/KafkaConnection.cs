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

    // The request processor's reusable objects for this connection (see TakeProcessorState).
    private object? _processorState;

    /// <summary>
    /// Takes the request processor's reusable per-connection objects (decoded requests, responses under
    /// construction) for one request; null when none were given back yet, or another request holds them.
    /// A connection handles one request at a time, so in practice the same objects serve every request.
    /// </summary>
    public object? TakeProcessorState() => Interlocked.Exchange(ref _processorState, null);

    /// <summary>Gives the objects taken with <see cref="TakeProcessorState"/> back once the request is done.</summary>
    public void ReturnProcessorState(object state) => Volatile.Write(ref _processorState, state);

    public override string ToString() => $"{Id} ({RemoteEndPoint}, listener {ListenerName})";
}
