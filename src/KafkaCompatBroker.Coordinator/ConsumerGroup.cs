using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>The states of a KIP-848 consumer group, as Kafka names them.</summary>
public enum ConsumerGroupState
{
    Empty,
    Assigning,
    Reconciling,
    Stable,
    Dead,
}

/// <summary>
/// A KIP-848 consumer group: the group epoch (bumped whenever members, subscriptions or the subscribed
/// topics' metadata change), the target assignment computed for the assignment epoch, and the members
/// reconciling towards it. Guarded by the coordinator's lock.
/// </summary>
internal sealed class ConsumerGroup(string groupId)
{
    public string GroupId { get; } = groupId;

    public int GroupEpoch { get; set; }

    public int AssignmentEpoch { get; set; }

    public bool IsDead { get; set; }

    public OrderedDictionary<string, ConsumerGroupMember> Members { get; } = new(StringComparer.Ordinal);

    /// <summary>Instance id → member id of the static members.</summary>
    public Dictionary<string, string> StaticMembers { get; } = new(StringComparer.Ordinal);

    /// <summary>Member id → the member's target assignment for <see cref="AssignmentEpoch"/>.</summary>
    public Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>> TargetAssignment { get; } = new(StringComparer.Ordinal);

    /// <summary>The member owning each partition (assigned or pending revocation) and its epoch; absent = free.</summary>
    public Dictionary<(KafkaUuid Topic, int Partition), (string MemberId, int Epoch)> PartitionEpochs { get; } = [];

    /// <summary>A hash of the subscribed topics' ids and partition counts when the group epoch was last set (0: none).</summary>
    public long MetadataHash { get; set; }

    public bool IsEmpty => Members.Count == 0;

    public ConsumerGroupState State
    {
        get
        {
            if (IsDead)
            {
                return ConsumerGroupState.Dead;
            }

            if (Members.Count == 0)
            {
                return ConsumerGroupState.Empty;
            }

            if (GroupEpoch > AssignmentEpoch)
            {
                return ConsumerGroupState.Assigning;
            }

            foreach (var member in Members.Values)
            {
                if (!member.IsReconciledTo(AssignmentEpoch))
                {
                    return ConsumerGroupState.Reconciling;
                }
            }

            return ConsumerGroupState.Stable;
        }
    }

    public ConsumerGroupMember? StaticMember(string? instanceId) =>
        instanceId is not null && StaticMembers.TryGetValue(instanceId, out var memberId) && Members.TryGetValue(memberId, out var member) ? member : null;

    public int CurrentPartitionEpoch(KafkaUuid topic, int partition) => PartitionEpochs.TryGetValue((topic, partition), out var owner) ? owner.Epoch : -1;

    public Dictionary<KafkaUuid, SortedSet<int>> TargetOf(string memberId) =>
        TargetAssignment.TryGetValue(memberId, out var target) ? target : [];

    public void AddMember(ConsumerGroupMember member)
    {
        Members[member.MemberId] = member;
        if (member.InstanceId is { } instanceId)
        {
            StaticMembers[instanceId] = member.MemberId;
        }

        AddPartitionEpochs(member);
    }

    public void RemoveMember(ConsumerGroupMember member)
    {
        RemovePartitionEpochs(member);
        Members.Remove(member.MemberId);
        TargetAssignment.Remove(member.MemberId);
        if (member.InstanceId is { } instanceId && StaticMembers.TryGetValue(instanceId, out var id) && id == member.MemberId)
        {
            StaticMembers.Remove(instanceId);
        }

        member.DisposeTimers();
    }

    /// <summary>Releases the member's partitions (before its assignment changes or it leaves).</summary>
    public void RemovePartitionEpochs(ConsumerGroupMember member)
    {
        Release(member.AssignedPartitions, member.MemberId);
        Release(member.PartitionsPendingRevocation, member.MemberId);
    }

    /// <summary>Claims the member's assigned and pending-revocation partitions at its epoch.</summary>
    public void AddPartitionEpochs(ConsumerGroupMember member)
    {
        Claim(member.AssignedPartitions, member.MemberId, member.MemberEpoch);
        Claim(member.PartitionsPendingRevocation, member.MemberId, member.MemberEpoch);
    }

    private void Release(Dictionary<KafkaUuid, SortedSet<int>> partitions, string memberId)
    {
        foreach (var (topic, set) in partitions)
        {
            foreach (var p in set)
            {
                if (PartitionEpochs.TryGetValue((topic, p), out var owner) && owner.MemberId == memberId)
                {
                    PartitionEpochs.Remove((topic, p));
                }
            }
        }
    }

    private void Claim(Dictionary<KafkaUuid, SortedSet<int>> partitions, string memberId, int epoch)
    {
        foreach (var (topic, set) in partitions)
        {
            foreach (var p in set)
            {
                PartitionEpochs[(topic, p)] = (memberId, epoch);
            }
        }
    }

    /// <summary>The server assignor most members ask for, else the broker's default (Kafka's preferred server assignor).</summary>
    public string PreferredAssignor(string defaultAssignor)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var member in Members.Values)
        {
            if (member.ServerAssignor is { } name)
            {
                counts[name] = counts.GetValueOrDefault(name) + 1;
            }
        }

        string? best = null;
        foreach (var (name, count) in counts)
        {
            if (best is null || count > counts[best] || (count == counts[best] && string.CompareOrdinal(name, best) < 0))
            {
                best = name;
            }
        }

        return best ?? defaultAssignor;
    }
}
