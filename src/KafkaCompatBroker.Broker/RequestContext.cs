using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker;

/// <summary>One request being handled: who sent it, its header, and its version.</summary>
public sealed class RequestContext(KafkaConnection connection, RequestHeader header)
{
    public KafkaConnection Connection { get; } = connection;

    public RequestHeader Header { get; } = header;

    public ApiKey ApiKey => (ApiKey)Header.RequestApiKey;

    public short ApiVersion => Header.RequestApiVersion;

    public string? ClientId => Header.ClientId;

    /// <summary>Set by a handler to close the connection after this request (e.g. a failed acks=0 produce).</summary>
    public bool CloseConnection { get; set; }
}
