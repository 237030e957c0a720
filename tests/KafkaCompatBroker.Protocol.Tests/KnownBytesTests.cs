using System.Buffers;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Protocol.Tests;

/// <summary>Encodings worked out by hand from the protocol's rules, independent of the generator.</summary>
[Trait(Categories.Name, Categories.Unit)]
public class KnownBytesTests
{
    [Fact]
    public void ApiVersionsRequest_V3_UsesCompactStringsAndTagBuffer()
    {
        var message = new ApiVersionsRequest { ClientSoftwareName = "a", ClientSoftwareVersion = "bc" };
        Assert.Equal(new byte[] { 2, (byte)'a', 3, (byte)'b', (byte)'c', 0 }, RoundTripTests.Write(message, 3));
    }

    [Fact]
    public void MetadataRequest_V0_UsesInt32ArrayAndInt16Strings()
    {
        var message = new MetadataRequest { Topics = [new MetadataRequest.MetadataRequestTopic { Name = "t" }] };
        Assert.Equal(new byte[] { 0, 0, 0, 1, 0, 1, (byte)'t' }, RoundTripTests.Write(message, 0));
    }

    [Fact]
    public void MetadataRequest_V1NullTopics_WritesMinusOne()
    {
        var message = new MetadataRequest { Topics = null };
        Assert.Equal(new byte[] { 0xff, 0xff, 0xff, 0xff }, RoundTripTests.Write(message, 1));
    }

    [Fact]
    public void MetadataRequest_V0NullTopics_FailsBecauseV0CannotBeNull()
    {
        var message = new MetadataRequest { Topics = null };
        var e = Assert.Throws<KafkaProtocolException>(() => RoundTripTests.Write(message, 0));
        Assert.Contains("Topics", e.Message);
    }

    [Fact]
    public void RequestHeader_V2_KeepsClientIdNonCompactAndAddsTagBuffer()
    {
        var header = new RequestHeader { RequestApiKey = 18, RequestApiVersion = 3, CorrelationId = 7, ClientId = "c" };
        Assert.Equal(new byte[] { 0, 18, 0, 3, 0, 0, 0, 7, 0, 1, (byte)'c', 0 }, RoundTripTests.Write(header, 2));
        Assert.Equal(new byte[] { 0, 18, 0, 3, 0, 0, 0, 7, 0, 1, (byte)'c' }, RoundTripTests.Write(header, 1));
        Assert.Equal(new byte[] { 0, 18, 0, 3, 0, 0, 0, 7 }, RoundTripTests.Write(new RequestHeader { RequestApiKey = 18, RequestApiVersion = 3, CorrelationId = 7, ClientId = "" }, 0));
    }

    [Fact]
    public void FetchRequest_V12ClusterId_IsWrittenAsTaggedField()
    {
        var message = new FetchRequest { ClusterId = "x", ReplicaId = -1 };
        var bytes = RoundTripTests.Write(message, 12);
        // ... topics (compact empty = 1), forgotten topics (1), rack id (compact "" = 1), then 1 tagged field: tag 0, size 2, compact "x".
        Assert.Equal(new byte[] { 1, 1, 1, 1, 0, 2, 2, (byte)'x' }, bytes[^8..]);

        var copy = new FetchRequest();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        copy.Read(ref reader, 12);
        Assert.Equal("x", copy.ClusterId);
    }

    [Fact]
    public void Read_UnknownTaggedField_IsKeptAndWrittenBack()
    {
        byte[] bytes = [2, (byte)'a', 2, (byte)'b', 1, 40, 3, 9, 8, 7];
        var message = new ApiVersionsRequest();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        message.Read(ref reader, 3);
        var field = Assert.Single(message.UnknownTaggedFields!);
        Assert.Equal(40, field.Tag);
        Assert.Equal(new byte[] { 9, 8, 7 }, field.Data);
        Assert.Equal(bytes, RoundTripTests.Write(message, 3));
    }

    [Fact]
    public void Write_NonIgnorableFieldMissingFromVersion_Throws()
    {
        var message = new ProduceRequest { TransactionalId = "txn" };
        var e = Assert.Throws<KafkaProtocolException>(() => RoundTripTests.Write(message, 2));
        Assert.Contains("TransactionalId", e.Message);
    }

