using System.Globalization;
using System.Text.Json;

namespace KafkaCompatBroker.CompatTests;

/// <summary>
/// Consumer groups (classic protocol) driven by real clients. Each driver's <c>group</c> command runs three members
/// of one group in one process on a six-partition topic: once the group is balanced it produces half the records,
/// waits until they are consumed, closes member 3, waits until the other two own every partition, produces the rest
/// and consumes it. Every record is committed before the next is processed, so the test can require exactly-once
/// consumption overall. <c>consume-group</c> reads up to N records and commits them; <c>group-admin</c> runs the
/// client's admin group operations and reports each answer.
/// </summary>
public abstract class GroupCompatTests(CompatBroker broker)
{
    /// <summary>Records per sharing test: 500 per partition.</summary>
    protected const int GroupRecords = 3000;

    /// <summary>The drivers' session.timeout.ms (6 s, the broker's minimum) plus their rebalance timeout (10 s).</summary>
    protected static readonly TimeSpan MoveLimit = TimeSpan.FromSeconds(16);

    private const int ResumeRecords = 3000;
    private const int ResumePartitions = 3;

    protected CompatBroker Broker { get; } = broker;

    protected abstract string Name { get; }

    protected abstract Task<ProcessResult> RunAsync(params string[] args);

    protected static string Str(long value) => value.ToString(CultureInfo.InvariantCulture);

    protected string Unique(string what) => $"compat-{Name}-{what}-{Guid.NewGuid().ToString("N")[..8]}";

    protected static long BaseTimestamp() => DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();

    private static List<int[]> Assignments(JsonElement value) =>
        [.. value.EnumerateArray().Select(m => m.EnumerateArray().Select(p => p.GetInt32()).ToArray())];

    /// <summary>Each member owns at least one partition, no partition twice, every partition of the topic.</summary>
    private static void AssertPartitioned(JsonElement value, int members, string what)
    {
        var assignments = Assignments(value);
        Assert.True(assignments.Count == members && assignments.All(a => a.Length > 0), $"{what}: {value}");
        Assert.True(assignments.SelectMany(a => a).Order().SequenceEqual(Enumerable.Range(0, 6)), $"{what}: partitions not shared exactly once: {value}");
    }

    /// <summary>Runs the driver's group command and checks sharing, hand-over and exactly-once consumption.</summary>
    protected async Task<JsonElement> ShareAsync(string mode)
    {
        var baseTs = BaseTimestamp();
        var r = (await RunAsync("group", Broker.Bootstrap, Unique("share"), Unique("group"), mode, Str(GroupRecords), Str(baseTs))).Json(Broker);
        var context = $"{Name} {mode}: {r}\n{Broker.Problems}";

        Assert.True(r.GetProperty("balanced").GetBoolean(), "three members never shared the six partitions: " + context);
        AssertPartitioned(r.GetProperty("initial"), 3, "initial assignment");
        Assert.True(r.GetProperty("first_half_consumed").GetBoolean(), "first half not consumed: " + context);
        Assert.True(r.GetProperty("moved").GetBoolean(), "the leaving member's partitions did not move: " + context);
        Assert.True(r.GetProperty("moved_ms").GetInt64() < MoveLimit.TotalMilliseconds, $"partitions moved after {r.GetProperty("moved_ms")} ms: " + context);
        AssertPartitioned(r.GetProperty("after"), 2, "assignment after the leave");
        Assert.True(r.GetProperty("count").GetInt32() == GroupRecords && r.GetProperty("duplicates").GetInt32() == 0, "not every record exactly once: " + context);
        Assert.Equal(Clients.ExpectedChecksum("none", GroupRecords, baseTs), r.GetProperty("checksum").GetString());
        Assert.True(r.GetProperty("committed").GetInt64() == GroupRecords, "committed offsets do not add up to every record: " + context);
        return r;
    }

