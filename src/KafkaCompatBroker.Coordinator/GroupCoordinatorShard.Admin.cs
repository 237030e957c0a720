using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>Kafka's names of group types (ListGroups v5+ group_type, types_filter).</summary>
public static class GroupTypeNames
{
    public const string Classic = "classic";

    public const string Consumer = "consumer";
}

/// <summary>A group as ListGroups shows it: state as Kafka spells it ("Empty", "Stable", ...), type "classic" or "consumer".</summary>
public readonly record struct ListedGroup(string GroupId, string ProtocolType, string State, string GroupType);

/// <summary>A member as DescribeGroups shows it; metadata is empty unless the group is Stable.</summary>
public sealed record DescribedGroupMember(string MemberId, string? GroupInstanceId, string ClientId, string ClientHost, byte[] Metadata, byte[] Assignment);

/// <summary>
/// A group as DescribeGroups shows it. An unknown group is GROUP_ID_NOT_FOUND with a message and state
/// "Dead" (DescribeGroups before v6 reports it without the error).
/// </summary>
public sealed record DescribedGroup(
    string GroupId,
    ErrorCode Error,
    string? ErrorMessage,
    string State,
    string ProtocolType,
    string ProtocolData,
    IReadOnlyList<DescribedGroupMember> Members);

/// <summary>OffsetDelete's answer: a group-level error, or an error per requested partition.</summary>
public sealed record OffsetDeleteResult(ErrorCode Error, IReadOnlyList<(string Topic, IReadOnlyList<(int Partition, ErrorCode Error)> Partitions)> Topics);

/// <summary>
/// The group admin APIs (ListGroups, DescribeGroups, DeleteGroups, OffsetDelete), following Kafka's
/// GroupMetadataManager and OffsetMetadataManager. A group exists when the coordinator holds it or,
/// like Kafka's "simple" groups, when it only has committed offsets (a consumer without group
/// membership, or after a restart): such a group is an Empty classic group with protocol type "".
/// Other group types (KIP-848 consumer groups) add their groups next to the classic ones below.
/// </summary>
public sealed partial class GroupCoordinatorShard
{
    private const string ConsumerProtocolType = "consumer";

    // ---------------------------------------------------------------- ListGroups

    /// <summary>
    /// Every group matching both filters (an empty filter matches all). State names compare
    /// case-insensitively after trimming, type names case-insensitively, as Kafka does; an unknown
    /// name matches nothing. Ordered by group id.
    /// </summary>
    public IReadOnlyList<ListedGroup> ListGroups(IReadOnlyCollection<string> statesFilter, IReadOnlyCollection<string> typesFilter)
    {
        var states = new HashSet<string>(StringComparer.Ordinal);
        foreach (var state in statesFilter)
        {
            states.Add(state.Trim().ToLowerInvariant());
        }

        var types = new HashSet<string>(StringComparer.Ordinal);
        foreach (var type in typesFilter)
        {
            types.Add(type.ToLowerInvariant());
        }

        var groups = new List<ListedGroup>();
        lock (_lock)
        {
            foreach (var group in _groups.Values)
            {
                groups.Add(new ListedGroup(group.GroupId, group.ProtocolType ?? "", StateName(group.State), GroupTypeNames.Classic));
            }

            foreach (var groupId in Offsets.GroupIds())
            {
                if (!_groups.ContainsKey(groupId) && !IsConsumerGroup(groupId))
                {
                    groups.Add(SimpleGroup(groupId));
                }
            }

            AddConsumerGroups(groups);
        }

        groups.RemoveAll(g =>
            (states.Count > 0 && !states.Contains(g.State.ToLowerInvariant())) || (types.Count > 0 && !types.Contains(g.GroupType)));
        groups.Sort(static (a, b) => string.CompareOrdinal(a.GroupId, b.GroupId));
        return groups;
    }

    private static ListedGroup SimpleGroup(string groupId) => new(groupId, "", StateName(ClassicGroupState.Empty), GroupTypeNames.Classic);

    /// <summary>Kafka's spelling of a classic group state ("Empty", "PreparingRebalance", ...).</summary>
    public static string StateName(ClassicGroupState state) => state switch
    {
        ClassicGroupState.Empty => "Empty",
        ClassicGroupState.PreparingRebalance => "PreparingRebalance",
        ClassicGroupState.CompletingRebalance => "CompletingRebalance",
        ClassicGroupState.Stable => "Stable",
        _ => "Dead",
    };

    // ---------------------------------------------------------------- DescribeGroups

