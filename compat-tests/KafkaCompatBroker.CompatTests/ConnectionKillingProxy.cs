using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace KafkaCompatBroker.CompatTests;

/// <summary>
/// A TCP proxy on 127.0.0.1 (port 0) in front of the broker that resets every live connection each interval while
/// <see cref="Killing"/> is on and client bytes flowed since the last kill, so requests and responses are cut off
/// mid-flight (a produce appended but its answer lost, or a request half sent) and clients must retry.
/// </summary>
public sealed class ConnectionKillingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly ConcurrentDictionary<int, (Socket Client, Socket Broker)> _live = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<string> _closes = new();
    private readonly Task _accepting;
    private readonly Task _killing;
    private int _nextId;
    private long _bytesSinceKill;
    private int _kills;
    private int _connections;

    public ConnectionKillingProxy(TimeSpan interval)
    {
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
        _killing = KillAsync(interval);
    }

    public int Port { get; }

    /// <summary>The broker's port; set before clients connect.</summary>
    public int TargetPort { get; set; }

    public volatile bool Killing;

    public int Kills => Volatile.Read(ref _kills);

    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Why each connection ended, other than the proxy's kills (for failure messages).</summary>
    public string Closes => string.Join("; ", _closes.Take(20));

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        var broker = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await broker.ConnectAsync(IPAddress.Loopback, TargetPort, _stop.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            _closes.Enqueue($"connecting to the broker failed: {e.GetType().Name} {(e as SocketException)?.SocketErrorCode}");
            Reset(client);
            broker.Dispose();
            return;
        }

        var id = Interlocked.Increment(ref _nextId);
        Interlocked.Increment(ref _connections);
        _live[id] = (client, broker);
        var ended = await Task.WhenAny(PumpAsync(client, broker, countBytes: true, "client"), PumpAsync(broker, client, countBytes: false, "broker"));
        if (_live.TryRemove(id, out _))
        {
            _closes.Enqueue($"#{id}: {await ended}");
        }

        Reset(client);
        Reset(broker);
    }

    /// <summary>Copies until the source closes or fails; returns what ended it.</summary>
    private async Task<string> PumpAsync(Socket from, Socket to, bool countBytes, string source)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    return $"{source} closed";
                }

                if (countBytes)
                {
                    Interlocked.Add(ref _bytesSinceKill, read);
                }

                await to.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            return $"{source} side: {e.GetType().Name} {(e as SocketException)?.SocketErrorCode}";
        }
    }

    private async Task KillAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                if (!Killing || Interlocked.Exchange(ref _bytesSinceKill, 0) == 0 || _live.IsEmpty)
                {
                    continue;
                }

                foreach (var (id, pair) in _live)
                {
                    _live.TryRemove(id, out _);
                    Reset(pair.Client);
                    Reset(pair.Broker);
                }

                Interlocked.Increment(ref _kills);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Closes with a TCP reset (linger 0), as a dropped connection looks to the peer.</summary>
    private static void Reset(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
            socket.Close();
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var (_, pair) in _live)
        {
            Reset(pair.Client);
            Reset(pair.Broker);
        }

        await Task.WhenAll(_accepting, _killing);
        _stop.Dispose();
    }
}
