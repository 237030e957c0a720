using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>A topic the assignors may hand out: its id, name and partition count.</summary>
public readonly record struct AssignmentTopic(KafkaUuid Id, string Name, int Partitions);

/// <summary>One member as a server-side assignor sees it: its subscription (topic ids) and its current target assignment.</summary>
public sealed record AssignmentMember(
    string MemberId, string? InstanceId, string? RackId, IReadOnlySet<KafkaUuid> SubscribedTopicIds, IReadOnlyDictionary<KafkaUuid, SortedSet<int>> CurrentAssignment);

/// <summary>A server-side partition assignor of KIP-848 (Kafka's ConsumerGroupPartitionAssignor).</summary>
public interface IConsumerGroupAssignor
{
    string Name { get; }

    /// <summary>The new target assignment of every member (members without partitions map to an empty assignment).</summary>
    Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>> Assign(IReadOnlyList<AssignmentMember> members, IReadOnlyList<AssignmentTopic> topics);
}

/// <summary>The assignors a broker offers, by the names of <c>group.consumer.assignors</c>.</summary>
public static class ConsumerGroupAssignors
{
    public static IConsumerGroupAssignor? ByName(string name) => name switch
    {
        "uniform" or "org.apache.kafka.coordinator.group.assignor.UniformAssignor" => UniformAssignor.Instance,
        "range" or "org.apache.kafka.coordinator.group.assignor.RangeAssignor" => RangeAssignor.Instance,
        _ => null,
    };

    internal static Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>> EmptyResult(IReadOnlyList<AssignmentMember> members)
    {
        var result = new Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>>(members.Count, StringComparer.Ordinal);
        foreach (var member in members)
        {
            result[member.MemberId] = [];
        }

        return result;
    }

    internal static void Add(Dictionary<KafkaUuid, SortedSet<int>> assignment, KafkaUuid topic, int partition)
    {
        if (!assignment.TryGetValue(topic, out var set))
        {
            assignment[topic] = set = [];
        }

        set.Add(partition);
    }

    /// <summary>Members in a deterministic order (Kafka iterates a hash map; we sort by member id).</summary>
    internal static List<AssignmentMember> Sorted(IReadOnlyList<AssignmentMember> members)
    {
        var sorted = new List<AssignmentMember>(members);
        sorted.Sort(static (a, b) => string.CompareOrdinal(a.MemberId, b.MemberId));
        return sorted;
    }
}

/// <summary>
/// Kafka's server-side <c>range</c> assignor: per topic, each subscribed member keeps up to its quota
/// of its current partitions (lowest first), then the unassigned partitions are handed out in ranges,
/// one extra partition to the first members while extras remain. Co-partitioned topics line up.
/// </summary>
public sealed class RangeAssignor : IConsumerGroupAssignor
{
    public static readonly RangeAssignor Instance = new();

    public string Name => "range";

    public Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>> Assign(IReadOnlyList<AssignmentMember> members, IReadOnlyList<AssignmentTopic> topics)
    {
        var result = ConsumerGroupAssignors.EmptyResult(members);
        var sorted = ConsumerGroupAssignors.Sorted(members);
        foreach (var topic in topics)
        {
            var subscribed = sorted.FindAll(m => m.SubscribedTopicIds.Contains(topic.Id));
            if (subscribed.Count == 0)
            {
                continue;
            }

            var minQuota = topic.Partitions / subscribed.Count;
            var withExtra = topic.Partitions % subscribed.Count;
            var sticky = new HashSet<int>();
            var unfilled = new List<(string MemberId, int Remaining)>();
            foreach (var member in subscribed)
            {
                var current = member.CurrentAssignment.TryGetValue(topic.Id, out var set) ? [.. set.Where(p => p < topic.Partitions)] : new List<int>();
                var retained = Math.Min(current.Count, minQuota);
                for (var i = 0; i < retained; i++)
                {
                    sticky.Add(current[i]);
                    ConsumerGroupAssignors.Add(result[member.MemberId], topic.Id, current[i]);
                }

                var remaining = minQuota - current.Count;
                if (remaining < 0 && withExtra > 0)
                {
                    // It has more than the minimum: it keeps one more as its extra partition.
                    withExtra--;
                    sticky.Add(current[minQuota]);
                    ConsumerGroupAssignors.Add(result[member.MemberId], topic.Id, current[minQuota]);
                }
                else
                {
                    unfilled.Add((member.MemberId, remaining));
                }
            }

            var unassigned = new List<int>(topic.Partitions);
            for (var p = 0; p < topic.Partitions; p++)
            {
                if (!sticky.Contains(p))
                {
                    unassigned.Add(p);
                }
            }

            var next = 0;
            foreach (var (memberId, pending) in unfilled)
            {
                var remaining = pending;
                if (withExtra > 0)
                {
                    remaining++;
                    withExtra--;
                }

                for (var i = 0; i < remaining && next < unassigned.Count; i++)
                {
                    ConsumerGroupAssignors.Add(result[memberId], topic.Id, unassigned[next++]);
                }
            }
        }

        return result;
    }
}