    /// <summary>
    /// One answer per requested id, in request order (duplicates answered twice, as Kafka does).
    /// A Stable group shows its selected protocol and each member's metadata for it; other states
    /// show no protocol and empty metadata, but the members' (possibly previous) assignments.
    /// </summary>
    public IReadOnlyList<DescribedGroup> DescribeGroups(IReadOnlyList<string> groupIds)
    {
        var result = new List<DescribedGroup>(groupIds.Count);
        lock (_lock)
        {
            foreach (var groupId in groupIds)
            {
                if (_groups.TryGetValue(groupId, out var group) && group.State != ClassicGroupState.Dead)
                {
                    result.Add(DescribeClassic(group));
                }
                else if (_consumerGroups.TryGetValue(groupId, out var consumerGroup) && !consumerGroup.IsDead)
                {
                    result.Add(DescribeConsumerGroupAsClassic(consumerGroup));
                }
                else if (Offsets.HasOffsets(groupId))
                {
                    result.Add(new DescribedGroup(groupId, ErrorCode.None, null, StateName(ClassicGroupState.Empty), "", "", []));
                }
                else
                {
                    result.Add(new DescribedGroup(groupId, ErrorCode.GroupIdNotFound, $"Group {groupId} not found.", StateName(ClassicGroupState.Dead), "", "", []));
                }
            }
        }

        return result;
    }

    private static DescribedGroup DescribeClassic(ClassicGroup group)
    {
        var stable = group.State == ClassicGroupState.Stable;
        var members = new List<DescribedGroupMember>(group.Members.Count);
        foreach (var member in group.Members.Values)
        {
            members.Add(new DescribedGroupMember(
                member.MemberId, member.GroupInstanceId, member.ClientId, member.ClientHost, stable ? member.MetadataFor(group.ProtocolName!) : [], member.Assignment));
        }

        return new DescribedGroup(
            group.GroupId, ErrorCode.None, null, StateName(group.State), group.ProtocolType ?? "", stable ? group.ProtocolName! : "", members);
    }

    // ---------------------------------------------------------------- DeleteGroups

