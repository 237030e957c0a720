using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.MetadataRecords;

namespace KafkaCompatBroker.Controller.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class MetadataRecordSerdeTests
{
    [Fact]
    public void Serialize_TopicRecord_MatchesHandComputedBytes()
    {
        var record = new MetadataRecord(new TopicRecord { Name = "foo", TopicId = new KafkaUuid(1, 2) }, 0);

        var bytes = MetadataRecordSerde.Serialize(record);

        byte[] expected =
        [
            0x01, // frame version 1
            0x02, // record type: TopicRecord (apiKey 2)
            0x00, // record version 0
            0x04, (byte)'f', (byte)'o', (byte)'o', // compact string: length + 1, then UTF-8
            0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, // topic id: two big-endian int64
            0x00, // no tagged fields
        ];
        Assert.Equal(expected, bytes);
        Assert.Equal(expected.Length, MetadataRecordSerde.ComputeSize(record));
    }

    [Fact]
    public void Serialize_ConfigRecordWithNullValue_MatchesHandComputedBytes()
    {
        var record = new MetadataRecord(new ConfigRecord { ResourceType = 2, ResourceName = "t", Name = "k", Value = null }, 0);

        var bytes = MetadataRecordSerde.Serialize(record);

        byte[] expected = [0x01, 0x04, 0x00, 0x02, 0x02, (byte)'t', 0x02, (byte)'k', 0x00, 0x00];
        Assert.Equal(expected, bytes);
    }

    [Fact]
    public void Serialize_RegisterBrokerRecordV3_FramesTypeZeroAndVersionThree()
    {
        var record = new MetadataRecord(new RegisterBrokerRecord { BrokerId = 1, Rack = null }, 3);

        var bytes = MetadataRecordSerde.Serialize(record);

        Assert.Equal(new byte[] { 0x01, 0x00, 0x03 }, bytes[..3]);
        var back = MetadataRecordSerde.Read(bytes);
        Assert.Equal(MetadataRecordType.RegisterBroker, back.Type);
        Assert.Equal(3, back.Version);
        Assert.Null(((RegisterBrokerRecord)back.Message).Rack);
    }

    [Fact]
    public void Read_PartitionRecord_RoundTrips()
    {
        var original = new PartitionRecord
        {
            PartitionId = 7,
            TopicId = new KafkaUuid(3, 4),
            Replicas = [1, 2, 3],
            Isr = [1, 2],
            Leader = 1,
            LeaderEpoch = 5,
            PartitionEpoch = 6,
        };

        var back = MetadataRecordSerde.Read(MetadataRecordSerde.Serialize(new MetadataRecord(original, 0)));

        var partition = Assert.IsType<PartitionRecord>(back.Message);
        Assert.Equal(MetadataRecordType.Partition, back.Type);
        Assert.Equal(7, partition.PartitionId);
        Assert.Equal(new KafkaUuid(3, 4), partition.TopicId);
        Assert.Equal([1, 2, 3], partition.Replicas);
        Assert.Equal([1, 2], partition.Isr);
        Assert.Equal(1, partition.Leader);
        Assert.Equal(5, partition.LeaderEpoch);
        Assert.Equal(6, partition.PartitionEpoch);
    }

    [Theory]
    [InlineData(new byte[] { 0x02, 0x02, 0x00 }, "frame version")]
    [InlineData(new byte[] { 0x01, 0x7f, 0x00 }, "Unknown metadata record type 127")]
    [InlineData(new byte[] { 0x01, 0x02, 0x05 }, "Unsupported version 5")]
    [InlineData(new byte[] { 0x01, 0x02, 0x00, 0x04, 0x66 }, "Failed to deserialize")]
    public void Read_MalformedValue_Throws(byte[] value, string expectedMessagePart)
    {
        var e = Assert.Throws<MetadataParseException>(() => MetadataRecordSerde.Read(value));
        Assert.Contains(expectedMessagePart, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_TrailingGarbage_Throws()
    {
        var bytes = MetadataRecordSerde.Serialize(new MetadataRecord(new RemoveTopicRecord { TopicId = new KafkaUuid(1, 1) }, 0));

        var e = Assert.Throws<MetadataParseException>(() => MetadataRecordSerde.Read([.. bytes, 0xAA]));
        Assert.Contains("garbage", e.Message, StringComparison.Ordinal);
    }
}