/// <summary>
/// Kafka's default server-side <c>uniform</c> assignor: balanced (partition counts differ by at most
/// one between members subscribed to the same topics) and sticky (a member keeps as much of its
/// current assignment as balance allows). Homogeneous groups balance over all partitions at once;
/// heterogeneous groups assign topic by topic (fewest subscribers first) to the least loaded
/// subscriber, keeping current owners while they are not above their fair share, then even out.
/// </summary>
public sealed class UniformAssignor : IConsumerGroupAssignor
{
    public static readonly UniformAssignor Instance = new();

    public string Name => "uniform";

    public Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>> Assign(IReadOnlyList<AssignmentMember> members, IReadOnlyList<AssignmentTopic> topics)
    {
        if (members.Count == 0)
        {
            return [];
        }

        var first = members[0].SubscribedTopicIds;
        var homogeneous = members.All(m => m.SubscribedTopicIds.SetEquals(first));
        return homogeneous ? AssignHomogeneous(members, topics) : AssignHeterogeneous(members, topics);
    }

    private static Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>> AssignHomogeneous(IReadOnlyList<AssignmentMember> members, IReadOnlyList<AssignmentTopic> topics)
    {
        var result = ConsumerGroupAssignors.EmptyResult(members);
        var sorted = ConsumerGroupAssignors.Sorted(members);
        var subscribedTopics = topics.Where(t => members[0].SubscribedTopicIds.Contains(t.Id)).ToList();
        var partitionCounts = subscribedTopics.ToDictionary(t => t.Id, t => t.Partitions);
        var total = subscribedTopics.Sum(t => t.Partitions);
        var minQuota = total / sorted.Count;
        var extras = total % sorted.Count;
        var taken = new HashSet<(KafkaUuid, int)>();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);

        // 1. Each member keeps its current partitions up to its quota (minimum, or minimum + 1 while extras last).
        foreach (var member in sorted)
        {
            var kept = 0;
            var quota = minQuota;
            var owned = CurrentValid(member, partitionCounts);
            if (owned.Count > minQuota && extras > 0)
            {
                quota++;
                extras--;
            }

            foreach (var tp in owned)
            {
                if (kept == quota)
                {
                    break;
                }

                if (taken.Add(tp))
                {
                    ConsumerGroupAssignors.Add(result[member.MemberId], tp.Item1, tp.Item2);
                    kept++;
                }
            }

            counts[member.MemberId] = kept;
        }

        // 2. The other partitions fill members below the minimum, then give the remaining extras out.
        var unassigned = new Queue<(KafkaUuid, int)>();
        foreach (var topic in subscribedTopics)
        {
            for (var p = 0; p < topic.Partitions; p++)
            {
                if (!taken.Contains((topic.Id, p)))
                {
                    unassigned.Enqueue((topic.Id, p));
                }
            }
        }

        foreach (var member in sorted)
        {
            while (counts[member.MemberId] < minQuota && unassigned.TryDequeue(out var tp))
            {
                ConsumerGroupAssignors.Add(result[member.MemberId], tp.Item1, tp.Item2);
                counts[member.MemberId]++;
            }
        }

        foreach (var member in sorted)
        {
            if (unassigned.Count == 0)
            {
                break;
            }

            if (counts[member.MemberId] == minQuota && extras > 0 && unassigned.TryDequeue(out var tp))
            {
                ConsumerGroupAssignors.Add(result[member.MemberId], tp.Item1, tp.Item2);
                counts[member.MemberId]++;
                extras--;
            }
        }

