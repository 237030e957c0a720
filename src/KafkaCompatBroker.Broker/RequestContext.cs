using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// One request being handled: who sent it, its header, and its version. The dispatcher keeps one
/// context (and header) per connection and reuses it for the connection's next request, so handlers
/// must not keep it, or objects from <see cref="Reusable{T}"/>, after their request completes.
/// </summary>
public sealed class RequestContext(KafkaConnection connection, RequestHeader header)
{
    // The handlers' per-connection objects, by API key (see Reusable).
    private object?[] _reusable = [];

    public KafkaConnection Connection { get; } = connection;

    public RequestHeader Header { get; } = header;

    public ApiKey ApiKey => (ApiKey)Header.RequestApiKey;

    public short ApiVersion => Header.RequestApiVersion;

    public string? ClientId => Header.ClientId;

    /// <summary>Set by a handler to close the connection after this request (e.g. a failed acks=0 produce).</summary>
    public bool CloseConnection { get; set; }

    /// <summary>
    /// An object this connection's requests of this API share, created on first use: e.g. the response a
    /// handler refills request after request instead of allocating one. A connection handles one request
    /// at a time, so it is the handler's alone until its request completes; nothing may keep it after that.
    /// </summary>
    public T Reusable<T>()
        where T : class, new()
    {
        var slot = (int)ApiKey;
        if (slot >= _reusable.Length)
        {
            Array.Resize(ref _reusable, slot + 1);
        }

        return _reusable[slot] as T ?? (T)(_reusable[slot] = new T());
    }

    /// <summary>Prepares the context for the connection's next request (its header is read anew by the dispatcher).</summary>
    internal void Reset() => CloseConnection = false;
}
