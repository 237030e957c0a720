using System.Buffers.Binary;
using System.Net.Sockets;

namespace KafkaCompatBroker.Fuzz.Tests;

public enum ReadOutcome
{
    Frame,
    Closed,
    TimedOut,
}

/// <summary>A plain TCP connection that sends raw bytes and reads response frames with a deadline.</summary>
public sealed class FuzzConnection : IDisposable
{
    // A response larger than this is not one the fuzzer's small requests can get: the framing is broken.
    private const int MaxResponseBytes = 64 * 1024 * 1024;
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private FuzzConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    /// <summary>Connects within the deadline: a broker that stops accepting (out of file descriptors) fails the run, not hangs it.</summary>
    public static async Task<FuzzConnection> OpenAsync(int port, TimeSpan deadline)
    {
        var client = new TcpClient { NoDelay = true };
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await client.ConnectAsync("127.0.0.1", port, timeout.Token);
        }
        catch (OperationCanceledException)
        {
            client.Dispose();
            throw new TimeoutException($"the broker accepted no connection within {deadline.TotalSeconds} s");
        }

        return new FuzzConnection(client);
    }

    /// <summary>Sends; false when the broker has already closed the connection.</summary>
    public async Task<bool> TrySendAsync(byte[] bytes)
    {
        try
        {
            await _stream.WriteAsync(bytes);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>One response frame (without its size prefix), or why there is none.</summary>
    public async Task<(ReadOutcome Outcome, byte[] Frame)> ReadFrameAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            var size = new byte[4];
            await _stream.ReadExactlyAsync(size, timeout.Token);
            var length = BinaryPrimitives.ReadInt32BigEndian(size);
            if (length is < 4 or > MaxResponseBytes)
            {
                throw new InvalidDataException($"response size prefix {length}");
            }

            var body = new byte[length];
            await _stream.ReadExactlyAsync(body, timeout.Token);
            return (ReadOutcome.Frame, body);
        }
        catch (OperationCanceledException)
        {
            return (ReadOutcome.TimedOut, []);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException)
        {
            return (ReadOutcome.Closed, []);
        }
    }

    public void Dispose()
    {
        _stream.Dispose();
        _client.Dispose();
    }
}