        return result;
    }

    private static Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>> AssignHeterogeneous(IReadOnlyList<AssignmentMember> members, IReadOnlyList<AssignmentTopic> topics)
    {
        var result = ConsumerGroupAssignors.EmptyResult(members);
        var sorted = ConsumerGroupAssignors.Sorted(members);
        var counts = sorted.ToDictionary(m => m.MemberId, _ => 0, StringComparer.Ordinal);
        var owners = new Dictionary<(KafkaUuid, int), string>();
        foreach (var member in sorted)
        {
            foreach (var (topic, partitions) in member.CurrentAssignment)
            {
                foreach (var p in partitions)
                {
                    owners.TryAdd((topic, p), member.MemberId);
                }
            }
        }

        // Topics with fewer subscribers first: their partitions have fewer possible homes.
        var ordered = topics
            .Select(t => (Topic: t, Subscribers: sorted.FindAll(m => m.SubscribedTopicIds.Contains(t.Id))))
            .Where(x => x.Subscribers.Count > 0)
            .OrderBy(x => x.Subscribers.Count)
            .ThenBy(x => x.Topic.Name, StringComparer.Ordinal)
            .ToList();
        var unassigned = new List<(AssignmentTopic Topic, int Partition, List<AssignmentMember> Subscribers)>();
        foreach (var (topic, subscribers) in ordered)
        {
            var fairShare = (topic.Partitions + subscribers.Count - 1) / subscribers.Count;
            var perMember = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var p = 0; p < topic.Partitions; p++)
            {
                // A current owner still subscribed keeps the partition while under its fair share of the topic.
                if (owners.TryGetValue((topic.Id, p), out var owner)
                    && subscribers.Exists(m => m.MemberId == owner)
                    && perMember.GetValueOrDefault(owner) < fairShare)
                {
                    perMember[owner] = perMember.GetValueOrDefault(owner) + 1;
                    counts[owner]++;
                    ConsumerGroupAssignors.Add(result[owner], topic.Id, p);
                }
                else
                {
                    unassigned.Add((topic, p, subscribers));
                }
            }
        }

        foreach (var (topic, partition, subscribers) in unassigned)
        {
            var target = LeastLoaded(subscribers, counts);
            counts[target.MemberId]++;
            ConsumerGroupAssignors.Add(result[target.MemberId], topic.Id, partition);
        }

        // Even out: move a partition from a member to a less loaded subscriber while that narrows the gap by two or more.
        var moved = true;
        while (moved)
        {
            moved = false;
            foreach (var (topic, subscribers) in ordered)
            {
                foreach (var from in subscribers)
                {
                    if (!result[from.MemberId].TryGetValue(topic.Id, out var partitions) || partitions.Count == 0)
                    {
                        continue;
                    }

                    var to = LeastLoaded(subscribers, counts);
                    if (counts[from.MemberId] - counts[to.MemberId] < 2)
                    {
                        continue;
                    }

                    var partition = partitions.Max;
                    partitions.Remove(partition);
                    if (partitions.Count == 0)
                    {
                        result[from.MemberId].Remove(topic.Id);
                    }

                    ConsumerGroupAssignors.Add(result[to.MemberId], topic.Id, partition);
                    counts[from.MemberId]--;
                    counts[to.MemberId]++;
                    moved = true;
                }
            }
        }

        return result;
    }

    private static AssignmentMember LeastLoaded(List<AssignmentMember> candidates, Dictionary<string, int> counts)
    {
        var best = candidates[0];
        foreach (var candidate in candidates)
        {
            if (counts[candidate.MemberId] < counts[best.MemberId])
            {
                best = candidate;
            }
        }

        return best;
    }

    /// <summary>The member's current partitions that still exist in a subscribed topic, in topic then partition order.</summary>
    private static List<(KafkaUuid, int)> CurrentValid(AssignmentMember member, Dictionary<KafkaUuid, int> partitionCounts)
    {
        var owned = new List<(KafkaUuid, int)>();
        foreach (var (topic, partitions) in member.CurrentAssignment)
        {
            if (partitionCounts.TryGetValue(topic, out var count))
            {
                foreach (var p in partitions)
                {
                    if (p < count)
                    {
                        owned.Add((topic, p));
                    }
                }
            }
        }

        return owned;
    }
}
