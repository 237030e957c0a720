using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// Fetch over a real TCP listener, where the records leave the segment files with sendfile (large
/// regions) or a pread into the response (small ones): the response must decode exactly and carry the
/// segment's bytes unchanged, in order with pipelined requests.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ZeroCopyFetchTests : IAsyncLifetime
{
    private TestCluster? _cluster;

    private KafkaBroker Broker => (_cluster ?? throw new InvalidOperationException("not started")).Broker;
    private Socket? _socket;
    private int _correlationId;
    private int _receivedCorrelationId;

    public async Task InitializeAsync()
    {
        _cluster = await TestCluster.StartAsync(extraConfig: "socket.sendfile.enable=true");
        _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await _socket.ConnectAsync(IPAddress.Loopback, Broker.Ports[0]);
    }

    public async Task DisposeAsync()
    {
        _socket?.Dispose();
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task Fetch_OverTcpWithLargeSmallAndEmptyPartitions_SendsTheSegmentBytesUnchanged()
    {
        Assert.True(Broker.Context.Metadata.CreateTopic("zc", 3, 1).IsSuccess);
        // Partition 0: ~600 KiB (sent from the file); partition 1: one small batch (copied in); partition 2: empty.
        for (var i = 0; i < 60; i++)
        {
            await RoundTripAsync<ProduceResponse>(ApiKey.Produce, 9, DataPath.Produce("zc", 0, DataPath.Batch(10, valueSize: 1000, prefix: $"b{i}-"), acks: 1));
        }

        await RoundTripAsync<ProduceResponse>(ApiKey.Produce, 9, DataPath.Produce("zc", 1, DataPath.Batch(3), acks: 1));
        var fetch = new FetchRequest { ReplicaId = -1, MaxWaitMs = 0, MinBytes = 1, MaxBytes = 16 * 1024 * 1024, IsolationLevel = 0, SessionEpoch = -1 };
        fetch.Topics.Add(new FetchRequest.FetchTopic
        {
            Topic = "zc",
            Partitions = [.. Enumerable.Range(0, 3).Select(p => new FetchRequest.FetchPartition { Partition = p, FetchOffset = 0, PartitionMaxBytes = 4 * 1024 * 1024, CurrentLeaderEpoch = -1, LogStartOffset = -1 })],
        });

        // Three fetches pipelined: answered in order, each complete.
        for (var i = 0; i < 3; i++)
        {
            await SendAsync(ApiKey.Fetch, 12, fetch);
        }

        for (var i = 0; i < 3; i++)
        {
            var response = await ReceiveAsync<FetchResponse>(ApiKey.Fetch, 12);
            var partitions = Assert.Single(response.Responses).Partitions;
            Assert.Equal(3, partitions.Count);
            Assert.All(partitions, p => Assert.Equal(0, p.ErrorCode));
            Assert.Equal(SegmentBytes("zc-0"), partitions[0].Records!.Value.ToArray());
            Assert.True(partitions[0].Records!.Value.Length > 600_000);
            Assert.Equal(SegmentBytes("zc-1"), partitions[1].Records!.Value.ToArray());
            Assert.Equal(0, partitions[2].Records!.Value.Length);
        }
    }

    private byte[] SegmentBytes(string partitionDir)
    {
        using var file = new FileStream(Path.Combine(_cluster!.DataDir(0), partitionDir, "00000000000000000000.log"), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var bytes = new byte[file.Length];
        file.ReadExactly(bytes);
        return bytes;
    }

    private async Task<T> RoundTripAsync<T>(ApiKey key, short version, IKafkaMessage request)
        where T : IKafkaMessage, new()
    {
        await SendAsync(key, version, request);
        return await ReceiveAsync<T>(key, version);
    }

    private async Task SendAsync(ApiKey key, short version, IKafkaMessage body)
    {
        var frame = new ArrayBufferWriter<byte>();
        frame.GetSpan(4);
        frame.Advance(4);
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = ++_correlationId, ClientId = "zero-copy-test" }
            .Write(frame, KafkaApis.RequestHeaderVersion(key, version));
        body.Write(frame, version);
        var bytes = frame.WrittenSpan.ToArray();
        BinaryPrimitives.WriteInt32BigEndian(bytes, bytes.Length - 4);
        await _socket!.SendAsync(bytes, SocketFlags.None);
    }

    private async Task<T> ReceiveAsync<T>(ApiKey key, short version)
        where T : IKafkaMessage, new()
    {
        var size = new byte[4];
        await ReadExactlyAsync(size);
        var body = new byte[BinaryPrimitives.ReadInt32BigEndian(size)];
        await ReadExactlyAsync(body);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(body));
        var header = new ResponseHeader();
        header.Read(ref reader, KafkaApis.ResponseHeaderVersion(key, version));
        Assert.Equal(++_receivedCorrelationId, header.CorrelationId);
        var response = new T();
        response.Read(ref reader, version);
        Assert.Equal(0, reader.Remaining);
        return response;
    }

    private async Task ReadExactlyAsync(byte[] buffer)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await _socket!.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            Assert.NotEqual(0, n);
            read += n;
        }
    }
}