    /// <summary>
    /// One consumer reads half the records and commits, stops; a new consumer of the group reads the rest,
    /// starting on every partition exactly at the committed offset. With <paramref name="restart"/> the broker
    /// restarts in between, so the committed offsets must survive it.
    /// </summary>
    protected async Task ResumeAsync(bool restart)
    {
        var (topic, group, baseTs) = (Unique("resume"), Unique("group"), BaseTimestamp());
        var produced = (await RunAsync("produce-spread", Broker.Bootstrap, topic, Str(ResumePartitions), Str(ResumeRecords), Str(baseTs))).Json(Broker);
        Assert.Equal(ResumeRecords, produced.GetProperty("count").GetInt32());

        var first = (await RunAsync("consume-group", Broker.Bootstrap, topic, group, Str(ResumeRecords / 2))).Json(Broker);
        if (restart)
        {
            await Broker.RestartAsync();
        }

        var second = (await RunAsync("consume-group", Broker.Bootstrap, topic, group, Str(ResumeRecords / 2))).Json(Broker);

        var context = $"{Name}: first consumer {first}, second consumer {second}\n{Broker.Problems}";
        var committed = Offsets(first.GetProperty("committed"));
        var resumedAt = Offsets(second.GetProperty("first"));
        Assert.True(first.GetProperty("count").GetInt32() == ResumeRecords / 2, "first consumer: " + context);
        Assert.True(committed.Values.Any(o => o is > 0 and < ResumeRecords / ResumePartitions), "the first consumer should stop inside a partition: " + context);
        foreach (var (partition, offset) in resumedAt)
        {
            Assert.True(offset == committed.GetValueOrDefault(partition), $"partition {partition} resumed at {offset}, committed {committed.GetValueOrDefault(partition)}: " + context);
        }

        Assert.True(second.GetProperty("count").GetInt32() == ResumeRecords / 2 && second.GetProperty("duplicates").GetInt32() == 0, "second consumer: " + context);
        var sum = unchecked(ulong.Parse(first.GetProperty("checksum").GetString()!, NumberStyles.HexNumber, CultureInfo.InvariantCulture)
            + ulong.Parse(second.GetProperty("checksum").GetString()!, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
        Assert.True(Clients.ExpectedChecksum("none", ResumeRecords, baseTs) == sum.ToString("x16", CultureInfo.InvariantCulture), "the two consumers did not read every record exactly once: " + context);
    }

    private static Dictionary<int, long> Offsets(JsonElement value) =>
        value.EnumerateObject().ToDictionary(p => int.Parse(p.Name, CultureInfo.InvariantCulture), p => p.Value.GetInt64());

    /// <summary>Runs the driver's group-admin command on a fresh topic (two partitions, ten records) and group.</summary>
    protected async Task<(JsonElement Steps, string Topic, string Context)> AdminAsync()
    {
        var (topic, group) = (Unique("admin"), Unique("group"));
        var steps = (await RunAsync("group-admin", Broker.Bootstrap, topic, group)).Json(Broker);
        var context = $"{Name} group-admin: {steps}\n{Broker.Problems}";
        Assert.True(steps.GetProperty("member_balanced").GetBoolean() && steps.GetProperty("member_consumed").GetBoolean(), "the member never consumed: " + context);
        return (steps, topic, context);
    }

    /// <summary>The live member as DescribeGroups shows it: one member, Stable, consumer protocol, both partitions.</summary>
    protected static void AssertDescribedActive(JsonElement described, string topic, string protocol, string clientId, string context)
    {
        Assert.True(described.GetProperty("state").GetString() == "Stable", "state: " + context);
        Assert.True(described.GetProperty("protocol").GetString() == protocol, "protocol: " + context);
        var member = Assert.Single(described.GetProperty("members").EnumerateArray());
        Assert.True(member.GetProperty("is_member").GetBoolean(), "member id: " + context);
        Assert.True(member.GetProperty("client_id").GetString() == clientId, "client id: " + context);
        Assert.False(string.IsNullOrEmpty(member.GetProperty("host").GetString()), "host: " + context);
        Assert.True(member.GetProperty("assignment").EnumerateArray().Select(p => p.GetString()).SequenceEqual([$"{topic}:0", $"{topic}:1"]), "assignment: " + context);
    }

    protected static void AssertDescribedEmpty(JsonElement described, string context)
    {
        Assert.True(described.GetProperty("state").GetString() == "Empty", "state after the member left: " + context);
        Assert.Empty(described.GetProperty("members").EnumerateArray());
    }

    protected static Dictionary<string, long> OffsetMap(JsonElement value) =>
        value.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64());
}

/// <summary>Confluent.Kafka 2.15.1 (librdkafka 2.15.1): eager range, cooperative-sticky, static membership; AdminClient.</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class ConfluentDotnetGroupTests(CompatBroker broker) : GroupCompatTests(broker), IClassFixture<CompatBroker>
{
    protected override string Name => "confluent-dotnet";

    protected override Task<ProcessResult> RunAsync(params string[] args) => Clients.ConfluentAsync(args);

    [Theory]
    [InlineData("range")]
    [InlineData("cooperative-sticky")]
    public Task Group_ThreeMembersOneLeaves_PartitionsMoveEveryRecordOnce(string assignor) => ShareAsync(assignor);

    /// <summary>
    /// group.instance.id on every member: the group's leader restarts within session.timeout.ms and gets its partitions
    /// back without a rebalance (no callbacks on the others, generation unchanged; librdkafka sends JoinGroup v5, so the
    /// coordinator must answer it as a follower); then member 3 closes for good, which for a static member sends no
    /// LeaveGroup, so its partitions move when its session times out.
    /// </summary>
    [Fact]
    public async Task Group_StaticMemberRestarts_KeepsPartitionsWithoutRebalance()
    {
        var r = await ShareAsync("static");

        var restart = r.GetProperty("restart");
        var context = $"{r}\n{Broker.Problems}";
        Assert.True(restart.GetProperty("balanced").GetBoolean(), "the restarted static member got no partitions: " + context);
        Assert.True(restart.GetProperty("same_partitions").GetBoolean(), "the restarted static member got other partitions: " + context);
        Assert.False(restart.GetProperty("others_rebalanced").GetBoolean(), "the other members rebalanced: " + context);
        var before = r.GetProperty("initial_generations").EnumerateArray().Select(g => g.GetInt32()).ToList();
        var after = restart.GetProperty("generations").EnumerateArray().Select(g => g.GetInt32()).ToList();
        Assert.True(before.Distinct().Count() == 1 && after.SequenceEqual(before), "generation changed: " + context);
    }

    [Fact]
    public Task Group_ConsumerStopsNewConsumer_ResumesAfterLastCommit() => ResumeAsync(restart: false);

    /// <summary>Needs committed offsets persisted in __consumer_offsets.</summary>
    [InProcessFact]
    public Task Group_BrokerRestartsBetweenConsumers_ResumesAfterLastCommit() => ResumeAsync(restart: true);

    [Fact]
    public async Task AdminClient_GroupOperations_AnswerAsKafka()
    {
        var (s, topic, context) = await AdminAsync();

        Assert.True(s.GetProperty("listed_active").GetString() == "Stable", "ListConsumerGroups: " + context);
        AssertDescribedActive(s.GetProperty("described_active"), topic, "range", "compat-confluent-dotnet", context);
        Assert.True(s.GetProperty("delete_offsets_active").GetString() == "GroupSubscribedToTopic", "DeleteConsumerGroupOffsets of a subscribed topic: " + context);
        Assert.True(s.GetProperty("delete_group_active").GetString() == "NonEmptyGroup", "DeleteConsumerGroups of a live group: " + context);
        AssertDescribedEmpty(s.GetProperty("described_empty"), context);
        Assert.Equal(new Dictionary<string, long> { [$"{topic}:0"] = 5, [$"{topic}:1"] = 5 }, OffsetMap(s.GetProperty("offsets")));
        Assert.Equal(new Dictionary<string, long> { [$"{topic}:0"] = 2, [$"{topic}:1"] = 5 }, OffsetMap(s.GetProperty("offsets_altered")));
        Assert.True(s.GetProperty("delete_offsets").GetString() == "NoError", "DeleteConsumerGroupOffsets: " + context);
        var remaining = OffsetMap(s.GetProperty("offsets_after_delete"));
        Assert.True(remaining.GetValueOrDefault($"{topic}:0") == 2 && remaining.GetValueOrDefault($"{topic}:1", -1001) < 0, "offsets after DeleteConsumerGroupOffsets: " + context);
        Assert.True(s.GetProperty("delete_group").GetString() == "NoError", "DeleteConsumerGroups: " + context);
        Assert.True(s.GetProperty("listed_deleted").ValueKind == JsonValueKind.Null, "a deleted group is still listed: " + context);
        var deleted = s.GetProperty("described_deleted");
        Assert.True(deleted.GetProperty("state").GetString() == "Dead" || deleted.GetProperty("error").GetString() == "GroupIdNotFound", "DescribeConsumerGroups of a deleted group: " + context);
    }
}

/// <summary>kafka-python 2.0.2: range and roundrobin assignors; KafkaAdminClient (it has no alter/delete of offsets).</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class KafkaPythonGroupTests(CompatBroker broker) : GroupCompatTests(broker), IClassFixture<CompatBroker>
{
    protected override string Name => "kafka-python";

    protected override Task<ProcessResult> RunAsync(params string[] args) => Clients.KafkaPythonAsync(args);

    [Theory]
    [InlineData("range")]
    [InlineData("roundrobin")]
    public Task Group_ThreeMembersOneLeaves_PartitionsMoveEveryRecordOnce(string assignor) => ShareAsync(assignor);

    [Fact]
    public Task Group_ConsumerStopsNewConsumer_ResumesAfterLastCommit() => ResumeAsync(restart: false);

    /// <summary>Needs committed offsets persisted in __consumer_offsets.</summary>
    [InProcessFact]
    public Task Group_BrokerRestartsBetweenConsumers_ResumesAfterLastCommit() => ResumeAsync(restart: true);

    [Fact]
    public async Task KafkaAdminClient_GroupOperations_AnswerAsKafka()
    {
        var (s, topic, context) = await AdminAsync();

        Assert.True(s.GetProperty("listed_active").EnumerateArray().Select(t => t.GetString()).SequenceEqual(["consumer"]), "list_consumer_groups: " + context);
        var active = s.GetProperty("described_active");
        Assert.True(active.GetProperty("protocol_type").GetString() == "consumer", "protocol type: " + context);
        AssertDescribedActive(active, topic, "range", "compat-kafka-python", context);
        Assert.True(s.GetProperty("delete_group_active").EnumerateArray().Select(t => t.GetString()).SequenceEqual(["NonEmptyGroupError"]), "delete_consumer_groups of a live group: " + context);
        AssertDescribedEmpty(s.GetProperty("described_empty"), context);
        Assert.Equal(new Dictionary<string, long> { [$"{topic}:0"] = 5, [$"{topic}:1"] = 5 }, OffsetMap(s.GetProperty("offsets")));
        Assert.True(s.GetProperty("delete_group").EnumerateArray().Select(t => t.GetString()).SequenceEqual(["NoError"]), "delete_consumer_groups: " + context);
        Assert.True(s.GetProperty("listed_deleted").GetArrayLength() == 0, "a deleted group is still listed: " + context);
        Assert.True(s.GetProperty("described_deleted").GetProperty("state").GetString() == "Dead", "describe of a deleted group: " + context);
        Assert.Empty(OffsetMap(s.GetProperty("offsets_deleted")));
    }
}

/// <summary>kafkajs 2.2.4: roundrobin (its only assignor); admin listGroups, describeGroups, fetch/set/resetOffsets, deleteGroups.</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class KafkajsGroupTests(CompatBroker broker) : GroupCompatTests(broker), IClassFixture<CompatBroker>
{
    protected override string Name => "kafkajs";

    protected override Task<ProcessResult> RunAsync(params string[] args) => Clients.KafkajsAsync(args);

    [Fact]
    public Task Group_ThreeMembersOneLeaves_PartitionsMoveEveryRecordOnce() => ShareAsync("roundrobin");

    [Fact]
    public Task Group_ConsumerStopsNewConsumer_ResumesAfterLastCommit() => ResumeAsync(restart: false);

    /// <summary>Needs committed offsets persisted in __consumer_offsets.</summary>
    [InProcessFact]
    public Task Group_BrokerRestartsBetweenConsumers_ResumesAfterLastCommit() => ResumeAsync(restart: true);

    [Fact]
    public async Task Admin_GroupOperations_AnswerAsKafka()
    {
        var (s, topic, context) = await AdminAsync();

        Assert.True(s.GetProperty("listed_active").EnumerateArray().Select(t => t.GetString()).SequenceEqual(["consumer"]), "listGroups: " + context);
        var active = s.GetProperty("described_active");
        Assert.True(active.GetProperty("protocol_type").GetString() == "consumer", "protocol type: " + context);
        AssertDescribedActive(active, topic, "RoundRobinAssigner", "compat-kafkajs", context);
        Assert.Contains("no running instances", s.GetProperty("set_offsets_active").GetString(), StringComparison.Ordinal);
        Assert.True(s.GetProperty("delete_group_active").GetString() == "NON_EMPTY_GROUP", "deleteGroups of a live group: " + context);
        AssertDescribedEmpty(s.GetProperty("described_empty"), context);
        Assert.Equal(new Dictionary<string, long> { [$"{topic}:0"] = 5, [$"{topic}:1"] = 5 }, OffsetMap(s.GetProperty("offsets")));
        Assert.Equal(new Dictionary<string, long> { [$"{topic}:0"] = 2, [$"{topic}:1"] = 5 }, OffsetMap(s.GetProperty("offsets_altered")));
        // resetOffsets commits the sentinel -2 (earliest), which Kafka stores as given; fetchOffsets(resolveOffsets)
        // turns it into the log start offset and commits that.
        Assert.Equal(new Dictionary<string, long> { [$"{topic}:0"] = -2, [$"{topic}:1"] = -2 }, OffsetMap(s.GetProperty("offsets_reset")));
        Assert.Equal(new Dictionary<string, long> { [$"{topic}:0"] = 0, [$"{topic}:1"] = 0 }, OffsetMap(s.GetProperty("offsets_reset_resolved")));
        Assert.True(s.GetProperty("delete_group").GetString() == "NONE", "deleteGroups: " + context);
        Assert.True(s.GetProperty("listed_deleted").GetArrayLength() == 0, "a deleted group is still listed: " + context);
        Assert.True(s.GetProperty("described_deleted").GetProperty("state").GetString() == "Dead", "describeGroups of a deleted group: " + context);
        Assert.Equal(new Dictionary<string, long> { [$"{topic}:0"] = -1, [$"{topic}:1"] = -1 }, OffsetMap(s.GetProperty("offsets_deleted")));
        Assert.True(s.GetProperty("delete_group_again").GetString() == "GROUP_ID_NOT_FOUND", "deleteGroups of a deleted group: " + context);
    }
}
