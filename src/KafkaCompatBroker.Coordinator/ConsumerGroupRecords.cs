using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.GroupCoordinatorRecords;

namespace KafkaCompatBroker.Coordinator;

/// <summary>What a KIP-848 consumer group record key names: its type, the group and (for member records) the member.</summary>
public readonly record struct ConsumerGroupRecordKey(short Type, string GroupId, string MemberId);

/// <summary>
/// The KIP-848 consumer group records of <c>__consumer_offsets</c> in Kafka's formats (key version =
/// record type, value version 0): 3 group epoch, 5 member metadata, 6 target assignment epoch, 7 a
/// member's target assignment, 8 a member's current assignment. Type 4 (partition metadata) is what
/// Kafka 4.0 wrote; Kafka 4.1+ keeps a hash of the subscribed topics in the group epoch record
/// instead (tagged field 0, MetadataHash), and so do we (with our own hash function).
/// </summary>
internal static class ConsumerGroupRecords
{
    public const short GroupMetadataType = 3;
    public const short PartitionMetadataType = 4;
    public const short MemberMetadataType = 5;
    public const short TargetAssignmentMetadataType = 6;
    public const short TargetAssignmentMemberType = 7;
    public const short CurrentMemberAssignmentType = 8;
    private const short ValueVersion = 0;
    private const int MetadataHashTag = 0;

    public static bool IsConsumerGroupType(short type) => type is >= GroupMetadataType and <= CurrentMemberAssignmentType;

    public static GroupRecord GroupEpoch(string groupId, int epoch, long metadataHash)
    {
        var value = new ConsumerGroupMetadataValue { Epoch = epoch };
        if (metadataHash != 0)
        {
            var hash = new byte[8];
            BinaryPrimitives.WriteInt64BigEndian(hash, metadataHash);
            value.UnknownTaggedFields = [new RawTaggedField(MetadataHashTag, hash)];
        }

        return new(Key(GroupMetadataType, groupId, ""), GroupRecords.Versioned(value, ValueVersion));
    }

    public static GroupRecord MemberMetadata(string groupId, ConsumerGroupMember member) =>
        new(Key(MemberMetadataType, groupId, member.MemberId), GroupRecords.Versioned(
            new ConsumerGroupMemberMetadataValue
            {
                InstanceId = member.InstanceId,
                RackId = member.RackId,
                ClientId = member.ClientId,
                ClientHost = member.ClientHost,
                SubscribedTopicNames = [.. member.SubscribedTopicNames],
                SubscribedTopicRegex = member.SubscribedTopicRegex,
                RebalanceTimeoutMs = member.RebalanceTimeoutMs,
                ServerAssignor = member.ServerAssignor,
                ClassicMemberMetadata = member.Classic is { } classic
                    ? new ConsumerGroupMemberMetadataValue.ClassicMemberMetadataData
                    {
                        SessionTimeoutMs = classic.SessionTimeoutMs,
                        SupportedProtocols = [.. classic.Protocols.Select(p => new ConsumerGroupMemberMetadataValue.ClassicProtocol { Name = p.Name, Metadata = p.Metadata })],
                    }
                    : null,
            },
            ValueVersion));

    public static GroupRecord TargetAssignmentEpoch(string groupId, int epoch) =>
        new(Key(TargetAssignmentMetadataType, groupId, ""), GroupRecords.Versioned(new ConsumerGroupTargetAssignmentMetadataValue { AssignmentEpoch = epoch }, ValueVersion));

    public static GroupRecord TargetAssignmentMember(string groupId, string memberId, IReadOnlyDictionary<KafkaUuid, SortedSet<int>> target)
    {
        var value = new ConsumerGroupTargetAssignmentMemberValue();
        foreach (var (topic, partitions) in Sorted(target))
        {
            value.TopicPartitions.Add(new ConsumerGroupTargetAssignmentMemberValue.TopicPartition { TopicId = topic, Partitions = [.. partitions] });
        }

        return new(Key(TargetAssignmentMemberType, groupId, memberId), GroupRecords.Versioned(value, ValueVersion));
    }

    public static GroupRecord CurrentAssignment(string groupId, ConsumerGroupMember member) =>
        new(Key(CurrentMemberAssignmentType, groupId, member.MemberId), GroupRecords.Versioned(
            new ConsumerGroupCurrentMemberAssignmentValue
            {
                MemberEpoch = member.MemberEpoch,
                PreviousMemberEpoch = member.PreviousMemberEpoch,
                State = (sbyte)member.State, // Kafka's MemberState: 0 stable, 1 unrevoked, 2 unreleased partitions
                AssignedPartitions = ToTopicPartitions(member.AssignedPartitions),
                PartitionsPendingRevocation = ToTopicPartitions(member.PartitionsPendingRevocation),
            },
            ValueVersion));

