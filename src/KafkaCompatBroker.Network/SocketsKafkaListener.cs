using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Pipelines.Sockets.Unofficial;

namespace KafkaCompatBroker.Network;

/// <summary>
/// A Kafka listener on Pipelines.Sockets.Unofficial's <see cref="SocketServer"/> instead of Kestrel (issue 15 item 3,
/// measured against Kestrel). Each accepted <see cref="SocketConnection"/> is handed to the same
/// <see cref="KafkaConnectionHandler"/> as Kestrel's connections, wrapped in a <see cref="DefaultConnectionContext"/>,
/// so framing, size limits, responses (socket writes and sendfile), idle sweeping and logging are the same code.
/// Pipe thresholds and the 64 KiB receive blocks are Kestrel's (1 MiB read, 64 KiB write, resume at half).
/// </summary>
public sealed class SocketsKafkaListener : SocketServer
{
    private static readonly FieldInfo? ListenerSocket = typeof(SocketServer).GetField("_listener", BindingFlags.Instance | BindingFlags.NonPublic);

    private readonly KafkaConnectionHandler _handler;
    private readonly StoppingLifetime _lifetime = new();
    private readonly ReceiveBlockPool _pool = new();
    private readonly ConcurrentDictionary<DefaultConnectionContext, Task> _connections = new();
    private readonly ILogger _logger;
    private long _nextId;

    public SocketsKafkaListener(IKafkaRequestProcessor processor, NetworkOptions options, ILoggerFactory loggerFactory, ConnectionIdleSweeper? idleSweeper)
    {
        _logger = loggerFactory.CreateLogger<SocketsKafkaListener>();
        _handler = new KafkaConnectionHandler(processor, options, _lifetime, loggerFactory.CreateLogger<KafkaConnectionHandler>(), idleSweeper);
    }

    /// <summary>The bound port (after <see cref="Start"/>).</summary>
    public int Port { get; private set; }

    /// <summary>Binds <paramref name="endPoint"/> (port 0 picks a free port) and starts accepting.</summary>
    public void Start(IPEndPoint endPoint)
    {
        var receive = new PipeOptions(_pool, PipeScheduler.ThreadPool, PipeScheduler.Inline, 1024 * 1024, 512 * 1024, ReceiveBlockPool.BlockSize, useSynchronizationContext: false);
        var send = new PipeOptions(_pool, PipeScheduler.Inline, PipeScheduler.ThreadPool, 64 * 1024, 32 * 1024, ReceiveBlockPool.BlockSize, useSynchronizationContext: false);
        Listen(endPoint, endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp, 512, send, receive);

        // SocketServer tells OnStarted the requested end point, not the bound one, and keeps its socket private.
        Port = endPoint.Port != 0 ? endPoint.Port
            : (ListenerSocket?.GetValue(this) as Socket)?.LocalEndPoint is IPEndPoint bound ? bound.Port
            : throw new InvalidOperationException("cannot learn the port SocketServer bound");
    }

    /// <summary>
    /// Graceful stop, as Kestrel's: stop accepting, let each connection finish the request it is in, then close it;
    /// connections still busy after <paramref name="timeout"/> are aborted.
    /// </summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        Stop();
        _lifetime.StopApplication();
        var all = Task.WhenAll(_connections.Values);
        if (await Task.WhenAny(all, Task.Delay(timeout)) != all)
        {
            foreach (var context in _connections.Keys)
            {
                context.Abort(new Microsoft.AspNetCore.Connections.ConnectionAbortedException("the listener is shutting down"));
            }

            await all;
        }
    }

    protected override Task OnClientConnectedAsync(in ClientConnection client)
    {
        var transport = (SocketConnection)client.Transport;
        var context = new DefaultConnectionContext($"S{Interlocked.Increment(ref _nextId):X}", transport, transport)
        {
            RemoteEndPoint = client.RemoteEndPoint,
            LocalEndPoint = transport.Socket.LocalEndPoint,
        };
        context.Features.Set<IConnectionSocketFeature>(new SocketFeature(transport.Socket));
        var run = RunAsync(context, transport);
        _connections[context] = run;
        return run;
    }

    private async Task RunAsync(DefaultConnectionContext context, SocketConnection transport)
    {
        // The idle sweeper and shutdown abort through the context's ConnectionClosed token; the socket is closed by
        // SocketServer when this returns. A peer's hang-up completes the input, which the handler reads as such.
        using var closeOnAbort = context.ConnectionClosed.UnsafeRegister(static s => ShutDown((Socket)s!), transport.Socket);
        try
        {
            await Task.Yield();
            await _handler.OnConnectedAsync(context);
        }
        catch (Exception e)
        {
            _logger.LogDebug(e, "Connection {Connection} failed", context.ConnectionId);
        }
        finally
        {
            _connections.TryRemove(context, out _);
            context.Transport.Input.Complete();
            context.Transport.Output.Complete();
        }
    }

    protected override void Dispose(bool disposing) => _pool.Dispose();

    private static void ShutDown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }
    }

    private sealed class SocketFeature(Socket socket) : IConnectionSocketFeature
    {
        public Socket Socket { get; } = socket;
    }

    /// <summary>The one part of a host's lifetime the connection handler uses: the token that says shutdown began.</summary>
    private sealed class StoppingLifetime : IHostApplicationLifetime
    {
        private readonly CancellationTokenSource _stopping = new();

        public CancellationToken ApplicationStarted => CancellationToken.None;

        public CancellationToken ApplicationStopping => _stopping.Token;

        public CancellationToken ApplicationStopped => CancellationToken.None;

        public void StopApplication() => _stopping.Cancel();
    }
}
