using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>Where a consumer group member is in its reconciliation (Kafka's MemberState).</summary>
public enum ConsumerMemberState
{
    /// <summary>The member owns its target assignment for its epoch.</summary>
    Stable,

    /// <summary>The member must revoke partitions before it moves to the next epoch.</summary>
    UnrevokedPartitions,

    /// <summary>The member is at the target epoch but waits for partitions other members still own.</summary>
    UnreleasedPartitions,
}

/// <summary>A member of a KIP-848 consumer group. Guarded by the coordinator's lock.</summary>
internal sealed class ConsumerGroupMember(string memberId)
{
    public string MemberId { get; set; } = memberId;

    public int MemberEpoch { get; set; }

    public int PreviousMemberEpoch { get; set; }

    public ConsumerMemberState State { get; set; } = ConsumerMemberState.Stable;

    public string? InstanceId { get; set; }

    public string? RackId { get; set; }

    public int RebalanceTimeoutMs { get; set; } = -1;

    public string ClientId { get; set; } = "";

    public string ClientHost { get; set; } = "";

    public IReadOnlyList<string> SubscribedTopicNames { get; set; } = [];

    public string? SubscribedTopicRegex { get; set; }

    public string? ServerAssignor { get; set; }

    /// <summary>The partitions the member owns for its epoch.</summary>
    public Dictionary<KafkaUuid, SortedSet<int>> AssignedPartitions { get; set; } = [];

    /// <summary>The partitions the member must revoke before it gets its next epoch.</summary>
    public Dictionary<KafkaUuid, SortedSet<int>> PartitionsPendingRevocation { get; set; } = [];

    /// <summary>KIP-1251: the member epoch at which each assigned partition was given to the member.</summary>
    public Dictionary<(KafkaUuid Topic, int Partition), int> AssignmentEpochs { get; } = [];

    public ITimer? SessionTimer { get; set; }

    /// <summary>When the session expires (ms on the coordinator's clock); a timer callback that is late checks it.</summary>
    public long SessionDeadlineMs { get; set; }

    /// <summary>Sets the assigned partitions; partitions new to the member are stamped with its current epoch.</summary>
    public void SetAssignedPartitions(Dictionary<KafkaUuid, SortedSet<int>> assigned)
    {
        foreach (var key in AssignmentEpochs.Keys.ToList())
        {
            if (!PartitionMap.Contains(assigned, key.Topic, key.Partition))
            {
                AssignmentEpochs.Remove(key);
            }
        }

        foreach (var (topic, partitions) in assigned)
        {
            foreach (var partition in partitions)
            {
                AssignmentEpochs.TryAdd((topic, partition), MemberEpoch);
            }
        }

        AssignedPartitions = assigned;
    }

    public ITimer? RebalanceTimer { get; set; }

    /// <summary>
    /// A member that uses the classic protocol (JoinGroup/SyncGroup/Heartbeat) in a consumer group: its session
    /// timeout and the protocols of its last JoinGroup (Kafka's ClassicMemberMetadata); null for a KIP-848 member.
    /// </summary>
    public ClassicMemberMetadata? Classic { get; set; }

    public bool UsesClassicProtocol => Classic is not null;

    /// <summary>A classic member's deadline to rejoin (after REBALANCE_IN_PROGRESS) or to sync (after its join).</summary>
    public ITimer? ClassicTimer { get; set; }

    /// <summary>At its target epoch and stable: nothing to reconcile (Kafka's isReconciledTo).</summary>
    public bool IsReconciledTo(int targetEpoch) => MemberEpoch == targetEpoch && State == ConsumerMemberState.Stable;

    public void DisposeTimers()
    {
        SessionTimer?.Dispose();
        SessionTimer = null;
        RebalanceTimer?.Dispose();
        RebalanceTimer = null;
        ClassicTimer?.Dispose();
        ClassicTimer = null;
    }
}

/// <summary>What a consumer group keeps of a member that uses the classic protocol.</summary>
internal sealed record ClassicMemberMetadata(int SessionTimeoutMs, IReadOnlyList<GroupProtocol> Protocols);

/// <summary>Helpers for assignments kept as topic id → sorted partitions.</summary>
internal static class PartitionMap
{
    public static Dictionary<KafkaUuid, SortedSet<int>> Copy(IReadOnlyDictionary<KafkaUuid, SortedSet<int>> source)
    {
        var copy = new Dictionary<KafkaUuid, SortedSet<int>>(source.Count);
        foreach (var (topic, partitions) in source)
        {
            if (partitions.Count > 0)
            {
                copy[topic] = [.. partitions];
            }
        }

        return copy;
    }

    public static bool SetEquals(IReadOnlyDictionary<KafkaUuid, SortedSet<int>> a, IReadOnlyDictionary<KafkaUuid, SortedSet<int>> b)
    {
        if (Count(a) != Count(b))
        {
            return false;
        }

        foreach (var (topic, partitions) in a)
        {
            if (partitions.Count > 0 && (!b.TryGetValue(topic, out var other) || !partitions.SetEquals(other)))
            {
                return false;
            }
        }

        return true;
    }

    public static int Count(IReadOnlyDictionary<KafkaUuid, SortedSet<int>> map)
    {
        var count = 0;
        foreach (var partitions in map.Values)
        {
            count += partitions.Count;
        }

        return count;
    }

    public static bool Contains(IReadOnlyDictionary<KafkaUuid, SortedSet<int>> map, KafkaUuid topic, int partition) =>
        map.TryGetValue(topic, out var partitions) && partitions.Contains(partition);
}
