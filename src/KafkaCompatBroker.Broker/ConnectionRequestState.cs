using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The objects one connection's requests reuse, so that a warm connection's Produce and Fetch requests
/// allocate nothing: the request header, the context, the response header, and the decoded Produce and
/// Fetch requests (the generated Read refills every field, list and element of an object it reads into).
/// Held by the dispatcher for the duration of one request (<see cref="KafkaConnection.TakeProcessorState"/>).
/// Only requests whose handlers keep nothing from them after the request are reused: Produce and Fetch.
/// </summary>
internal sealed class ConnectionRequestState
{
    private ProduceRequest? _produce;
    private FetchRequest? _fetch;

    public ConnectionRequestState(KafkaConnection connection) => Context = new RequestContext(connection, Header);

    public RequestHeader Header { get; } = new();

    public RequestContext Context { get; }

    public ResponseHeader ResponseHeader { get; } = new();

    /// <summary>The object to decode a request of <paramref name="key"/> into: this connection's own for Produce and Fetch, else a new one.</summary>
    public IKafkaMessage Request(ApiKey key) => key switch
    {
        ApiKey.Produce => _produce ??= new ProduceRequest(),
        ApiKey.Fetch => _fetch ??= new FetchRequest(),
        _ => KafkaApis.CreateRequest(key),
    };
}
