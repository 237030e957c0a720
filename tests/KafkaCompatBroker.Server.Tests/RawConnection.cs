using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>A plain TCP connection to a broker that sends hand-made bytes and reads raw response frames.</summary>
public sealed class RawConnection : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;

    private RawConnection(TcpClient client)
    {
        _client = client;
        _stream = client.GetStream();
    }

    public static async Task<RawConnection> OpenAsync(string host, int port)
    {
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(host, port);
        return new RawConnection(client);
    }

    /// <summary>Header + body of a request, without the size prefix.</summary>
    public static byte[] Request(ApiKey key, short version, IKafkaMessage body, int correlationId = 7)
    {
        var buffer = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = correlationId, ClientId = "bad-input-test" }
            .Write(buffer, KafkaApis.RequestHeaderVersion(key, version));
        body.Write(buffer, version);
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>A size prefix followed by the payload.</summary>
    public static byte[] Frame(byte[] payload)
    {
        var frame = new byte[payload.Length + 4];
        BinaryPrimitives.WriteInt32BigEndian(frame, payload.Length);
        payload.CopyTo(frame, 4);
        return frame;
    }

    public async Task SendAsync(byte[] bytes)
    {
        await _stream.WriteAsync(bytes);
        await _stream.FlushAsync();
    }

    /// <summary>Sends <paramref name="bytes"/>; false when the broker has closed the connection meanwhile.</summary>
    public async Task<bool> TrySendAsync(byte[] bytes)
    {
        try
        {
            await SendAsync(bytes);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>Reads one response frame (without its size prefix).</summary>
    public async Task<byte[]> ReadFrameAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var size = new byte[4];
        await _stream.ReadExactlyAsync(size, timeout.Token);
        var body = new byte[BinaryPrimitives.ReadInt32BigEndian(size)];
        await _stream.ReadExactlyAsync(body, timeout.Token);
        return body;
    }

    /// <summary>Reads a response frame and decodes header (correlation id) and body.</summary>
    public async Task<(int CorrelationId, T Body)> ReadResponseAsync<T>(short headerVersion, short version)
        where T : IKafkaMessage, new()
    {
        var frame = await ReadFrameAsync();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
        var header = new ResponseHeader();
        header.Read(ref reader, headerVersion);
        var body = new T();
        body.Read(ref reader, version);
        Assert.Equal(0, reader.Remaining);
        return (header.CorrelationId, body);
    }

    /// <summary>Asserts that the broker closes the connection without sending anything.</summary>
    public async Task AssertClosedByBrokerAsync()
    {
        using var timeout = new CancellationTokenSource(Timeout);
        var buffer = new byte[64];
        int read;
        try
        {
            read = await _stream.ReadAsync(buffer, timeout.Token);
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return;
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("the broker kept the connection open");
            return;
        }

        Assert.True(read == 0, $"expected the broker to close the connection, got {read} bytes");
    }

    /// <summary>Sends ApiVersions v3 and checks that it is answered: the connection (or a new one) still works.</summary>
    public async Task<ApiVersionsResponse> ApiVersionsAsync(short version = 3)
    {
        var request = new ApiVersionsRequest();
        if (version >= 3)
        {
            request.ClientSoftwareName = "bad-input-test";
            request.ClientSoftwareVersion = "1.0";
        }

        await SendAsync(Frame(Request(ApiKey.ApiVersions, version, request, correlationId: 99)));
        var (correlationId, body) = await ReadResponseAsync<ApiVersionsResponse>(headerVersion: 0, version);
        Assert.Equal(99, correlationId);
        Assert.Equal(0, body.ErrorCode);
        return body;
    }

    /// <summary>Metadata v1 (no topics): the brokers as the broker advertises them.</summary>
    public async Task<List<MetadataResponse.MetadataResponseBroker>> MetadataBrokersAsync()
    {
        await SendAsync(Frame(Request(ApiKey.Metadata, 1, new MetadataRequest { Topics = [] }, correlationId: 41)));
        var (correlationId, body) = await ReadResponseAsync<MetadataResponse>(headerVersion: 0, version: 1);
        Assert.Equal(41, correlationId);
        return body.Brokers;
    }

    /// <summary>FindCoordinator v1 for a group: creates __consumer_offsets on first use.</summary>
    public async Task<FindCoordinatorResponse> FindGroupCoordinatorAsync(string groupId)
    {
        await SendAsync(Frame(Request(ApiKey.FindCoordinator, 1, new FindCoordinatorRequest { Key = groupId, KeyType = 0 }, correlationId: 42)));
        var (correlationId, body) = await ReadResponseAsync<FindCoordinatorResponse>(headerVersion: 0, version: 1);
        Assert.Equal(42, correlationId);
        return body;
    }

    /// <summary>Metadata v1 naming <paramref name="topic"/>: creates it (auto.create.topics.enable is on by default).</summary>
    public async Task CreateTopicByMetadataAsync(string topic)
    {
        await SendAsync(Frame(Request(ApiKey.Metadata, 1, new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = topic }] }, correlationId: 43)));
        var (_, body) = await ReadResponseAsync<MetadataResponse>(headerVersion: 0, version: 1);
        Assert.Single(body.Topics);
    }

    /// <summary>
    /// Sends a Fetch v11 of partition 0 of <paramref name="topic"/> from offset 0 that waits up to
    /// <paramref name="maxWaitMs"/> for one byte: on an empty partition it parks in the broker.
    /// </summary>
    public Task SendLongPollFetchAsync(string topic, int maxWaitMs, int correlationId)
    {
        var request = new FetchRequest { MaxWaitMs = maxWaitMs, MinBytes = 1, SessionEpoch = -1 };
        request.Topics.Add(new FetchRequest.FetchTopic
        {
            Topic = topic,
            Partitions = [new FetchRequest.FetchPartition { Partition = 0, FetchOffset = 0, PartitionMaxBytes = 1 << 20 }],
        });
        return SendAsync(Frame(Request(ApiKey.Fetch, 11, request, correlationId)));
    }

    public void HangUp() => _client.Client.Shutdown(SocketShutdown.Send);

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
    }
}
