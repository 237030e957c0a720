using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>The server-side assignors: uniform (balanced, sticky) and range (Kafka's algorithm).</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class AssignorTests
{
    private static readonly KafkaUuid T1 = new(1, 1);
    private static readonly KafkaUuid T2 = new(2, 2);
    private static readonly AssignmentTopic Topic1 = new(T1, "t1", 6);
    private static readonly AssignmentTopic Topic2 = new(T2, "t2", 3);

    private static AssignmentMember Member(string id, KafkaUuid[] topics, Dictionary<KafkaUuid, SortedSet<int>>? current = null) =>
        new(id, null, null, topics.ToHashSet(), current ?? []);

    private static Dictionary<KafkaUuid, SortedSet<int>> Owns(KafkaUuid topic, params int[] partitions) => new() { [topic] = [.. partitions] };

    private static int[] Of(Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>> result, string member, KafkaUuid topic) =>
        result[member].TryGetValue(topic, out var set) ? [.. set] : [];

    private static void AssertEveryPartitionOnce(Dictionary<string, Dictionary<KafkaUuid, SortedSet<int>>> result, params AssignmentTopic[] topics)
    {
        var all = result.Values.SelectMany(a => a.SelectMany(t => t.Value.Select(p => (t.Key, p)))).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
        Assert.Equal(topics.Sum(t => t.Partitions), all.Count);
    }

    [Fact]
    public void Uniform_NewHomogeneousGroup_Balanced()
    {
        var result = UniformAssignor.Instance.Assign([Member("a", [T1, T2]), Member("b", [T1, T2])], [Topic1, Topic2]);

        AssertEveryPartitionOnce(result, Topic1, Topic2);
        var counts = result.Values.Select(a => a.Values.Sum(s => s.Count)).Order().ToArray();
        Assert.Equal([4, 5], counts);
    }

    [Fact]
    public void Uniform_MemberJoins_OthersKeepWhatTheyCanAndBalance()
    {
        var current = UniformAssignor.Instance.Assign([Member("a", [T1]), Member("b", [T1])], [Topic1]);

        var next = UniformAssignor.Instance.Assign(
            [Member("a", [T1], current["a"]), Member("b", [T1], current["b"]), Member("c", [T1])], [Topic1]);

        AssertEveryPartitionOnce(next, Topic1);
        Assert.All(next.Values, a => Assert.Equal(2, a.Values.Sum(s => s.Count)));
        Assert.Subset(current["a"][T1], next["a"][T1]);
        Assert.Subset(current["b"][T1], next["b"][T1]);
    }

    [Fact]
    public void Uniform_MemberLeaves_RemainingMembersKeepTheirPartitions()
    {
        var current = UniformAssignor.Instance.Assign([Member("a", [T1]), Member("b", [T1]), Member("c", [T1])], [Topic1]);

        var next = UniformAssignor.Instance.Assign([Member("a", [T1], current["a"]), Member("b", [T1], current["b"])], [Topic1]);

        AssertEveryPartitionOnce(next, Topic1);
        Assert.Superset(current["a"][T1], next["a"][T1]);
        Assert.Superset(current["b"][T1], next["b"][T1]);
        Assert.Equal(3, next["a"][T1].Count);
    }

    [Fact]
    public void Uniform_Heterogeneous_OnlySubscribedTopicsAndBalanced()
    {
        var result = UniformAssignor.Instance.Assign([Member("a", [T1, T2]), Member("b", [T1]), Member("c", [T2])], [Topic1, Topic2]);

        AssertEveryPartitionOnce(result, Topic1, Topic2);
        Assert.Empty(Of(result, "b", T2));
        Assert.Empty(Of(result, "c", T1));
        var counts = result.Values.Select(a => a.Values.Sum(s => s.Count)).ToArray();
        Assert.True(counts.Max() - counts.Min() <= 1, string.Join(",", counts));
    }

    [Fact]
    public void Uniform_Heterogeneous_Sticky()
    {
        var current = UniformAssignor.Instance.Assign([Member("a", [T1, T2]), Member("b", [T1])], [Topic1, Topic2]);

        var again = UniformAssignor.Instance.Assign([Member("a", [T1, T2], current["a"]), Member("b", [T1], current["b"])], [Topic1, Topic2]);

        Assert.Equal(Of(current, "a", T1), Of(again, "a", T1));
        Assert.Equal(Of(current, "a", T2), Of(again, "a", T2));
        Assert.Equal(Of(current, "b", T1), Of(again, "b", T1));
    }

    [Fact]
    public void Range_NewGroup_ContiguousRangesExtraToFirstMembers()
    {
        var result = RangeAssignor.Instance.Assign(
            [Member("c", [T1, T2]), Member("a", [T1, T2]), Member("b", [T1, T2]), Member("d", [T1, T2])], [Topic1, Topic2]);

        // 6 partitions over 4 members: the first two (by member id) get two, in ranges; co-partitioned topics line up.
        Assert.Equal([0, 1], Of(result, "a", T1));
        Assert.Equal([2, 3], Of(result, "b", T1));
        Assert.Equal([4], Of(result, "c", T1));
        Assert.Equal([5], Of(result, "d", T1));
        Assert.Equal([0], Of(result, "a", T2));
        Assert.Equal([1], Of(result, "b", T2));
        Assert.Equal([2], Of(result, "c", T2));
        Assert.Empty(Of(result, "d", T2));
    }

    [Fact]
    public void Range_ExistingAssignment_RetainsUpToQuotaAsKafka()
    {
        // Kafka keeps the lowest min-quota partitions of each member, plus one extra while extras remain.
        var result = RangeAssignor.Instance.Assign(
            [Member("a", [T1], Owns(T1, 0, 1, 2)), Member("b", [T1], Owns(T1, 3, 4, 5)), Member("c", [T1])], [Topic1]);

        Assert.Equal([0, 1], Of(result, "a", T1));
        Assert.Equal([3, 4], Of(result, "b", T1));
        Assert.Equal([2, 5], Of(result, "c", T1));
    }

    [Fact]
    public void Range_Heterogeneous_OnlySubscribers()
    {
        var result = RangeAssignor.Instance.Assign([Member("a", [T1]), Member("b", [T1, T2])], [Topic1, Topic2]);

        Assert.Equal([0, 1, 2], Of(result, "a", T1));
        Assert.Equal([3, 4, 5], Of(result, "b", T1));
        Assert.Equal([0, 1, 2], Of(result, "b", T2));
        Assert.Empty(Of(result, "a", T2));
    }

    [Fact]
    public void ByName_KafkaNamesAndClassNames_Resolve()
    {
        Assert.Same(UniformAssignor.Instance, ConsumerGroupAssignors.ByName("uniform"));
        Assert.Same(RangeAssignor.Instance, ConsumerGroupAssignors.ByName("org.apache.kafka.coordinator.group.assignor.RangeAssignor"));
        Assert.Null(ConsumerGroupAssignors.ByName("sticky"));
    }
}
