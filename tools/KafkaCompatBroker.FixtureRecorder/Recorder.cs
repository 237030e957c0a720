using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.FixtureRecorder;

/// <summary>
/// Accepts client connections, saves each request frame (request header + body, without the
/// 4-byte size) as <c>NNN-ApiName-vVersion.bin</c>, and answers through <see cref="Responder"/>.
/// Frame numbers are shared by all connections, in arrival order.
/// </summary>
internal sealed class Recorder(IPEndPoint endpoint, string outDir, TextWriter log)
{
    private const int MaxFrameSize = 64 * 1024 * 1024;

    private readonly object _lock = new();
    private int _frameCount;
    private Responder? _responder;

    public int SavedFrames => Volatile.Read(ref _frameCount);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(outDir);
        using var listener = new TcpListener(endpoint);
        listener.Start();
        var local = (IPEndPoint)listener.LocalEndpoint;
        _responder = new Responder(local.Address.ToString(), local.Port);
        log.WriteLine($"listening {local.Address}:{local.Port}");
        log.Flush();

        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var client = await listener.AcceptTcpClientAsync(cancellationToken);
                connections.Add(ServeAsync(client, cancellationToken));
            }
        }
        catch (OperationCanceledException)
        {
            log.WriteLine("stopping: cancelled");
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(TcpClient client, CancellationToken cancellationToken)
    {
        var remote = client.Client.RemoteEndPoint;
        var reason = "client closed the connection";
        try
        {
            using (client)
            {
                var stream = client.GetStream();
                var sizeBuffer = new byte[4];
                while (true)
                {
                    if (!await ReadExactlyOrEndAsync(stream, sizeBuffer, cancellationToken))
                    {
                        break;
                    }

                    var size = BinaryPrimitives.ReadInt32BigEndian(sizeBuffer);
                    if (size < 8 || size > MaxFrameSize)
                    {
                        reason = $"bad frame size {size}";
                        break;
                    }

                    var frame = new byte[size];
                    if (!await ReadExactlyOrEndAsync(stream, frame, cancellationToken))
                    {
                        reason = "connection closed mid-frame";
                        break;
                    }

                    var apiKey = (ApiKey)BinaryPrimitives.ReadInt16BigEndian(frame);
                    var apiVersion = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
                    var path = Save(frame, apiKey, apiVersion);
                    log.WriteLine($"{remote}: {Path.GetFileName(path)} ({size} bytes)");

                    var response = new ArrayBufferWriter<byte>();
                    var outcome = _responder!.Respond(frame, apiKey, apiVersion, response);
                    if (outcome == ResponseOutcome.Close)
                    {
                        reason = $"no answer for {apiKey} v{apiVersion}";
                        break;
                    }

                    if (outcome == ResponseOutcome.Send)
                    {
                        var prefix = new byte[4];
                        BinaryPrimitives.WriteInt32BigEndian(prefix, response.WrittenCount);
                        await stream.WriteAsync(prefix, cancellationToken);
                        await stream.WriteAsync(response.WrittenMemory, cancellationToken);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            reason = "cancelled";
        }
        catch (Exception e) when (e is IOException or SocketException or KafkaProtocolException)
        {
            reason = e.Message;
        }

        log.WriteLine($"{remote}: closed ({reason})");
    }

    private string Save(byte[] frame, ApiKey apiKey, short apiVersion)
    {
        var name = Enum.IsDefined(apiKey) ? apiKey.ToString() : $"ApiKey{(short)apiKey}";
        lock (_lock)
        {
            var number = ++_frameCount;
            var path = Path.Combine(outDir, $"{number:D3}-{name}-v{apiVersion}.bin");
            File.WriteAllBytes(path, frame);
            return path;
        }
    }

    private static async Task<bool> ReadExactlyOrEndAsync(NetworkStream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken);
        return read == buffer.Length;
    }
}
