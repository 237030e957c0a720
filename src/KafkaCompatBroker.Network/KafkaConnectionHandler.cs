using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Network;

/// <summary>Network settings, named after Kafka's broker configs.</summary>
public sealed record NetworkOptions
{
    /// <summary>The listener's name (e.g. PLAINTEXT): requests are answered with this listener's advertised endpoints. Null: the local address names it.</summary>
    public string? ListenerName { get; init; }

    /// <summary>socket.request.max.bytes: a frame larger than this closes the connection before it is buffered.</summary>
    public int SocketRequestMaxBytes { get; init; } = 100 * 1024 * 1024;

    /// <summary>
    /// socket.sendfile.enable (this broker's own key): write responses straight to plain TCP sockets, file
    /// regions with sendfile. Off by default: the read-back throughput measured with it varies between runs
    /// (some runs well below Kestrel's pipe), which is not understood yet (issue 7 note).
    /// </summary>
    public bool SendFile { get; init; }

    /// <summary>
    /// connections.max.idle.ms of this listener (listener.name.&lt;listener&gt;.connections.max.idle.ms overrides the
    /// broker's): a connection with no request completed for this long is closed. Negative: never.
    /// </summary>
    public long ConnectionsMaxIdleMs { get; init; } = 600_000;

    /// <summary><see cref="ConnectionsMaxIdleMs"/> as a time span: infinite when negative or beyond what a TimeSpan holds (e.g. Long.MAX_VALUE).</summary>
    internal TimeSpan IdleTimeout =>
        ConnectionsMaxIdleMs < 0 || ConnectionsMaxIdleMs > (long)TimeSpan.MaxValue.TotalMilliseconds
            ? Timeout.InfiniteTimeSpan
            : TimeSpan.FromMilliseconds(ConnectionsMaxIdleMs);
}

/// <summary>
/// The Kestrel connection handler of a Kafka listener: reads size-prefixed frames and hands them, one
/// at a time, to the request processor. Kestrel's transport only rents a receive buffer once data
/// arrives, so idle connections hold no buffers; its pipe thresholds give read backpressure. On a plain
/// TCP connection responses bypass Kestrel's output pipe and go straight to the socket
/// (<see cref="SocketResponseWriter"/>: records from segment files with sendfile); each response's flush
/// completes when it was handed to the kernel, which is the write backpressure. With a
/// <see cref="ConnectionIdleSweeper"/> registered, connections idle for connections.max.idle.ms are closed.
/// </summary>
public sealed class KafkaConnectionHandler(
    IKafkaRequestProcessor processor,
    NetworkOptions options,
    IHostApplicationLifetime lifetime,
    ILogger<KafkaConnectionHandler> logger,
    ConnectionIdleSweeper? idleSweeper = null) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext context)
    {
        var listener = options.ListenerName ?? context.LocalEndPoint?.ToString() ?? "unknown";
        var connection = new KafkaConnection(context.ConnectionId, listener, context.RemoteEndPoint)
        {
            IdleTimeout = options.IdleTimeout,
        };
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed, lifetime.ApplicationStopping);
        var input = context.Transport.Input;
        var socketOutput = options.SendFile && PlainSocket(context) is { } socket ? new SocketResponseWriter(socket) : null;
        var output = socketOutput ?? context.Transport.Output;
        logger.LogDebug("Connection {Connection} opened", connection);
        idleSweeper?.Add(connection, context);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(stop.Token);
                var buffer = result.Buffer;
                var close = false;
                while (!close)
                {
                    var status = FrameReader.TryReadFrame(ref buffer, options.SocketRequestMaxBytes, out var frame, out var size);
                    if (status == FrameStatus.NeedMoreData)
                    {
                        break;
                    }

                    if (status == FrameStatus.Invalid)
                    {
                        logger.LogWarning(
                            "Closing connection {Connection}: request size {Size} is {Problem} (socket.request.max.bytes = {Max})",
                            connection, size, size <= 0 ? "invalid" : "larger than allowed", options.SocketRequestMaxBytes);
                        return;
                    }

                    // A request already read is finished even when shutdown begins: only new reads stop.
                    // Idleness counts from the end of the last request, not from bytes received (ConnectionIdleSweeper).
                    connection.RequestStarted();
                    close = await processor.ProcessAsync(connection, frame, output, CancellationToken.None) == RequestOutcome.Close;
                    connection.RequestCompleted(idleSweeper?.Time.GetTimestamp() ?? 0);
                }

                connection.PendingRequestBytes = buffer.Length;

                input.AdvanceTo(buffer.Start, buffer.End);
                if (close)
                {
                    return;
                }

                if (result.IsCompleted)
                {
                    LogIfClosedMidRequest(connection);
                    return;
                }
            }
        }
        catch (Exception e) when (connection.ClosedAsIdle && e is OperationCanceledException or IOException)
        {
            // The idle sweeper aborted the connection (and said why).
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The client went away (the transport may report that as a cancelled read rather than a completed one)
            // or the broker is shutting down.
            if (!lifetime.ApplicationStopping.IsCancellationRequested)
            {
                LogIfClosedMidRequest(connection);
            }
        }
        catch (ConnectionResetException)
        {
            logger.LogDebug("Connection {Connection} reset by peer", connection);
            LogIfClosedMidRequest(connection);
        }
        catch (IOException e)
        {
            // E.g. a segment truncated while its records were being sent: the response cannot be completed.
            logger.LogWarning("Closing connection {Connection}: {Problem}", connection, e.Message);
        }
        finally
        {
            idleSweeper?.Remove(connection);
            socketOutput?.Complete();
            logger.LogDebug("Connection {Connection} closed", connection);
        }
    }

    private void LogIfClosedMidRequest(KafkaConnection connection)
    {
        if (connection.PendingRequestBytes > 0 && !connection.ClosedAsIdle)
        {
            logger.LogWarning("Connection {Connection} closed in the middle of a request ({Bytes} bytes of it received)", connection, connection.PendingRequestBytes);
        }
    }

    /// <summary>
    /// The connection's socket when responses can be written to it directly: Kestrel's socket transport
    /// with nothing wrapping it. A TLS (or any other) layer replaces the transport pipe, and its bytes
    /// must go through it, so such connections keep writing to <see cref="ConnectionContext.Transport"/>.
    /// </summary>
    private static System.Net.Sockets.Socket? PlainSocket(ConnectionContext context) =>
        context.Features.Get<ITlsHandshakeFeature>() is null ? context.Features.Get<IConnectionSocketFeature>()?.Socket : null;
}
