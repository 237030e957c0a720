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

namespace KafkaCompatBroker.Network.Tests;

/// <summary>Drives the connection handler over real loopback sockets with an echoing request processor.</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ConnectionHandlerTests : IAsyncLifetime
{
    private WebApplication? _app;
    private int _port;
    private readonly EchoProcessor _processor = new();

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IKafkaRequestProcessor>(_processor);
        builder.Services.AddSingleton(new NetworkOptions { SocketRequestMaxBytes = 1024, SendFile = true });
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
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, _port);
        return socket;
    }

    private static byte[] Frame(params byte[] body)
    {
        var frame = new byte[4 + body.Length];
        BinaryPrimitives.WriteInt32BigEndian(frame, body.Length);
        body.CopyTo(frame, 4);
        return frame;
    }

    private static async Task<byte[]?> ReadFrameAsync(Socket socket)
    {
        var prefix = new byte[4];
        if (!await ReadExactlyAsync(socket, prefix))
        {
            return null;
        }

        var body = new byte[BinaryPrimitives.ReadInt32BigEndian(prefix)];
        return await ReadExactlyAsync(socket, body) ? body : null;
    }

    private static async Task<bool> ReadExactlyAsync(Socket socket, byte[] buffer)
    {
        var read = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (read < buffer.Length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        return true;
    }

    [Fact]
    public async Task PipelinedRequests_AreAnsweredInOrder()
    {
        using var socket = await ConnectAsync();
        await socket.SendAsync(Frame(1).Concat(Frame(2, 2)).Concat(Frame(3, 3, 3)).ToArray());

        Assert.Equal(new byte[] { 1 }, await ReadFrameAsync(socket));
        Assert.Equal(new byte[] { 2, 2 }, await ReadFrameAsync(socket));
        Assert.Equal(new byte[] { 3, 3, 3 }, await ReadFrameAsync(socket));
    }

    [Fact]
    public async Task FrameOverLimit_ClosesConnection_OthersKeepWorking()
    {
        using var bad = await ConnectAsync();
        using var good = await ConnectAsync();
        var header = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(header, 1025);
        await bad.SendAsync(header);

        Assert.Null(await ReadFrameAsync(bad)); // closed without the body ever being sent
        await good.SendAsync(Frame(5));
        Assert.Equal(new byte[] { 5 }, await ReadFrameAsync(good));
    }

    [Fact]
    public async Task ProcessorAsksToClose_ConnectionCloses()
    {
        using var socket = await ConnectAsync();
        await socket.SendAsync(Frame(EchoProcessor.CloseMarker));
        Assert.Null(await ReadFrameAsync(socket));
    }

    [Fact]
    public async Task TruncatedFrameThenHangUp_DoesNotDisturbOtherConnections()
    {
        using (var socket = await ConnectAsync())
        {
            await socket.SendAsync(Frame(1, 2, 3, 4)[..6]);
            socket.Shutdown(SocketShutdown.Both);
        }

        using var good = await ConnectAsync();
        await good.SendAsync(Frame(9));
        Assert.Equal(new byte[] { 9 }, await ReadFrameAsync(good));
    }

    [Fact]
    public async Task PlainTcpConnection_WritesResponsesStraightToTheSocket()
    {
        using var socket = await ConnectAsync();
        await socket.SendAsync(Frame(7));

        Assert.Equal(new byte[] { 7 }, await ReadFrameAsync(socket));
        Assert.IsType<SocketResponseWriter>(_processor.LastOutput);
    }

    private sealed class EchoProcessor : IKafkaRequestProcessor
    {
        public const byte CloseMarker = 0xcc;

        /// <summary>The output the last request was answered on.</summary>
        public PipeWriter? LastOutput { get; private set; }

        public async ValueTask<RequestOutcome> ProcessAsync(KafkaConnection connection, ReadOnlySequence<byte> frame, PipeWriter output, CancellationToken cancellationToken)
        {
            LastOutput = output;
            if (frame.FirstSpan[0] == CloseMarker)
            {
                return RequestOutcome.Close;
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