    /// <summary>
    /// Deletes each group (each id once, in request order) with its committed offsets: GROUP_ID_NOT_FOUND
    /// for an unknown group, NON_EMPTY_GROUP while it has members (any state but Empty). The empty id is
    /// an id like any other here, as in Kafka (a simple consumer may commit offsets under it).
    /// </summary>
    public IReadOnlyList<(string GroupId, ErrorCode Error)> DeleteGroups(IReadOnlyList<string> groupIds)
    {
        var result = new List<(string, ErrorCode)>(groupIds.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        lock (_lock)
        {
            FlushQueuedWritesLocked(); // reads committed offsets: queued commits first
            foreach (var groupId in groupIds)
            {
                if (seen.Add(groupId))
                {
                    result.Add((groupId, DeleteGroup(groupId)));
                }
            }
        }

        return result;
    }

    private ErrorCode DeleteGroup(string groupId)
    {
        if (_consumerGroups.TryGetValue(groupId, out var consumerGroup) && !consumerGroup.IsDead)
        {
            return DeleteConsumerGroup(consumerGroup);
        }

        if (_groups.TryGetValue(groupId, out var group))
        {
            switch (group.State)
            {
                case ClassicGroupState.Dead:
                    return ErrorCode.GroupIdNotFound;
                case ClassicGroupState.Empty:
                    break;
                default:
                    return ErrorCode.NonEmptyGroup;
            }

            if (TryDeleteGroupOffsets(groupId) is { } error)
            {
                return error;
            }

            // Members handed an id with MEMBER_ID_REQUIRED find the group gone when they rejoin (UNKNOWN_MEMBER_ID).
            foreach (var timer in group.PendingMembers.Values)
            {
                timer.Dispose();
            }

            group.PendingMembers.Clear();
            group.JoinTimer?.Dispose();
            group.JoinTimer = null;
            group.SyncTimer?.Dispose();
            group.SyncTimer = null;
            group.TransitionTo(ClassicGroupState.Dead);
            _groups.Remove(groupId);
        }
        else if (!Offsets.HasOffsets(groupId))
        {
            return ErrorCode.GroupIdNotFound;
        }
        else if (TryDeleteGroupOffsets(groupId) is { } error)
        {
            return error;
        }

        OnGroupDeleted(groupId);
        _log.LogInformation("Deleted group {GroupId} and its committed offsets", groupId);
        return ErrorCode.None;
    }

    /// <summary>Deletes (persists the tombstones of) the group's offsets first, so a failed write leaves the group as it was.</summary>
    private ErrorCode? TryDeleteGroupOffsets(string groupId)
    {
        try
        {
            DeleteAllPendingOffsets(groupId);
            Offsets.DeleteGroup(groupId);
            return null;
        }
        catch (GroupRecordLogException e)
        {
            _log.LogWarning("Deleting the offsets of group {GroupId} failed: {Reason}", groupId, e.Message);
            return e.Error;
        }
    }

    // ---------------------------------------------------------------- OffsetDelete

    /// <summary>
    /// Deletes committed offsets of a group, as Kafka's OffsetMetadataManager.deleteOffsets. Group errors:
    /// INVALID_GROUP_ID (empty id), GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP for an active group whose protocol
    /// type is not "consumer" (its subscriptions cannot be read). Each requested partition is answered:
    /// GROUP_SUBSCRIBED_TO_TOPIC when the group's members subscribe to the topic, else no error (deleted
    /// or there was nothing to delete).
    /// </summary>
    public OffsetDeleteResult DeleteOffsets(string groupId, IReadOnlyList<(string Topic, IReadOnlyList<int> Partitions)> topics)
    {
        if (groupId.Length == 0)
        {
            return new OffsetDeleteResult(ErrorCode.InvalidGroupId, []);
        }

        lock (_lock)
        {
            FlushQueuedWritesLocked(); // reads committed offsets: queued commits first
            // A consumer group is never NON_EMPTY_GROUP here; it answers subscriptions from its members' topics.
            _groups.TryGetValue(groupId, out var group);
            _consumerGroups.TryGetValue(groupId, out var consumerGroup);
            if (consumerGroup is { IsDead: false })
            {
                group = null;
            }
            else if (group is null ? !Offsets.HasOffsets(groupId) : group.State == ClassicGroupState.Dead)
            {
                return new OffsetDeleteResult(ErrorCode.GroupIdNotFound, []);
            }

            if (group is not null && group.State != ClassicGroupState.Empty && group.ProtocolType != ConsumerProtocolType)
            {
                return new OffsetDeleteResult(ErrorCode.NonEmptyGroup, []);
            }

            var result = new List<(string, IReadOnlyList<(int, ErrorCode)>)>(topics.Count);
            var deleted = 0;
            foreach (var (topic, partitions) in topics)
            {
                var subscribed = (group is not null && IsSubscribedToTopic(group, topic)) || (consumerGroup is { IsDead: false } && IsSubscribedToTopic(consumerGroup, topic));
                var partitionResults = new List<(int, ErrorCode)>(partitions.Count);
                foreach (var partition in partitions)
                {
                    if (subscribed)
                    {
                        partitionResults.Add((partition, ErrorCode.GroupSubscribedToTopic));
                        continue;
                    }

                    var error = ErrorCode.None;
                    try
                    {
                        // Pending transactional offsets are deleted too (a tombstone drops them), as in Kafka.
                        var deletedPending = DeletePendingOffsets(groupId, new TopicPartition(topic, partition));
                        if (Offsets.Delete(groupId, new TopicPartition(topic, partition)) || deletedPending)
                        {
                            deleted++;
                        }
                    }
                    catch (GroupRecordLogException e)
                    {
                        error = e.Error;
                    }

                    partitionResults.Add((partition, error));
                }

                result.Add((topic, partitionResults));
            }

            if (deleted > 0)
            {
                _log.LogInformation("Deleted {Offsets} committed offsets of group {GroupId}", deleted, groupId);
            }

            return new OffsetDeleteResult(ErrorCode.None, result);
        }
    }

    /// <summary>
    /// Kafka's ClassicGroup.isSubscribedToTopic: the topics known from the generation's subscriptions, or,
    /// when they are unknown (no generation yet, unreadable metadata), every topic for a "consumer" group.
    /// </summary>
    private static bool IsSubscribedToTopic(ClassicGroup group, string topic) =>
        group.SubscribedTopics?.Contains(topic) ?? group.ProtocolType == ConsumerProtocolType;

    /// <summary>
    /// Kafka's computeSubscribedTopics, run when a generation starts: the union of the members'
    /// ConsumerProtocolSubscription topics for a "consumer" group; empty for a group without members;
    /// null (unknown) for other protocol types or when a subscription cannot be parsed.
    /// </summary>
    private HashSet<string>? ComputeSubscribedTopics(ClassicGroup group)
    {
        if (group.ProtocolType != ConsumerProtocolType)
        {
            return null;
        }

        var topics = new HashSet<string>(StringComparer.Ordinal);
        if (group.Members.Count == 0)
        {
            return topics;
        }

        if (group.ProtocolName is not { } protocol)
        {
            return null;
        }

        foreach (var member in group.Members.Values)
        {
            if (!TryReadSubscribedTopics(member.MetadataFor(protocol), topics))
            {
                _log.LogWarning("Failed to parse the consumer protocol {Protocol} subscription of a member of group {GroupId}: its subscribed topics are unknown", protocol, group.GroupId);
                return null;
            }
        }

        return topics;
    }

    /// <summary>
    /// Reads the topics of a ConsumerProtocolSubscription: an int16 version, then the v0 fields, which
    /// prefix every version (so, as Kafka, any version is read as v0 and the rest ignored).
    /// </summary>
    private static bool TryReadSubscribedTopics(byte[] metadata, HashSet<string> topics)
    {
        if (metadata.Length < sizeof(short))
        {
            return false;
        }

        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(metadata, sizeof(short), metadata.Length - sizeof(short)));
        try
        {
            var subscription = new ConsumerProtocolSubscription();
            subscription.Read(ref reader, 0);
            topics.UnionWith(subscription.Topics);
            return true;
        }
        catch (KafkaProtocolException)
        {
            return false;
        }
    }
}
