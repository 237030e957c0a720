using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// Turns a request frame into a response: decodes the header and body with the generated codecs,
/// calls the API's handler, and writes size + response header + body. What Kafka does with bad
/// input is what happens here: an unknown API key, an unsupported version (except ApiVersions, which
/// answers UNSUPPORTED_VERSION so the client can downgrade) or an unparsable request closes the
/// connection, with a log line naming the client and the problem.
/// </summary>
public sealed class RequestDispatcher(HandlerRegistry registry, ILogger<RequestDispatcher> logger) : IKafkaRequestProcessor
{
    private const int MinHeaderBytes = 8; // api key, api version, correlation id

    /// <summary>
    /// The largest request whose decoded objects a connection keeps for reuse. Producers cap a request at 1 MiB by
    /// default (max.request.size); a much larger one would leave its lists' capacity held for the connection's life.
    /// </summary>
    internal const int MaxReusedRequestBytes = 8 * 1024 * 1024;

    // Pooled state machines: a request that waits (a long-poll fetch, a full socket) allocates none.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RequestOutcome> ProcessAsync(KafkaConnection connection, ReadOnlySequence<byte> frame, PipeWriter output, CancellationToken cancellationToken)
    {
        // This connection's reusable objects (header, context, Produce/Fetch requests): a connection sends
        // one request at a time, so they are free again once this request is done.
        var state = connection.TakeProcessorState() as ConnectionRequestState ?? new ConnectionRequestState(connection);
        try
        {
            return await ProcessAsync(state, connection, frame, output, cancellationToken);
        }
        finally
        {
            if (frame.Length <= MaxReusedRequestBytes)
            {
                connection.ReturnProcessorState(state);
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<RequestOutcome> ProcessAsync(ConnectionRequestState state, KafkaConnection connection, ReadOnlySequence<byte> frame, PipeWriter output, CancellationToken cancellationToken)
    {
        if (frame.Length < MinHeaderBytes)
        {
            logger.LogWarning("Closing {Connection}: a request of {Bytes} bytes is too short for a request header", connection, frame.Length);
            return RequestOutcome.Close;
        }

        Span<byte> prefix = stackalloc byte[MinHeaderBytes];
        frame.Slice(0, MinHeaderBytes).CopyTo(prefix);
        var apiKey = BinaryPrimitives.ReadInt16BigEndian(prefix);
        var apiVersion = BinaryPrimitives.ReadInt16BigEndian(prefix[2..]);
        var correlationId = BinaryPrimitives.ReadInt32BigEndian(prefix[4..]);

        var handler = registry.Find(apiKey);
        if (handler is null)
        {
            logger.LogWarning("Closing {Connection}: unknown API key {ApiKey} (correlation id {CorrelationId})", connection, apiKey, correlationId);
            return RequestOutcome.Close;
        }

        if (apiVersion < handler.MinVersion || apiVersion > handler.MaxVersion)
        {
            if (handler.Key == ApiKey.ApiVersions)
            {
                // Version 0 body behind a v0 header: any client can read it and pick a version we support.
                var refusal = Handlers.ApiVersionsHandler.Build(registry, ErrorCode.UnsupportedVersion);
                await WriteResponseAsync(output, state.ResponseHeader, correlationId, headerVersion: 0, refusal, 0, cancellationToken);
                return RequestOutcome.Continue;
            }

            logger.LogWarning("Closing {Connection}: {Api} version {Version} is not supported (supported: {Min}-{Max})", connection, handler.Key, apiVersion, handler.MinVersion, handler.MaxVersion);
            return RequestOutcome.Close;
        }

        var header = state.Header;
        IKafkaMessage request;
        try
        {
            var reader = new SequenceReader<byte>(frame);
            header.Read(ref reader, KafkaApis.RequestHeaderVersion(handler.Key, apiVersion));
            request = state.Request(handler.Key);
            request.Read(ref reader, apiVersion);
            if (reader.Remaining != 0)
            {
                // Kafka ignores bytes after the body, and librdkafka sends some (a null Metadata topic
                // array keeps the 4 bytes it reserved for the count), so they are only noted.
                logger.LogDebug("{Connection}: {Bytes} bytes after the {Api} v{Version} request body ignored", connection, reader.Remaining, handler.Key, apiVersion);
            }
        }
        catch (KafkaProtocolException e)
        {
            logger.LogWarning("Closing {Connection}: malformed {Api} v{Version} request from client {ClientId}: {Problem}", connection, handler.Key, apiVersion, header.ClientId, e.Message);
            return RequestOutcome.Close;
        }

        var context = state.Context;
        context.Reset();
        IKafkaMessage? response;
        try
        {
            response = await handler.HandleAsync(context, request, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogError(e, "Closing {Connection}: {Api} v{Version} failed for client {ClientId}", connection, handler.Key, apiVersion, header.ClientId);
            return RequestOutcome.Close;
        }

        if (response is not null)
        {
            try
            {
                await WriteResponseAsync(output, state.ResponseHeader, correlationId, KafkaApis.ResponseHeaderVersion(handler.Key, apiVersion), response, apiVersion, cancellationToken);
            }
            finally
            {
                // A response holding pooled buffers (e.g. Fetch records) releases them once written.
                (response as IDisposable)?.Dispose();
            }
        }

        if (context.CloseConnection)
        {
            logger.LogInformation("Closing {Connection} after {Api} v{Version} from client {ClientId}, as its handler asked", connection, handler.Key, apiVersion, header.ClientId);
            return RequestOutcome.Close;
        }

        return RequestOutcome.Continue;
    }

    private static async ValueTask WriteResponseAsync(PipeWriter output, ResponseHeader header, int correlationId, short headerVersion, IKafkaMessage body, short version, CancellationToken cancellationToken)
    {
        header.CorrelationId = correlationId;
        var size = header.ComputeSize(headerVersion) + body.ComputeSize(version);
        BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(4), size);
        output.Advance(4);
        header.Write(output, headerVersion);
        body.Write(output, version);
        await output.FlushAsync(cancellationToken);
    }
}