    [Fact]
    public void Write_IgnorableFieldMissingFromVersion_IsDropped()
    {
        // Produce v13 replaced topic names by ids; the name is ignorable, so it is silently left out.
        var message = new ProduceRequest { TopicData = [new ProduceRequest.TopicProduceData { Name = "t", TopicId = new KafkaUuid(1, 2) }] };
        var bytes = RoundTripTests.Write(message, 13);
        Assert.Equal(message.ComputeSize(13), bytes.Length);
        var copy = new ProduceRequest();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        copy.Read(ref reader, 13);
        Assert.Equal("", copy.TopicData[0].Name);
        Assert.Equal(new KafkaUuid(1, 2), copy.TopicData[0].TopicId);
    }

    [Fact]
    public void Read_UnsupportedVersion_Throws()
    {
        var reader = new SequenceReader<byte>(ReadOnlySequence<byte>.Empty);
        var message = new ProduceRequest();
        try
        {
            message.Read(ref reader, 14);
            Assert.Fail("version 14 was accepted");
        }
        catch (KafkaProtocolException e)
        {
            Assert.Contains("14", e.Message);
        }
    }

    [Fact]
    public void Read_Records_SlicesInputWithoutCopying()
    {
        byte[] bytes =
        [
            0xff, 0xff, /* null transactional id */ 0, 1, /* acks */ 0, 0, 0, 5, /* timeout */
            0, 0, 0, 1, 0, 1, (byte)'t', /* one topic "t" */ 0, 0, 0, 1, 0, 0, 0, 0, /* partition 0 */
            0, 0, 0, 3, 7, 8, 9, /* records */
        ];
        var message = new ProduceRequest();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        message.Read(ref reader, 3);

        var records = message.TopicData[0].PartitionData[0].Records!.Value;
        Assert.Equal(new byte[] { 7, 8, 9 }, records.ToArray());
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(records.First, out var segment));
        Assert.Same(bytes, segment.Array);
        Assert.Equal(bytes.Length - 3, segment.Offset);
        Assert.Equal(bytes, RoundTripTests.Write(message, 3));
    }

    [Fact]
    public void KafkaApis_HeaderVersions_FollowFlexibleVersionsWithApiVersionsException()
    {
        Assert.Equal(1, KafkaApis.RequestHeaderVersion(ApiKey.Produce, 8));
        Assert.Equal(2, KafkaApis.RequestHeaderVersion(ApiKey.Produce, 9));
        Assert.Equal(0, KafkaApis.ResponseHeaderVersion(ApiKey.Produce, 8));
        Assert.Equal(1, KafkaApis.ResponseHeaderVersion(ApiKey.Produce, 9));
        Assert.Equal(2, KafkaApis.RequestHeaderVersion(ApiKey.ApiVersions, 3));
        Assert.Equal(0, KafkaApis.ResponseHeaderVersion(ApiKey.ApiVersions, 3));
        Assert.Equal(3, KafkaApis.Get(ApiKey.Produce).MinVersion);
        Assert.Equal(13, KafkaApis.Get(ApiKey.Produce).MaxVersion);
        Assert.Null(KafkaApis.Find(-1));
        Assert.Null(KafkaApis.Find(4)); // LeaderAndIsr is gone from Kafka 4
    }

    [Fact]
    public void ReadString_BytesSpellPreviousValue_ReturnsThatString()
    {
        // A reused message keeps its topic name or client id when the next request sends the same bytes.
        var previous = new string("topic-a".AsSpan());
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>([0, 7, .. "topic-a"u8]));
        Assert.Same(previous, ProtocolReader.ReadString(ref reader, compact: false, "Name", previous));
        Assert.Equal(0, reader.Remaining);
    }

    [Theory]
    [InlineData("topic-b")]
    [InlineData("topic")]
    [InlineData(null)]
    public void ReadString_BytesDifferFromPreviousValue_ReturnsTheBytesString(string? previous)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>([8, .. "topic-a"u8]));
        Assert.Equal("topic-a", ProtocolReader.ReadString(ref reader, compact: true, "Name", previous));
        Assert.Equal(0, reader.Remaining);
    }

    [Fact]
    public void ReadNullableString_NonAsciiOrNullAfterPreviousValue_DecodesTheBytes()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>([0, 2, 0xc3, 0xa9, 0xff, 0xff]));
        Assert.Equal("é", ProtocolReader.ReadNullableString(ref reader, compact: false, allowNull: true, "ClientId", "é"));
        Assert.Null(ProtocolReader.ReadNullableString(ref reader, compact: false, allowNull: true, "ClientId", "é"));
    }
}
