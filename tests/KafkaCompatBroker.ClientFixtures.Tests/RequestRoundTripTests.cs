using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.ClientFixtures.Tests;

/// <summary>Every captured request decodes with the generated codecs and re-encodes to the same bytes.</summary>
[Trait(Categories.Name, Categories.Unit)]
public class RequestRoundTripTests
{
    public static TheoryData<string> AllFrames() => [.. Fixtures.Frames()];

    [Theory]
    [MemberData(nameof(AllFrames))]
    public void ReadThenWrite_CapturedRequest_ReproducesBytes(string fixture)
    {
        var frame = Fixtures.Read(fixture);
        var (key, version) = Fixtures.PeekApi(frame);
        var apiKey = (ApiKey)key;
        var (_, apiName, fileVersion) = Fixtures.ParseName(fixture);
        Assert.Equal(apiName, apiKey.ToString());
        Assert.Equal(fileVersion, version);

        var headerVersion = KafkaApis.RequestHeaderVersion(apiKey, version);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
        var header = new RequestHeader();
        header.Read(ref reader, headerVersion);
        Assert.Equal(key, header.RequestApiKey);
        Assert.Equal(version, header.RequestApiVersion);
        Assert.StartsWith("fixture-", header.ClientId);

        var body = KafkaApis.CreateRequest(apiKey);
        body.Read(ref reader, version);
        Assert.Equal(0, reader.Remaining);

        var writer = new ArrayBufferWriter<byte>();
        header.Write(writer, headerVersion);
        body.Write(writer, version);
        Assert.Equal(frame, writer.WrittenSpan.ToArray());
        Assert.Equal(frame.Length, header.ComputeSize(headerVersion) + body.ComputeSize(version));
    }
}
