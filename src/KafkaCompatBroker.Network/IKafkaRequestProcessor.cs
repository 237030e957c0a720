using System.Buffers;
using System.IO.Pipelines;

namespace KafkaCompatBroker.Network;

/// <summary>What to do with the connection after a request.</summary>
public enum RequestOutcome
{
    /// <summary>Keep reading requests.</summary>
    Continue,

    /// <summary>Close the connection (what Kafka does with a request it cannot parse).</summary>
    Close,
}

/// <summary>
/// Handles requests one at a time per connection, in arrival order, so responses go out in the
/// order the requests came (clients pipeline requests and match responses by order and correlation id).
/// </summary>
public interface IKafkaRequestProcessor
{
    /// <summary>
    /// Processes one frame (request header + body, without the size prefix). The frame is a slice of
    /// the connection's receive buffer and is only valid until this call completes. The response,
    /// if any, is written to <paramref name="output"/> with its size prefix and flushed.
    /// </summary>
    ValueTask<RequestOutcome> ProcessAsync(KafkaConnection connection, ReadOnlySequence<byte> frame, PipeWriter output, CancellationToken cancellationToken);
}
