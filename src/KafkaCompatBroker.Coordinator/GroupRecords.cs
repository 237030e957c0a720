using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.GroupCoordinatorRecords;

namespace KafkaCompatBroker.Coordinator;

/// <summary>One record of <c>__consumer_offsets</c>: a key and a value (null = tombstone), both version-prefixed.</summary>
public readonly record struct GroupRecord(byte[] Key, byte[]? Value);

/// <summary>What a <c>__consumer_offsets</c> key names: the record type (the key's version) and its fields.</summary>
public readonly record struct GroupRecordKey(short Type, string GroupId, string? Topic = null, int Partition = -1);

/// <summary>
/// The records the group coordinator writes to <c>__consumer_offsets</c>, in Kafka's formats
/// (group-coordinator-records): every key and value starts with its version as an int16; for keys the
/// version is the record type (0/1 offset commit, 2 group metadata, 3+ KIP-848 and share groups).
/// We write what Kafka 4.x writes: OffsetCommitKey v1, OffsetCommitValue v3 (v1 only with an expire
/// timestamp, which Kafka 4 no longer sets), GroupMetadataKey v2, GroupMetadataValue v3.
/// </summary>
public static class GroupRecords
{
    public const short OffsetCommitKeyType = 1;
    public const short GroupMetadataKeyType = 2;
    private const short OffsetCommitValueVersion = 3;
    private const short GroupMetadataValueVersion = 3;

    public static GroupRecord OffsetCommit(string groupId, TopicPartition partition, CommittedOffset offset) =>
        new(OffsetKey(groupId, partition), Versioned(
            new OffsetCommitValue { offset = offset.Offset, leaderEpoch = offset.LeaderEpoch, metadata = offset.Metadata, commitTimestamp = offset.CommitTimestampMs },
            OffsetCommitValueVersion));

    public static GroupRecord OffsetTombstone(string groupId, TopicPartition partition) => new(OffsetKey(groupId, partition), null);

    public static GroupRecord GroupMetadata(string groupId, GroupMetadataValue value) =>
        new(Versioned(new GroupMetadataKey { group = groupId }, GroupMetadataKeyType), Versioned(value, GroupMetadataValueVersion));

    public static GroupRecord GroupTombstone(string groupId) => new(Versioned(new GroupMetadataKey { group = groupId }, GroupMetadataKeyType), null);

    /// <summary>Reads a record key; throws <see cref="KafkaProtocolException"/> when it is malformed.</summary>
    public static GroupRecordKey ReadKey(ReadOnlySpan<byte> key)
    {
        var type = ReadVersion(key);
        var body = new ReadOnlySequence<byte>(key[2..].ToArray());
        var reader = new SequenceReader<byte>(body);
        switch (type)
        {
            case 0 or 1:
                var offsetKey = new OffsetCommitKey();
                offsetKey.Read(ref reader, type);
                return new GroupRecordKey(type, offsetKey.group, offsetKey.topic, offsetKey.partition);
            case 2:
                var groupKey = new GroupMetadataKey();
                groupKey.Read(ref reader, type);
                return new GroupRecordKey(type, groupKey.group);
            default:
                // KIP-848/share-group records all start with the group id as a string.
                return new GroupRecordKey(type, ProtocolReader.ReadString(ref reader, false, "groupId"));
        }
    }

    public static CommittedOffset ReadOffsetValue(ReadOnlySpan<byte> value)
    {
        var decoded = Read<OffsetCommitValue>(value);
        return new CommittedOffset(decoded.offset, decoded.leaderEpoch, decoded.metadata, decoded.commitTimestamp);
    }

    public static GroupMetadataValue ReadGroupMetadataValue(ReadOnlySpan<byte> value) => Read<GroupMetadataValue>(value);

    internal static T Read<T>(ReadOnlySpan<byte> bytes)
        where T : IKafkaMessage, new()
    {
        var version = ReadVersion(bytes);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes[2..].ToArray()));
        var message = new T();
        message.Read(ref reader, version);
        return message;
    }

    private static short ReadVersion(ReadOnlySpan<byte> bytes) =>
        bytes.Length >= 2 ? BinaryPrimitives.ReadInt16BigEndian(bytes) : throw new KafkaProtocolException("group coordinator record shorter than its version");

    private static byte[] OffsetKey(string groupId, TopicPartition partition) =>
        Versioned(new OffsetCommitKey { group = groupId, topic = partition.Topic, partition = partition.Partition }, OffsetCommitKeyType);

    /// <summary>An int16 version followed by the message at that version (the framing of group records and of ConsumerProtocol data).</summary>
    internal static byte[] Versioned(IKafkaMessage message, short version)
    {
        var bytes = new byte[2 + message.ComputeSize(version)];
        BinaryPrimitives.WriteInt16BigEndian(bytes, version);
        var writer = new ArrayBufferWriter<byte>(bytes.Length);
        message.Write(writer, version);
        writer.WrittenSpan.CopyTo(bytes.AsSpan(2));
        return bytes;
    }
}
