using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class RequestDispatcherTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly KafkaConnection _connection = new("c1", "PLAINTEXT", null);
    private readonly RequestDispatcher _dispatcher;
    private readonly HandlerRegistry _registry;

    public RequestDispatcherTests()
    {
        _dispatcher = _broker.Dispatcher;
        _registry = _broker.Registry;
    }

    public void Dispose() => _broker.Dispose();

    private static byte[] Request(ApiKey key, short version, IKafkaMessage body, int correlationId = 42)
    {
        var buffer = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = correlationId, ClientId = "test" }
            .Write(buffer, KafkaApis.RequestHeaderVersion(key, version));
        body.Write(buffer, version);
        return buffer.WrittenSpan.ToArray();
    }

    private async Task<(RequestOutcome Outcome, byte[] Response)> DispatchAsync(byte[] frame)
    {
        var pipe = new Pipe();
        var outcome = await _dispatcher.ProcessAsync(_connection, new ReadOnlySequence<byte>(frame), pipe.Writer, CancellationToken.None);
        await pipe.Writer.CompleteAsync();
        var result = await pipe.Reader.ReadAsync();
        var bytes = result.Buffer.ToArray();
        pipe.Reader.AdvanceTo(result.Buffer.End);
        return (outcome, bytes);
    }

    private static T ReadResponse<T>(byte[] response, short headerVersion, short version, out int correlationId)
        where T : IKafkaMessage, new()
    {
        Assert.Equal(response.Length - 4, BinaryPrimitives.ReadInt32BigEndian(response));
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(response, 4, response.Length - 4));
        var header = new ResponseHeader();
        header.Read(ref reader, headerVersion);
        correlationId = header.CorrelationId;
        var body = new T();
        body.Read(ref reader, version);
        Assert.Equal(0, reader.Remaining);
        return body;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task ApiVersions_EveryVersion_ListsRegisteredHandlersBehindHeaderV0(short version)
    {
        var request = new ApiVersionsRequest();
        if (version >= 3)
        {
            request.ClientSoftwareName = "test";
            request.ClientSoftwareVersion = "1.0";
        }

        var (outcome, bytes) = await DispatchAsync(Request(ApiKey.ApiVersions, version, request));

        Assert.Equal(RequestOutcome.Continue, outcome);
        var response = ReadResponse<ApiVersionsResponse>(bytes, headerVersion: 0, version, out var correlationId);
        Assert.Equal(42, correlationId);
        Assert.Equal(0, response.ErrorCode);
        var api = Assert.Single(response.ApiKeys, k => k.ApiKey == 18);
        Assert.Equal(((short)0, (short)4), (api.MinVersion, api.MaxVersion));
        Assert.Equal(_registry.Handlers.Select(h => (short)h.Key).Order(), response.ApiKeys.Select(k => k.ApiKey).Order());
    }

    [Fact]
    public async Task ApiVersions_UnknownVersion_AnswersUnsupportedVersionInV0Body()
    {
        var frame = new byte[] { 0, 18, 0, 9, 0, 0, 0, 7, 0, 0, 0xde, 0xad };
        var (outcome, bytes) = await DispatchAsync(frame);

        Assert.Equal(RequestOutcome.Continue, outcome);
        var response = ReadResponse<ApiVersionsResponse>(bytes, 0, 0, out var correlationId);
        Assert.Equal(7, correlationId);
        Assert.Equal((short)ErrorCode.UnsupportedVersion, response.ErrorCode);
        Assert.Contains(response.ApiKeys, k => k.ApiKey == 18 && k.MaxVersion == 4);
    }

    [Fact]
    public async Task UnknownApiKey_ClosesConnection()
    {
        var (outcome, bytes) = await DispatchAsync([0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0]);
        Assert.Equal(RequestOutcome.Close, outcome);
        Assert.Empty(bytes);
    }

    [Fact]
    public async Task TooShortForHeader_ClosesConnection()
    {
        var (outcome, _) = await DispatchAsync([0, 18, 0]);
        Assert.Equal(RequestOutcome.Close, outcome);
    }

    [Fact]
    public async Task MalformedBody_ClosesConnection()
    {
        var frame = Request(ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "x", ClientSoftwareVersion = "y" });
        var (outcome, _) = await DispatchAsync(frame[..^3]);
        Assert.Equal(RequestOutcome.Close, outcome);
    }

    [Fact]
    public async Task TrailingBytesAfterBody_AreIgnoredAsKafkaDoes()
    {
        // librdkafka's Metadata request with a null topic array carries 3 bytes after the body.
        var frame = Request(ApiKey.ApiVersions, 2, new ApiVersionsRequest());
        var (outcome, bytes) = await DispatchAsync([.. frame, 1, 0, 0]);
        Assert.Equal(RequestOutcome.Continue, outcome);
        Assert.Equal(0, ReadResponse<ApiVersionsResponse>(bytes, 0, 2, out _).ErrorCode);
    }

    [Fact]
    public void Registry_HandlerVersionsOutsideProtocol_AreRejected()
    {
        Assert.Throws<InvalidOperationException>(() => new HandlerRegistry([new TooNewApiVersionsHandler()]));
    }

    private sealed class TooNewApiVersionsHandler : IApiHandler
    {
        public ApiKey Key => ApiKey.ApiVersions;

        public short MinVersion => 0;

        public short MaxVersion => 5;

        public ValueTask<IKafkaMessage?> HandleAsync(RequestContext context, IKafkaMessage request, CancellationToken cancellationToken) =>
            throw new NotSupportedException();
    }
}