    /// <summary>Reads a consumer group record key (types 3 to 8); throws <see cref="KafkaProtocolException"/> when malformed.</summary>
    public static ConsumerGroupRecordKey ReadKey(ReadOnlySpan<byte> key)
    {
        var type = key.Length >= 2 ? BinaryPrimitives.ReadInt16BigEndian(key) : throw new KafkaProtocolException("group coordinator record shorter than its version");
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(key[2..].ToArray()));
        switch (type)
        {
            case GroupMetadataType or PartitionMetadataType or TargetAssignmentMetadataType:
                return new(type, ProtocolReader.ReadString(ref reader, false, "GroupId"), "");
            case MemberMetadataType:
                var member = new ConsumerGroupMemberMetadataKey();
                member.Read(ref reader, type);
                return new(type, member.GroupId, member.MemberId);
            case TargetAssignmentMemberType:
                var target = new ConsumerGroupTargetAssignmentMemberKey();
                target.Read(ref reader, type);
                return new(type, target.GroupId, target.MemberId);
            case CurrentMemberAssignmentType:
                var current = new ConsumerGroupCurrentMemberAssignmentKey();
                current.Read(ref reader, type);
                return new(type, current.GroupId, current.MemberId);
            default:
                throw new KafkaProtocolException($"record type {type} is not a consumer group record");
        }
    }

    public static int ReadGroupEpoch(ReadOnlySpan<byte> value, out long metadataHash)
    {
        var decoded = GroupRecords.Read<ConsumerGroupMetadataValue>(value);
        metadataHash = 0;
        foreach (var field in decoded.UnknownTaggedFields ?? [])
        {
            if (field.Tag == MetadataHashTag && field.Data.Length == 8)
            {
                metadataHash = BinaryPrimitives.ReadInt64BigEndian(field.Data);
            }
        }

        return decoded.Epoch;
    }

    public static ConsumerGroupMemberMetadataValue ReadMemberMetadata(ReadOnlySpan<byte> value) => GroupRecords.Read<ConsumerGroupMemberMetadataValue>(value);

    public static int ReadTargetAssignmentEpoch(ReadOnlySpan<byte> value) => GroupRecords.Read<ConsumerGroupTargetAssignmentMetadataValue>(value).AssignmentEpoch;

    public static Dictionary<KafkaUuid, SortedSet<int>> ReadTargetAssignmentMember(ReadOnlySpan<byte> value)
    {
        var map = new Dictionary<KafkaUuid, SortedSet<int>>();
        foreach (var topic in GroupRecords.Read<ConsumerGroupTargetAssignmentMemberValue>(value).TopicPartitions)
        {
            Add(map, topic.TopicId, topic.Partitions);
        }

        return map;
    }

    public static ConsumerGroupCurrentMemberAssignmentValue ReadCurrentAssignment(ReadOnlySpan<byte> value) => GroupRecords.Read<ConsumerGroupCurrentMemberAssignmentValue>(value);

    public static Dictionary<KafkaUuid, SortedSet<int>> ToMap(List<ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions> topics)
    {
        var map = new Dictionary<KafkaUuid, SortedSet<int>>();
        foreach (var topic in topics)
        {
            Add(map, topic.TopicId, topic.Partitions);
        }

        return map;
    }

    private static void Add(Dictionary<KafkaUuid, SortedSet<int>> map, KafkaUuid topic, List<int> partitions)
    {
        if (partitions.Count == 0)
        {
            return;
        }

        if (!map.TryGetValue(topic, out var set))
        {
            map[topic] = set = [];
        }

        set.UnionWith(partitions);
    }

    private static List<ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions> ToTopicPartitions(IReadOnlyDictionary<KafkaUuid, SortedSet<int>> map)
    {
        var list = new List<ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions>(map.Count);
        foreach (var (topic, partitions) in Sorted(map))
        {
            list.Add(new ConsumerGroupCurrentMemberAssignmentValue.TopicPartitions { TopicId = topic, Partitions = [.. partitions] });
        }

        return list;
    }

    /// <summary>Topics in a fixed order, so an unchanged assignment encodes to the same bytes.</summary>
    private static IEnumerable<KeyValuePair<KafkaUuid, SortedSet<int>>> Sorted(IReadOnlyDictionary<KafkaUuid, SortedSet<int>> map) =>
        map.Where(e => e.Value.Count > 0).OrderBy(e => e.Key.MostSignificantBits).ThenBy(e => e.Key.LeastSignificantBits);

    public static byte[] Key(short type, string groupId, string memberId) => type switch
    {
        GroupMetadataType => GroupRecords.Versioned(new ConsumerGroupMetadataKey { GroupId = groupId }, type),
        TargetAssignmentMetadataType => GroupRecords.Versioned(new ConsumerGroupTargetAssignmentMetadataKey { GroupId = groupId }, type),
        MemberMetadataType => GroupRecords.Versioned(new ConsumerGroupMemberMetadataKey { GroupId = groupId, MemberId = memberId }, type),
        TargetAssignmentMemberType => GroupRecords.Versioned(new ConsumerGroupTargetAssignmentMemberKey { GroupId = groupId, MemberId = memberId }, type),
        CurrentMemberAssignmentType => GroupRecords.Versioned(new ConsumerGroupCurrentMemberAssignmentKey { GroupId = groupId, MemberId = memberId }, type),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "not a consumer group record type written by this broker"),
    };
}
