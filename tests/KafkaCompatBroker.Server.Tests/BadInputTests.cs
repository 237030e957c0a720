using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// Bad input over real sockets (issue 4, item 5): each case gets what Kafka gives it (an error answer or a
/// closed connection), leaves a log line, and a second connection to the same broker keeps working.
/// Each test has its own broker on port 0 with its own temp data dir.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class BadInputTests : IAsyncLifetime
{
    private const int MaxRequestBytes = 1024 * 1024;
    private readonly CapturedLogs _logs = new();
    private ILoggerFactory? _loggerFactory;
    private TestCluster? _cluster;

    private KafkaBroker Broker => (_cluster ?? throw new InvalidOperationException("not started")).Broker;

    public async Task InitializeAsync()
    {
        _loggerFactory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Information));
        _cluster = await TestCluster.StartAsync(extraConfig: $"socket.request.max.bytes={MaxRequestBytes}", loggerFactory: _loggerFactory);
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        _loggerFactory?.Dispose();
    }

    private Task<RawConnection> ConnectAsync() => RawConnection.OpenAsync("127.0.0.1", Broker.Ports[0]);

    /// <summary>The broker still serves new connections after the bad one.</summary>
    private async Task AssertSecondConnectionWorksAsync()
    {
        await using var second = await ConnectAsync();
        var response = await second.ApiVersionsAsync();
        Assert.Contains(response.ApiKeys, k => k.ApiKey == (short)ApiKey.ApiVersions);
    }

    [Fact]
    public async Task Garbage_HttpRequest_ClosesConnectionAndLogsSize()
    {
        await using var connection = await ConnectAsync();

        // "GET " read as a size prefix is 1,195,725,856 bytes: over the limit, as Kafka's InvalidReceiveException.
        await connection.SendAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));

        await connection.AssertClosedByBrokerAsync();
        await _logs.WaitForLineAsync("request size 1195725856", "larger than allowed");
        await AssertSecondConnectionWorksAsync();
    }

    [Fact]
    public async Task Garbage_NegativeSizePrefix_ClosesConnectionAndLogsInvalidSize()
    {
        await using var connection = await ConnectAsync();

        await connection.SendAsync([0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x02, 0x03]);

        await connection.AssertClosedByBrokerAsync();
        await _logs.WaitForLineAsync("request size -1", "invalid");
        await AssertSecondConnectionWorksAsync();
    }

    [Fact]
    public async Task SizePrefix_OverSocketRequestMaxBytes_ClosesBeforeBodyIsSent()
    {
        await using var connection = await ConnectAsync();
        var prefix = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(prefix, MaxRequestBytes + 1);

        // Only the prefix: the broker must not wait for a body it will never accept.
        await connection.SendAsync(prefix);

        await connection.AssertClosedByBrokerAsync();
        await _logs.WaitForLineAsync($"request size {MaxRequestBytes + 1}", "larger than allowed", $"socket.request.max.bytes = {MaxRequestBytes}");
        await AssertSecondConnectionWorksAsync();
    }

    [Fact]
    public async Task TruncatedFrame_ThenHangUp_ClosesAndLogsPartialRequest()
    {
        await using var connection = await ConnectAsync();
        var request = RawConnection.Frame(RawConnection.Request(ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" }));

        await connection.SendAsync(request[..(request.Length - 3)]);
        connection.HangUp();

        await connection.AssertClosedByBrokerAsync();
        await _logs.WaitForLineAsync("closed in the middle of a request", $"{request.Length - 3} bytes");
        await AssertSecondConnectionWorksAsync();
    }

    [Fact]
    public async Task UnknownApiKey_ClosesConnectionAndLogsKey()
    {
        await using var connection = await ConnectAsync();
        var payload = new byte[14];
        BinaryPrimitives.WriteInt16BigEndian(payload, 999);         // api key
        BinaryPrimitives.WriteInt16BigEndian(payload.AsSpan(2), 0); // version
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), 5); // correlation id
        BinaryPrimitives.WriteInt16BigEndian(payload.AsSpan(8), -1); // null client id

        await connection.SendAsync(RawConnection.Frame(payload));

        await connection.AssertClosedByBrokerAsync();
        await _logs.WaitForLineAsync("unknown API key 999", "correlation id 5");
        await AssertSecondConnectionWorksAsync();
    }

    [Fact]
    public async Task UnsupportedVersion_OfNonApiVersionsApi_ClosesConnectionAndLogsRange()
    {
        await using var probe = await ConnectAsync();
        var advertised = (await probe.ApiVersionsAsync()).ApiKeys;
        var api = advertised.FirstOrDefault(k => k.ApiKey != (short)ApiKey.ApiVersions);
        await using var connection = await ConnectAsync();
        var payload = new byte[10];
        var key = api?.ApiKey ?? (short)ApiKey.Metadata;
        BinaryPrimitives.WriteInt16BigEndian(payload, key);
        BinaryPrimitives.WriteInt16BigEndian(payload.AsSpan(2), (short)((api?.MaxVersion ?? 0) + 1));
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), 6);
        BinaryPrimitives.WriteInt16BigEndian(payload.AsSpan(8), -1);

        await connection.SendAsync(RawConnection.Frame(payload));

        await connection.AssertClosedByBrokerAsync();
        if (api is null)
        {
            // Only ApiVersions is registered: any other key is unknown, which also closes the connection.
            await _logs.WaitForLineAsync($"unknown API key {key}");
        }
        else
        {
            await _logs.WaitForLineAsync($"version {api.MaxVersion + 1} is not supported", $"(supported: {api.MinVersion}-{api.MaxVersion})");
        }

        await AssertSecondConnectionWorksAsync();
    }

    [Fact]
    public async Task ApiVersions_UnknownVersion_AnswersUnsupportedVersionWithV0BodyAndKeepsConnection()
    {
        await using var connection = await ConnectAsync();
        var payload = new byte[16];
        BinaryPrimitives.WriteInt16BigEndian(payload, (short)ApiKey.ApiVersions);
        BinaryPrimitives.WriteInt16BigEndian(payload.AsSpan(2), 127);
        BinaryPrimitives.WriteInt32BigEndian(payload.AsSpan(4), 11);
        BinaryPrimitives.WriteInt16BigEndian(payload.AsSpan(8), -1);
        payload.AsSpan(10).Fill(0x5A); // a body the broker cannot know how to read

        await connection.SendAsync(RawConnection.Frame(payload));
        var (correlationId, body) = await connection.ReadResponseAsync<ApiVersionsResponse>(headerVersion: 0, version: 0);

        Assert.Equal(11, correlationId);
        Assert.Equal((short)ErrorCode.UnsupportedVersion, body.ErrorCode);
        var apiVersions = Assert.Single(body.ApiKeys, k => k.ApiKey == (short)ApiKey.ApiVersions);
        Assert.Equal(0, apiVersions.MinVersion);
        Assert.Equal(KafkaApis.Get(ApiKey.ApiVersions).MaxVersion, apiVersions.MaxVersion);

        // The client downgrades on the same connection.
        await connection.ApiVersionsAsync();
        await AssertSecondConnectionWorksAsync();
    }

    [Fact]
    public async Task MalformedBody_MetadataArrayCountHuge_ClosesConnectionAndLogsProblem()
    {
        await using var probe = await ConnectAsync();
        var metadataAdvertised = (await probe.ApiVersionsAsync()).ApiKeys.Any(k => k.ApiKey == (short)ApiKey.Metadata);
        await using var connection = await ConnectAsync();
        var buffer = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)ApiKey.Metadata, RequestApiVersion = 1, CorrelationId = 12, ClientId = "bad-input-test" }
            .Write(buffer, KafkaApis.RequestHeaderVersion(ApiKey.Metadata, 1));
        var count = buffer.GetSpan(4);
        BinaryPrimitives.WriteInt32BigEndian(count, int.MaxValue); // topics: 2^31-1 entries in 4 bytes
        buffer.Advance(4);
        buffer.Write(new byte[] { 0, 1, (byte)'a', 0, 1, (byte)'b' });

        await connection.SendAsync(RawConnection.Frame(buffer.WrittenSpan.ToArray()));

        await connection.AssertClosedByBrokerAsync();
        if (metadataAdvertised)
        {
            await _logs.WaitForLineAsync("malformed Metadata v1 request from client bad-input-test");
        }
        else
        {
            await _logs.WaitForLineAsync("unknown API key 3");
        }

        await AssertSecondConnectionWorksAsync();
    }

    [Fact]
    public async Task MalformedBody_ApiVersionsCompactStringPastEnd_ClosesConnectionAndLogsProblem()
    {
        await using var connection = await ConnectAsync();
        var buffer = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)ApiKey.ApiVersions, RequestApiVersion = 3, CorrelationId = 13, ClientId = "bad-input-test" }
            .Write(buffer, KafkaApis.RequestHeaderVersion(ApiKey.ApiVersions, 3));
        buffer.Write(new byte[] { 0x7F, (byte)'x' }); // client_software_name: 126 bytes announced, 1 present

        await connection.SendAsync(RawConnection.Frame(buffer.WrittenSpan.ToArray()));

        await connection.AssertClosedByBrokerAsync();
        await _logs.WaitForLineAsync("malformed ApiVersions v3 request from client bad-input-test");
        await AssertSecondConnectionWorksAsync();
    }

    [Fact]
    public async Task ShortFrame_LessThanRequestHeader_ClosesConnectionAndLogs()
    {
        await using var connection = await ConnectAsync();

        await connection.SendAsync(RawConnection.Frame([0, 18, 0]));

        await connection.AssertClosedByBrokerAsync();
        await _logs.WaitForLineAsync("a request of 3 bytes is too short for a request header");
        await AssertSecondConnectionWorksAsync();
    }
}
