using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;
using Microsoft.AspNetCore.Connections;
using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Network.Tests;

/// <summary>
/// The zero-copy response writer over a real connected loopback socket pair: the bytes on the wire must
/// be exactly what the copy path (any other IBufferWriter) produces.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class SocketResponseWriterTests : IAsyncLifetime
{
    private const short FetchVersion = 16;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-sendfile-" + Guid.NewGuid().ToString("N"));
    private readonly List<IDisposable> _disposables = [];
    private Socket _server = null!;
    private Socket _client = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_dir);
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        _client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // Small buffers, so a few hundred KiB already exceed what the kernel takes without the peer reading.
        _client.ReceiveBufferSize = 16 * 1024;
        await _client.ConnectAsync(listener.LocalEndPoint!);
        _server = await listener.AcceptAsync();
        _server.SendBufferSize = 16 * 1024;
    }

    public Task DisposeAsync()
    {
        _server.Dispose();
        _client.Dispose();
        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }

        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData(1)] // every region sent from its file
    [InlineData(FileRegionPipeWriter.DefaultMinimumSendFileBytes)] // the 1000-byte ones copied in
    public async Task FlushAsync_ResponsesWithSeveralRegions_SendsTheCopyPathsBytes(int minimumSendFileBytes)
    {
        var (first, _) = CreateFile("a.log", 300_000);
        var (second, _) = CreateFile("b.log", 50_000);
        var writer = new SocketResponseWriter(_server, minimumSendFileBytes);
        // Three partitions from two files (one of them twice), one empty partition, then a second response.
        var responses = new[]
        {
            Fetch(Records(first, 0, 1000), ReadOnlySequence<byte>.Empty, Records(second, 17, 40_000), Records(first, 200_000, 99_999)),
            Fetch(Records(second, 49_000, 1000)),
        };
        var expected = new ArrayBufferWriter<byte>();
        foreach (var response in responses)
        {
            WriteResponse(expected, response);
        }

        var receive = ReceiveAsync(expected.WrittenCount);
        foreach (var response in responses)
        {
            WriteResponse(writer, response);
            Assert.True(writer.UnflushedBytes > 0);
            await writer.FlushAsync();
            Assert.Equal(0, writer.UnflushedBytes);
        }

        Assert.Equal(expected.WrittenSpan.ToArray(), await receive);
        writer.Complete();
    }

    [Fact]
    public async Task FlushAsync_RegionLargerThanSocketBuffers_CompletesOnlyOnceThePeerReads()
    {
        var (file, content) = CreateFile("big.log", 4 * 1024 * 1024);
        var writer = new SocketResponseWriter(_server);
        var expected = Expected(Fetch(Records(file, 0, content.Length)));
        WriteResponse(writer, Fetch(Records(file, 0, content.Length)));

        var flush = writer.FlushAsync().AsTask();
        // 4 MiB cannot fit in the 16 KiB socket buffers: once the send has started, the flush waits for the peer (backpressure).
        await SendStartedAsync();
        Assert.False(flush.IsCompleted);

        var received = await ReceiveAsync(expected.Length);
        await flush;
        Assert.Equal(expected, received);
        writer.Complete();
    }

    [Fact]
    public async Task FlushAsync_SegmentClosedAndDeletedWhileSending_SendsTheRegionWhole()
    {
        var path = Path.Combine(_dir, "deleted.log");
        var content = RandomBytes(2 * 1024 * 1024);
        File.WriteAllBytes(path, content);
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        var writer = new SocketResponseWriter(_server);
        var records = new FileRegionMemory(new FileRegion(file, 0, content.Length));
        var expected = Expected(Fetch(new ReadOnlySequence<byte>(content)));
        WriteResponse(writer, Fetch(new ReadOnlySequence<byte>(records.Memory)));

        var flush = writer.FlushAsync().AsTask();
        await SendStartedAsync();
        Assert.False(flush.IsCompleted);
        // What retention or topic deletion does to a segment meanwhile: the response is disposed (as the
        // dispatcher would after a failed write), the segment closes its handle and the file is deleted.
        ((IDisposable)records).Dispose();
        file.Dispose();
        File.Delete(path);

        var received = await ReceiveAsync(expected.Length);
        await flush;
        Assert.Equal(expected, received);
        writer.Complete();
    }

    [Fact]
    public async Task FlushAsync_FileTruncatedBeforeSend_ThrowsRatherThanSendAShortResponse()
    {
        var (file, _) = CreateFile("truncated.log", 100_000);
        var writer = new SocketResponseWriter(_server);
        WriteResponse(writer, Fetch(Records(file, 50_000, 50_000)));
        RandomAccess.SetLength(file, 60_000);

        await Assert.ThrowsAsync<IOException>(async () => await writer.FlushAsync());
        writer.Complete();
    }

    [Fact]
    public void Write_SmallRegionOfTruncatedFile_Throws()
    {
        // A small region is read into the response while it is written: a file that ended early fails that write.
        var (file, _) = CreateFile("short.log", 10_000);
        var writer = new SocketResponseWriter(_server);
        var response = Fetch(Records(file, 5000, 5000));
        RandomAccess.SetLength(file, 8000);

        Assert.Throws<IOException>(() => WriteResponse(writer, response));
        writer.Complete();
    }

    [Fact]
    public async Task FlushAsync_FileTruncatedWhileSending_ThrowsRatherThanSendAShortResponse()
    {
        var (file, content) = CreateFile("shrinking.log", 4 * 1024 * 1024);
        var writer = new SocketResponseWriter(_server);
        var expected = Expected(Fetch(new ReadOnlySequence<byte>(content)));
        WriteResponse(writer, Fetch(Records(file, 0, content.Length)));

        var flush = writer.FlushAsync().AsTask();
        await SendStartedAsync();
        Assert.False(flush.IsCompleted);
        RandomAccess.SetLength(file, 1024 * 1024);
        var drain = DrainAsync();

        var error = await Assert.ThrowsAnyAsync<IOException>(() => flush.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.IsNotType<ConnectionResetException>(error);
        writer.Complete();
        _server.Shutdown(SocketShutdown.Both);
        Assert.True(await drain.WaitAsync(TimeSpan.FromSeconds(30)) < expected.Length);
    }

    [Fact]
    public async Task FlushAsync_FileNotOpenedForAsyncIo_CopiesTheRegionInstead()
    {
        // SendPacketsElement needs an asynchronous FileStream: any other handle takes the copy path.
        var path = Path.Combine(_dir, "sync.log");
        var content = RandomBytes(70_000);
        File.WriteAllBytes(path, content);
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        _disposables.Add(file);
        var writer = new SocketResponseWriter(_server);
        var response = Fetch(Records(file, 1000, 60_000));
        var expected = new ArrayBufferWriter<byte>();
        WriteResponse(expected, response);

        var receive = ReceiveAsync(expected.WrittenCount);
        WriteResponse(writer, response);
        await writer.FlushAsync();

        Assert.Equal(expected.WrittenSpan.ToArray(), await receive);
        writer.Complete();
    }

    [Fact]
    public async Task FlushAsync_PeerGone_ThrowsConnectionReset()
    {
        var (file, content) = CreateFile("gone.log", 4 * 1024 * 1024);
        var writer = new SocketResponseWriter(_server);
        _client.LingerState = new LingerOption(true, 0);
        _client.Close(); // RST: the peer vanished

        await Eventually.UntilAsync(() => _server.Poll(0, SelectMode.SelectRead), "the server's socket sees the peer's reset");
        WriteResponse(writer, Fetch(Records(file, 0, content.Length)));
        await Assert.ThrowsAsync<ConnectionResetException>(async () =>
        {
            // The first send may still be accepted before the reset is seen; a second one cannot be.
            await writer.FlushAsync();
            WriteResponse(writer, Fetch(Records(file, 0, content.Length)));
            await writer.FlushAsync();
        });
        writer.Complete();
    }

    [Fact]
    public void Complete_WithUnflushedRegion_ReleasesItsFile()
    {
        var (file, _) = CreateFile("released.log", 1000);
        var writer = new SocketResponseWriter(_server, minimumSendFileBytes: 1);
        var records = new FileRegionMemory(new FileRegion(file, 0, 1000));
        WriteResponse(writer, Fetch(new ReadOnlySequence<byte>(records.Memory)));
        ((IDisposable)records).Dispose();
        file.Dispose();
        Assert.False(file.IsClosed); // the writer's reference defers the close
        Assert.Equal(1000, RandomAccess.GetLength(file));

        writer.Complete();

        Assert.True(file.IsClosed);
        Assert.Throws<ObjectDisposedException>(() => RandomAccess.GetLength(file));
    }

    private (SafeFileHandle File, byte[] Content) CreateFile(string name, int size)
    {
        var path = Path.Combine(_dir, name);
        var content = RandomBytes(size);
        File.WriteAllBytes(path, content);
        // Opened as LogSegment opens its segments.
        var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
        _disposables.Add(file);
        return (file, content);
    }

    private ReadOnlySequence<byte> Records(SafeFileHandle file, long position, int length)
    {
        var memory = new FileRegionMemory(new FileRegion(file, position, length));
        _disposables.Add(memory);
        return new ReadOnlySequence<byte>(memory.Memory);
    }

    private static byte[] RandomBytes(int size)
    {
        var bytes = new byte[size];
        new Random(size).NextBytes(bytes);
        return bytes;
    }

    private static FetchResponse Fetch(params ReadOnlySequence<byte>[] records)
    {
        var topic = new FetchResponse.FetchableTopicResponse { TopicId = new KafkaUuid(1, 2) };
        for (var i = 0; i < records.Length; i++)
        {
            topic.Partitions.Add(new FetchResponse.PartitionData { PartitionIndex = i, HighWatermark = 10, LastStableOffset = 10, LogStartOffset = 0, Records = records[i] });
        }

        var response = new FetchResponse { SessionId = 5 };
        response.Responses.Add(topic);
        return response;
    }

    /// <summary>What the dispatcher writes: size prefix, response header v1, body.</summary>
    private static void WriteResponse(IBufferWriter<byte> output, FetchResponse response)
    {
        var header = new ResponseHeader { CorrelationId = 42 };
        BinaryPrimitives.WriteInt32BigEndian(output.GetSpan(4), header.ComputeSize(1) + response.ComputeSize(FetchVersion));
        output.Advance(4);
        header.Write(output, 1);
        response.Write(output, FetchVersion);
    }

    /// <summary>The response as the copy path writes it.</summary>
    private static byte[] Expected(FetchResponse response)
    {
        var output = new ArrayBufferWriter<byte>();
        WriteResponse(output, response);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Returns once the first bytes of a send reach the peer (the region is larger than both socket buffers, so the rest waits).</summary>
    private Task SendStartedAsync() => Eventually.UntilAsync(() => _client.Available > 0, "the first bytes of the response reach the peer");

    private async Task<byte[]> ReceiveAsync(int count)
    {
        var buffer = new byte[count];
        var read = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (read < count)
        {
            var n = await _client.ReceiveAsync(buffer.AsMemory(read), SocketFlags.None, timeout.Token);
            Assert.NotEqual(0, n);
            read += n;
        }

        return buffer;
    }

    /// <summary>Reads until the peer closes; returns the bytes received.</summary>
    private async Task<long> DrainAsync()
    {
        var buffer = new byte[64 * 1024];
        long total = 0;
        while (true)
        {
            int n;
            try
            {
                n = await _client.ReceiveAsync(buffer, SocketFlags.None);
            }
            catch (SocketException)
            {
                return total;
            }

            if (n == 0)
            {
                return total;
            }

            total += n;
        }
    }
}
