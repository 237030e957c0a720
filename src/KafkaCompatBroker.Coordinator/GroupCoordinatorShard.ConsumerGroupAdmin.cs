using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// KIP-848 consumer groups in the classic admin APIs, as Kafka 4.x answers: ListGroups lists them with
/// type "consumer"; DescribeGroups describes them the way Kafka's ConsumerGroup.asDescribedGroup does
/// (protocol type "consumer", the group's server assignor as protocol, ConsumerProtocol v3 subscription
/// and assignment bytes per member); DeleteGroups deletes an empty one; OffsetDelete refuses partitions
/// of topics a member subscribes to. All under the coordinator's lock (callers hold it).
/// </summary>
public sealed partial class GroupCoordinatorShard
{
    private const short ConsumerProtocolVersion = 3;

    /// <summary>Called under the lock when a consumer group is deleted, to persist its removal.</summary>
    partial void OnConsumerGroupDeleted(string groupId);

    private static string StateName(ConsumerGroupState state) => state switch
    {
        ConsumerGroupState.Empty => "Empty",
        ConsumerGroupState.Assigning => "Assigning",
        ConsumerGroupState.Reconciling => "Reconciling",
        ConsumerGroupState.Stable => "Stable",
        _ => "Dead",
    };

    private void AddConsumerGroups(List<ListedGroup> groups)
    {
        foreach (var group in _consumerGroups.Values)
        {
            if (!group.IsDead)
            {
                groups.Add(new ListedGroup(group.GroupId, ConsumerProtocolType, StateName(group.State), GroupTypeNames.Consumer));
            }
        }
    }

    private bool IsConsumerGroup(string groupId) => _consumerGroups.TryGetValue(groupId, out var group) && !group.IsDead;

    private DescribedGroup DescribeConsumerGroupAsClassic(ConsumerGroup group)
    {
        var members = new List<DescribedGroupMember>(group.Members.Count);
        foreach (var member in group.Members.Values)
        {
            members.Add(new DescribedGroupMember(
                member.MemberId, member.InstanceId, member.ClientId, member.ClientHost, SubscriptionBytes(member), AssignmentBytes(member.AssignedPartitions)));
        }

        return new DescribedGroup(
            group.GroupId, ErrorCode.None, null, StateName(group.State), ConsumerProtocolType, group.PreferredAssignor(DefaultConsumerAssignor), members);
    }

    private string DefaultConsumerAssignor => _config.ConsumerAssignors.Count > 0 ? _config.ConsumerAssignors[0] : "uniform";

    private byte[] SubscriptionBytes(ConsumerGroupMember member)
    {
        var subscription = new ConsumerProtocolSubscription { Topics = [.. member.SubscribedTopicNames.Order(StringComparer.Ordinal)], RackId = member.RackId };
        return GroupRecords.Versioned(subscription, ConsumerProtocolVersion);
    }

    /// <summary>ConsumerProtocol assignment bytes of <paramref name="partitions"/> (topics that no longer exist and empty sets left out).</summary>
    private byte[] AssignmentBytes(IReadOnlyDictionary<KafkaUuid, SortedSet<int>> partitions, short version = ConsumerProtocolVersion)
    {
        var assignment = new ConsumerProtocolAssignment();
        foreach (var (topicId, set) in partitions)
        {
            if (TopicView.Topic(topicId) is { } topic && set.Count > 0)
            {
                assignment.AssignedPartitions.Add(new ConsumerProtocolAssignment.TopicPartition { Topic = topic.Name, Partitions = [.. set] });
            }
        }

        return GroupRecords.Versioned(assignment, version);
    }

    /// <summary>DeleteGroups of a consumer group: NON_EMPTY_GROUP while it has members; else its offsets, then the group, go.</summary>
    private ErrorCode DeleteConsumerGroup(ConsumerGroup group)
    {
        if (!group.IsEmpty)
        {
            return ErrorCode.NonEmptyGroup;
        }

        if (TryDeleteGroupOffsets(group.GroupId) is { } error)
        {
            return error;
        }

        RemoveConsumerGroup(group);
        _log.LogInformation("Deleted consumer group {GroupId} and its committed offsets", group.GroupId);
        return ErrorCode.None;
    }

    private void RemoveConsumerGroup(ConsumerGroup group)
    {
        group.IsDead = true;
        _consumerGroups.Remove(group.GroupId);
        _persistedImages.Remove(group.GroupId);
        OnConsumerGroupDeleted(group.GroupId);
    }

    /// <summary>Kafka's ConsumerGroup.isSubscribedToTopic: a member subscribes to it by name or by regex.</summary>
    private bool IsSubscribedToTopic(ConsumerGroup group, string topic)
    {
        foreach (var member in group.Members.Values)
        {
            if (member.SubscribedTopicNames.Contains(topic))
            {
                return true;
            }

            foreach (var subscribed in SubscribedTopics(member))
            {
                if (subscribed.Name == topic)
                {
                    return true;
                }
            }
        }

        return false;
    }
}
