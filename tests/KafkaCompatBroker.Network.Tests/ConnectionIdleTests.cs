using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace KafkaCompatBroker.Network.Tests;

/// <summary>
/// connections.max.idle.ms (issue 14, item 2) over real loopback sockets with a fake clock: the sweeper runs when the
/// test advances time, so "not closed yet" is checked at an exact instant.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ConnectionIdleTests : IAsyncLifetime
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(100);
    private readonly FakeTimeProvider _time = new();
    private readonly HoldingProcessor _processor = new();
    private ConnectionIdleSweeper? _sweeper;
    private WebApplication? _app;
    private int _port;

    private ConnectionIdleSweeper Sweeper => _sweeper ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _sweeper = new ConnectionIdleSweeper(_time, Period, NullLogger<ConnectionIdleSweeper>.Instance);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IKafkaRequestProcessor>(_processor);
        builder.Services.AddSingleton(new NetworkOptions { SocketRequestMaxBytes = 100 * 1024 * 1024, ConnectionsMaxIdleMs = (long)IdleTimeout.TotalMilliseconds });
        builder.Services.AddSingleton(_sweeper);
        builder.WebHost.ConfigureKestrel(k => k.ListenKafka(new IPEndPoint(IPAddress.Loopback, 0)));
        _app = builder.Build();
        await _app.StartAsync();
        _port = _app.Services.GetRequiredService<IServer>().BoundPorts()[0];
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        _sweeper?.Dispose();
    }

    [Fact]
    public async Task IdleConnection_ClosedAtTheTimeoutNotBefore()
    {
        using var socket = await ConnectAsync();
        var connection = await TrackedConnectionAsync();

        _time.Advance(IdleTimeout - Period);
        Assert.Contains(connection, Sweeper.Connections);

        _time.Advance(Period);
        Assert.DoesNotContain(connection, Sweeper.Connections);
        Assert.True(connection.ClosedAsIdle);
        await AssertClosedAsync(socket);
    }

    [Fact]
    public async Task CompletedRequest_StartsTheIdleTimeAgain()
    {
        using var socket = await ConnectAsync();
        var connection = await TrackedConnectionAsync();
        _time.Advance(IdleTimeout - Period);

        await socket.SendAsync(Frame(1, 2, 3));
        Assert.Equal(new byte[] { 1, 2, 3 }, await ReadFrameAsync(socket));
        await Eventually.UntilAsync(() => !connection.RequestInFlight, "the request is answered");
        _time.Advance(IdleTimeout - Period);
        Assert.Contains(connection, Sweeper.Connections);

        // Still usable, then closed a whole timeout after its last request.
        await socket.SendAsync(Frame(4));
        Assert.Equal(new byte[] { 4 }, await ReadFrameAsync(socket));
        await Eventually.UntilAsync(() => !connection.RequestInFlight, "the request is answered");
        _time.Advance(IdleTimeout);
        Assert.DoesNotContain(connection, Sweeper.Connections);
        await AssertClosedAsync(socket);
    }

    [Fact]
    public async Task TrickledUnfinishedFrame_DoesNotKeepTheConnectionAlive()
    {
        using var socket = await ConnectAsync();
        var connection = await TrackedConnectionAsync();
        var promised = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(promised, 100 * 1024 * 1024);

        await socket.SendAsync(promised.Append((byte)1).ToArray());
        await Eventually.UntilAsync(() => connection.PendingRequestBytes == 5, "5 bytes of the request are pending");
        _time.Advance(IdleTimeout / 2);
        await socket.SendAsync(new byte[] { 2 });
        await Eventually.UntilAsync(() => connection.PendingRequestBytes == 6, "6 bytes of the request are pending");
        _time.Advance(IdleTimeout / 2);

        Assert.DoesNotContain(connection, Sweeper.Connections);
        await AssertClosedAsync(socket);
    }

    [Fact]
    public async Task RequestInFlight_IsNotIdle()
    {
        using var socket = await ConnectAsync();
        var connection = await TrackedConnectionAsync();

        await socket.SendAsync(Frame(HoldingProcessor.HoldMarker));
        await Eventually.UntilAsync(() => connection.RequestInFlight, "the request is in flight");
        _time.Advance(IdleTimeout * 3);
        Assert.Contains(connection, Sweeper.Connections);

        _processor.Release();
        Assert.Equal(new byte[] { HoldingProcessor.HoldMarker }, await ReadFrameAsync(socket));
    }

    [Theory]
    [InlineData(-1, -1)]
    [InlineData(0, 0)]
    [InlineData(600_000, 600_000)]
    [InlineData(long.MaxValue, -1)]
    public void IdleTimeout_NegativeOrBeyondATimeSpan_IsInfinite(long configured, long expectedMs)
    {
        var expected = expectedMs < 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(expectedMs);
        Assert.Equal(expected, new NetworkOptions { ConnectionsMaxIdleMs = configured }.IdleTimeout);
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, _port);
        return socket;
    }

    /// <summary>The connection the test opened, once the handler registered it with the sweeper.</summary>
    private async Task<KafkaConnection> TrackedConnectionAsync()
    {
        await Eventually.UntilAsync(() => Sweeper.Connections.Count == 1, "the handler registers the connection with the sweeper");
        return Sweeper.Connections.Single();
    }

    private static async Task AssertClosedAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            Assert.Equal(0, await socket.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }
    }

    private static byte[] Frame(params byte[] body)
    {
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Length);
        body.CopyTo(frame, 4);
        return frame;
    }

    private static async Task<byte[]> ReadFrameAsync(Socket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var prefix = new byte[4];
        await ReadExactlyAsync(socket, prefix, timeout.Token);
        var body = new byte[BinaryPrimitives.ReadInt32BigEndian(prefix)];
        await ReadExactlyAsync(socket, body, timeout.Token);
        return body;
    }

    private static async Task ReadExactlyAsync(Socket socket, byte[] buffer, CancellationToken cancellationToken)
    {
        for (var read = 0; read < buffer.Length;)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, cancellationToken);
            Assert.NotEqual(0, n);
            read += n;
        }
    }

    /// <summary>Echoes each frame; a frame starting with <see cref="HoldMarker"/> is held until <see cref="Release"/>.</summary>
    private sealed class HoldingProcessor : IKafkaRequestProcessor
    {
        public const byte HoldMarker = 0xee;
        private readonly TaskCompletionSource _released = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _released.TrySetResult();

        public async ValueTask<RequestOutcome> ProcessAsync(KafkaConnection connection, ReadOnlySequence<byte> frame, PipeWriter output, CancellationToken cancellationToken)
        {
            if (frame.FirstSpan[0] == HoldMarker)
            {
                await _released.Task;
            }

            var span = output.GetSpan(4 + (int)frame.Length);
            BinaryPrimitives.WriteInt32BigEndian(span, (int)frame.Length);
            frame.CopyTo(span[4..]);
            output.Advance(4 + (int)frame.Length);
            await output.FlushAsync(cancellationToken);
            return RequestOutcome.Continue;
        }
    }
}
