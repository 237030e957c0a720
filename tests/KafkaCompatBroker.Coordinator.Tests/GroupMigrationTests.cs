using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>KIP-848 online migration between classic and consumer groups (Kafka's GroupMetadataManager) on a fake clock.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class GroupMigrationTests : IDisposable
{
    private const short GroupMetadata = 2, Epoch = 3, Member = 5, TargetEpoch = 6, Target = 7, Current = 8;
    private static readonly KafkaUuid Orders = new(1, 1);
    private readonly ManualTimeProvider _time = new();
    private readonly FakeTopics _topics = new();
    private readonly RecordingLog _log = new();
    private readonly List<GroupCoordinator> _coordinators = [];
    private GroupCoordinator _coordinator;

    public GroupMigrationTests()
    {
        _topics.Set("orders", Orders, 6);
        _coordinator = Create(ConsumerGroupMigrationPolicy.Bidirectional, _log);
    }

    public void Dispose() => _coordinators.ForEach(c => c.Dispose());

    private GroupCoordinator Create(ConsumerGroupMigrationPolicy policy, RecordingLog log)
    {
        var coordinator = new GroupCoordinator(
            new GroupCoordinatorConfig { InitialRebalanceDelayMs = 0, ConsumerMigrationPolicy = policy }, l => new PersistentOffsetStore(l!), _time, NullLogger<GroupCoordinator>.Instance, log)
        {
            TopicView = _topics,
        };
        _coordinators.Add(coordinator);
        return coordinator;
    }

    /// <summary>A new coordinator that loaded every record written so far, as the broker loads __consumer_offsets.</summary>
    private GroupCoordinator Restart()
    {
        var restarted = Create(ConsumerGroupMigrationPolicy.Bidirectional, new RecordingLog());
        var groups = new Dictionary<string, byte[]?>();
        foreach (var record in _log.Records)
        {
            var key = GroupRecords.ReadKey(record.Key);
            if (key.Type == GroupMetadata)
            {
                groups[key.GroupId] = record.Value;
            }
            else if (key.Type is >= 3 and <= 8)
            {
                restarted.ReplayConsumerGroupRecord(record.Key, record.Value);
            }
        }

        foreach (var (groupId, value) in groups)
        {
            restarted.RestoreGroup(groupId, value is null ? null : GroupRecords.ReadGroupMetadataValue(value));
        }

        restarted.OnConsumerGroupsLoaded();
        return restarted;
    }

    private static byte[] Subscription(params int[] owned)
    {
        var subscription = new ConsumerProtocolSubscription { Topics = ["orders"] };
        if (owned.Length > 0)
        {
            subscription.OwnedPartitions.Add(new ConsumerProtocolSubscription.TopicPartition { Topic = "orders", Partitions = [.. owned] });
        }

        return GroupRecords.Versioned(subscription, 1);
    }

    private static byte[] Assignment(params int[] partitions) =>
        GroupRecords.Versioned(new ConsumerProtocolAssignment { AssignedPartitions = [new ConsumerProtocolAssignment.TopicPartition { Topic = "orders", Partitions = [.. partitions] }] }, 1);

    private static int[] Partitions(byte[] assignment)
    {
        var parsed = GroupRecords.Read<ConsumerProtocolAssignment>(assignment);
        return [.. parsed.AssignedPartitions.SelectMany(t => t.Partitions).Order()];
    }

    private static JoinGroupParams ClassicJoin(string memberId, int[]? owned = null, string? instanceId = null) => new()
    {
        GroupId = "g",
        MemberId = memberId,
        GroupInstanceId = instanceId,
        ClientId = "classic",
        SessionTimeoutMs = 10_000,
        RebalanceTimeoutMs = 30_000,
        ProtocolType = "consumer",
        Protocols = [new GroupProtocol("range", Subscription(owned ?? []))],
    };

    private ConsumerGroupHeartbeatResult ConsumerJoin(string memberId) =>
        _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = "g",
            MemberId = memberId,
            MemberEpoch = 0,
            RebalanceTimeoutMs = 30_000,
            SubscribedTopicNames = ["orders"],
            TopicPartitions = [],
            ClientId = "consumer",
        });

    private ConsumerGroupHeartbeatResult ConsumerBeat(string memberId, int epoch, IReadOnlyDictionary<KafkaUuid, SortedSet<int>>? owned) =>
        _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = "g",
            MemberId = memberId,
            MemberEpoch = epoch,
            TopicPartitions = owned is null ? null : [.. owned.Select(o => new OwnedTopicPartitions(o.Key, [.. o.Value]))],
        });

    /// <summary>Classic members c1 (partitions 0-2, the leader) and c2 (3-5) in a Stable generation 1.</summary>
    private async Task<(string C1, string C2)> StableClassicGroupAsync()
    {
        var a = _coordinator.JoinGroupAsync(ClassicJoin("")).AsTask();
        var b = _coordinator.JoinGroupAsync(ClassicJoin("")).AsTask();
        _time.Advance(0);
        var (c1, c2) = (await a, await b);
        Assert.Equal((1, c1.MemberId), (c1.GenerationId, c1.Leader));
        var follower = _coordinator.SyncGroupAsync("g", 1, c2.MemberId, null, "consumer", "range", []).AsTask();
        await _coordinator.SyncGroupAsync("g", 1, c1.MemberId, null, "consumer", "range", [new(c1.MemberId, Assignment(0, 1, 2)), new(c2.MemberId, Assignment(3, 4, 5))]);
        await follower;
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
        return (c1.MemberId, c2.MemberId);
    }

    /// <summary>A classic member's rejoin (eager: it revoked everything) and sync; returns its generation and partitions.</summary>
    private async Task<(int Generation, int[] Partitions)> ClassicRejoinAsync(string memberId)
    {
        var join = await _coordinator.JoinGroupAsync(ClassicJoin(memberId));
        Assert.Equal((ErrorCode.None, memberId, "range"), (join.Error, join.MemberId, join.ProtocolName));
        var sync = await _coordinator.SyncGroupAsync("g", join.GenerationId, memberId, null, "consumer", "range", []);
        Assert.Equal(ErrorCode.None, sync.Error);
        return (join.GenerationId, Partitions(sync.Assignment));
    }

    /// <summary>
    /// Upgrades the group with consumer member "k" and drives everyone until each of the three owns its target:
    /// the classic members rejoin whenever their heartbeat says so. Returns each member's partitions.
    /// </summary>
    private async Task<Dictionary<string, int[]>> UpgradeAndSettleAsync(string c1, string c2)
    {
        var k = ConsumerJoin("k");
        Assert.Equal(ErrorCode.None, k.Error);
        var epoch = k.MemberEpoch;
        var owned = k.Assignment!.ToDictionary(e => e.Key, e => new SortedSet<int>(e.Value));
        var classic = new Dictionary<string, (int Generation, int[] Partitions)> { [c1] = (1, [0, 1, 2]), [c2] = (1, [3, 4, 5]) };
        for (var round = 0; round < 10; round++)
        {
            foreach (var id in classic.Keys.ToList())
            {
                var beat = _coordinator.Heartbeat("g", classic[id].Generation, id, null);
                if (beat == ErrorCode.RebalanceInProgress)
                {
                    classic[id] = await ClassicRejoinAsync(id);
                }
                else
                {
                    Assert.Equal(ErrorCode.None, beat);
                }
            }

            var r = ConsumerBeat("k", epoch, owned);
            Assert.Equal(ErrorCode.None, r.Error);
            epoch = r.MemberEpoch;
            if (r.Assignment is { } assignment)
            {
                owned = assignment.ToDictionary(e => e.Key, e => new SortedSet<int>(e.Value));
            }
        }

        Assert.Equal(ConsumerGroupState.Stable, _coordinator.ConsumerGroupStateOf("g"));
        var result = classic.ToDictionary(e => e.Key, e => e.Value.Partitions);
        result["k"] = [.. owned.GetValueOrDefault(Orders) ?? []];
        return result;
    }

    private static (short Type, string Member, bool Tombstone) Describe(GroupRecord record)
    {
        var type = GroupRecords.ReadKey(record.Key).Type;
        return type == GroupMetadata ? (type, "", record.Value is null) : (type, ConsumerGroupRecords.ReadKey(record.Key).MemberId, record.Value is null);
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_ClassicGroupWithMembers_UpgradedKeepingGenerationAndAssignments()
    {
        var (c1, c2) = await StableClassicGroupAsync();
        var before = _log.Appends.Count;

        var k = ConsumerJoin("k");

        Assert.Equal((ErrorCode.None, 2), (k.Error, k.MemberEpoch)); // the group epoch was the generation (1), bumped by k
        Assert.Null(_coordinator.GroupState("g"));
        Assert.NotNull(_coordinator.ConsumerGroupStateOf("g"));
        Assert.Empty(k.Assignment!.GetValueOrDefault(Orders) ?? []); // every partition is still owned by a classic member

        // One batch: the classic group's tombstone, then the consumer group's records (Kafka's convertToConsumerGroup).
        var batch = Assert.Single(_log.Appends.Skip(before));
        Assert.Equal((GroupMetadata, "", true), Describe(batch[0]));
        var described = batch.Skip(1).Select(Describe).ToList();
        Assert.All(described, d => Assert.False(d.Tombstone));
        var members = new[] { c1, c2, "k" }.Order(StringComparer.Ordinal);
        Assert.Equal(members, described.Where(d => d.Type == Member).Select(d => d.Member).Order(StringComparer.Ordinal));
        Assert.Contains((Epoch, "", false), described);
        Assert.Contains((TargetEpoch, "", false), described);
        Assert.Equal(members, described.Where(d => d.Type == Target).Select(d => d.Member).Order(StringComparer.Ordinal));
        Assert.Equal(members, described.Where(d => d.Type == Current).Select(d => d.Member).Order(StringComparer.Ordinal));
        var c1Metadata = ConsumerGroupRecords.ReadMemberMetadata(batch.First(r => Describe(r) == (Member, c1, false)).Value);
        Assert.Equal(10_000, c1Metadata.ClassicMemberMetadata!.SessionTimeoutMs);
        Assert.Equal("range", Assert.Single(c1Metadata.ClassicMemberMetadata.SupportedProtocols).Name);
        Assert.Null(ConsumerGroupRecords.ReadMemberMetadata(batch.First(r => Describe(r) == (Member, "k", false)).Value).ClassicMemberMetadata);
        var c1Current = ConsumerGroupRecords.ReadCurrentAssignment(batch.First(r => Describe(r) == (Current, c1, false)).Value);
        Assert.Equal(1, c1Current.MemberEpoch);
        Assert.Equal([0, 1, 2], c1Current.AssignedPartitions.Single().Partitions);

        // The classic members learn of the new rebalance on their next heartbeat.
        Assert.Equal(ErrorCode.RebalanceInProgress, _coordinator.Heartbeat("g", 1, c1, null));
        Assert.Equal(ErrorCode.IllegalGeneration, _coordinator.Heartbeat("g", 7, c1, null));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.Heartbeat("g", 1, "k", null)); // k does not use the classic protocol
    }

    [Fact]
    public async Task Migration_ClassicAndConsumerMembers_EachPartitionOwnedOnce()
    {
        var (c1, c2) = await StableClassicGroupAsync();

        var owned = await UpgradeAndSettleAsync(c1, c2);

        Assert.All(owned.Values, p => Assert.NotEmpty(p));
        Assert.Equal([0, 1, 2, 3, 4, 5], owned.Values.SelectMany(p => p).Order());
    }

    [Fact]
    public async Task JoinGroup_NewClassicMemberOfConsumerGroup_MemberIdRequiredThenAnsweredAtOnce()
    {
        var (c1, c2) = await StableClassicGroupAsync();
        await UpgradeAndSettleAsync(c1, c2);

        var first = await _coordinator.JoinGroupAsync(ClassicJoin("") with { RequireKnownMemberId = true });
        Assert.Equal(ErrorCode.MemberIdRequired, first.Error);
        var second = _coordinator.JoinGroupAsync(ClassicJoin(first.MemberId));

        Assert.True(second.IsCompleted); // no join phase to wait for in a consumer group
        var joined = await second;
        Assert.Equal((ErrorCode.None, first.MemberId, "consumer", ""), (joined.Error, joined.MemberId, joined.ProtocolType, joined.Leader));
        Assert.Empty(joined.AllMembers);
        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await _coordinator.JoinGroupAsync(ClassicJoin("") with { ProtocolType = "connect" })).Error);
        Assert.Equal(ErrorCode.IllegalGeneration, (await _coordinator.SyncGroupAsync("g", joined.GenerationId + 5, first.MemberId, null, null, null, [])).Error);
    }

    [Fact]
    public async Task Heartbeat_ClassicMemberToldToRejoinNeverDoes_FencedAfterRebalanceTimeout()
    {
        var (c1, c2) = await StableClassicGroupAsync();
        await UpgradeAndSettleAsync(c1, c2);
        var generation = _coordinator.DescribeConsumerGroups(["g"])[0].Members!.Single(m => m.MemberId == c1).MemberEpoch;
        Assert.Equal(ErrorCode.None, ConsumerJoin("k2").Error); // a new member: the group epoch moves on

        // c1 keeps its session alive but does not rejoin: its 30 s rebalance timeout is not pushed back by heartbeats.
        for (var elapsed = 0; elapsed < 27_000; elapsed += 3000)
        {
            Assert.Equal(ErrorCode.RebalanceInProgress, _coordinator.Heartbeat("g", generation, c1, null));
            _time.Advance(3000);
        }

        Assert.Equal(ErrorCode.RebalanceInProgress, _coordinator.Heartbeat("g", generation, c1, null));
        _time.Advance(3000);
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.Heartbeat("g", generation, c1, null));
    }

    [Fact]
    public async Task JoinGroup_ClassicMemberJoinsNeverSyncs_FencedAfterRebalanceTimeout()
    {
        var (c1, c2) = await StableClassicGroupAsync();
        await UpgradeAndSettleAsync(c1, c2);

        var join = await _coordinator.JoinGroupAsync(ClassicJoin(c1));
        for (var elapsed = 0; elapsed < 27_000; elapsed += 3000)
        {
            _time.Advance(3000);
            Assert.NotEqual(ErrorCode.UnknownMemberId, _coordinator.Heartbeat("g", join.GenerationId, c1, null));
        }

        _time.Advance(3000);
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.Heartbeat("g", join.GenerationId, c1, null));
    }

    [Fact]
    public async Task JoinGroup_ClassicStaticMemberReplacesLastConsumerMember_DowngradedWithoutRebalance()
    {
        var (c1, c2) = await StableClassicGroupAsync();
        var k = _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = "g",
            MemberId = "k",
            MemberEpoch = 0,
            InstanceId = "instance-k",
            RebalanceTimeoutMs = 30_000,
            SubscribedTopicNames = ["orders"],
            TopicPartitions = [],
        });
        Assert.Equal(ErrorCode.None, k.Error);
        Assert.Equal(ErrorCode.None, _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = "g", MemberId = "k", MemberEpoch = -2, InstanceId = "instance-k" }).Error);

        // The instance restarts with the classic protocol (a rolling downgrade of static members).
        var joined = await _coordinator.JoinGroupAsync(ClassicJoin("", instanceId: "instance-k"));

        Assert.Equal(ErrorCode.None, joined.Error);
        Assert.Null(_coordinator.ConsumerGroupStateOf("g"));
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
        Assert.Equal(new[] { c1, c2, joined.MemberId }.Order(StringComparer.Ordinal), _coordinator.Describe("g")!.Value.MemberIds.Order(StringComparer.Ordinal));
        Assert.Equal((GroupMetadata, "", false), Describe(_log.Appends[^1][^1]));
    }

    [Fact]
    public async Task LeaveGroup_ClassicMemberOfConsumerGroup_RemovedGroupStaysConsumer()
    {
        var (c1, c2) = await StableClassicGroupAsync();
        await UpgradeAndSettleAsync(c1, c2);

        var left = _coordinator.LeaveGroup("g", [new LeavingMember(c1, null), new LeavingMember("nobody", null)]);

        Assert.Equal([ErrorCode.None, ErrorCode.UnknownMemberId], left.Members.Select(m => m.Error));
        Assert.Equal([c2, "k"], _coordinator.DescribeConsumerGroups(["g"])[0].Members!.Select(m => m.MemberId).Order(StringComparer.Ordinal));
        Assert.Null(_coordinator.GroupState("g"));
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_LastConsumerMemberLeaves_DowngradedToClassicAndRebalances()
    {
        var (c1, c2) = await StableClassicGroupAsync();
        var owned = await UpgradeAndSettleAsync(c1, c2);
        var epoch = _coordinator.DescribeConsumerGroups(["g"])[0].GroupEpoch;
        var before = _log.Appends.Count;

        var left = ConsumerBeat("k", -1, null);

        Assert.Equal(ErrorCode.None, left.Error);
        Assert.Null(_coordinator.ConsumerGroupStateOf("g"));
        Assert.Equal(ClassicGroupState.PreparingRebalance, _coordinator.GroupState("g"));
        var description = _coordinator.Describe("g")!.Value;
        Assert.Equal((epoch, "range"), (description.GenerationId, description.ProtocolName));
        Assert.Equal(new[] { c1, c2 }.Order(StringComparer.Ordinal), description.MemberIds.Order(StringComparer.Ordinal));

        // One batch: the consumer group's tombstones, then the classic group's metadata (Kafka's convertToClassicGroup).
        var batch = Assert.Single(_log.Appends.Skip(before));
        Assert.All(batch.Take(batch.Count - 1), r => Assert.Null(r.Value));
        Assert.Equal((GroupMetadata, "", false), Describe(batch[^1]));
        var stored = GroupRecords.ReadGroupMetadataValue(batch[^1].Value);
        Assert.Equal((epoch, "range", "consumer"), (stored.generation, stored.protocol, stored.protocolType));
        Assert.Equal(owned[c1], Partitions(stored.members.Single(m => m.memberId == c1).assignment));

        // The classic members rejoin the classic rebalance.
        var j1 = _coordinator.JoinGroupAsync(ClassicJoin(c1)).AsTask();
        var j2 = _coordinator.JoinGroupAsync(ClassicJoin(c2)).AsTask();
        var (r1, r2) = (await j1, await j2);
        Assert.Equal((epoch + 1, epoch + 1), (r1.GenerationId, r2.GenerationId));
    }

    [Theory]
    [InlineData(ConsumerGroupMigrationPolicy.Bidirectional, true)]
    [InlineData(ConsumerGroupMigrationPolicy.Upgrade, true)]
    [InlineData(ConsumerGroupMigrationPolicy.Downgrade, false)]
    [InlineData(ConsumerGroupMigrationPolicy.Disabled, false)]
    public async Task ConsumerGroupHeartbeat_ClassicGroupWithMembers_UpgradedOnlyWhenPolicyAllows(ConsumerGroupMigrationPolicy policy, bool upgraded)
    {
        _coordinator = Create(policy, new RecordingLog());
        await StableClassicGroupAsync();

        var k = ConsumerJoin("k");

        Assert.Equal(upgraded ? ErrorCode.None : ErrorCode.GroupIdNotFound, k.Error);
        Assert.Equal(upgraded ? null : ClassicGroupState.Stable, _coordinator.GroupState("g"));
    }

    [Theory]
    [InlineData(ConsumerGroupMigrationPolicy.Bidirectional, true)]
    [InlineData(ConsumerGroupMigrationPolicy.Downgrade, true)]
    [InlineData(ConsumerGroupMigrationPolicy.Upgrade, false)]
    public async Task ConsumerGroupHeartbeat_LastConsumerMemberLeaves_DowngradedOnlyWhenPolicyAllows(ConsumerGroupMigrationPolicy policy, bool downgraded)
    {
        var (c1, c2) = await StableClassicGroupAsync();
        await UpgradeAndSettleAsync(c1, c2);
        _coordinator = Create(policy, new RecordingLog()); // the same group, loaded by a coordinator with another policy
        foreach (var record in _log.Records.Where(r => GroupRecords.ReadKey(r.Key).Type is >= 3 and <= 8))
        {
            _coordinator.ReplayConsumerGroupRecord(record.Key, record.Value);
        }

        _coordinator.OnConsumerGroupsLoaded();

        Assert.Equal(ErrorCode.None, ConsumerBeat("k", -1, null).Error);

        Assert.Equal(downgraded ? ClassicGroupState.PreparingRebalance : null, _coordinator.GroupState("g"));
        Assert.Equal(downgraded, _coordinator.ConsumerGroupStateOf("g") is null);
    }

    [Fact]
    public async Task Restart_AfterUpgrade_ConsumerGroupWithClassicMembersReplayed()
    {
        var (c1, c2) = await StableClassicGroupAsync();
        var owned = await UpgradeAndSettleAsync(c1, c2);
        var generation = _coordinator.DescribeConsumerGroups(["g"])[0].Members!.Single(m => m.MemberId == c1).MemberEpoch;

        _coordinator = Restart();

        Assert.Null(_coordinator.GroupState("g"));
        Assert.Equal(ConsumerGroupState.Stable, _coordinator.ConsumerGroupStateOf("g"));
        Assert.Equal(ErrorCode.None, _coordinator.Heartbeat("g", generation, c1, null)); // still a classic member
        Assert.Equal(owned[c1], Partitions((await _coordinator.SyncGroupAsync("g", generation, c1, null, "consumer", "range", [])).Assignment));

        // Its classic session timeout (10 s) applies: c2, silent, is fenced.
        _time.Advance(9000);
        Assert.Equal(ErrorCode.None, _coordinator.Heartbeat("g", generation, c1, null));
        _time.Advance(1000);
        Assert.DoesNotContain(c2, _coordinator.DescribeConsumerGroups(["g"])[0].Members!.Select(m => m.MemberId));
    }

    [Fact]
    public async Task Restart_AfterDowngrade_ClassicGroupRestored()
    {
        var (c1, c2) = await StableClassicGroupAsync();
        await UpgradeAndSettleAsync(c1, c2);
        ConsumerBeat("k", -1, null);
        var generation = _coordinator.Describe("g")!.Value.GenerationId;

        _coordinator = Restart();

        Assert.Null(_coordinator.ConsumerGroupStateOf("g"));
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
        Assert.Equal((generation, "range"), (_coordinator.Describe("g")!.Value.GenerationId, _coordinator.Describe("g")!.Value.ProtocolName));
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_UpgradeNotPersisted_ClassicGroupKeptAndError()
    {
        await StableClassicGroupAsync();
        _log.FailWith = ErrorCode.NotCoordinator;

        var k = ConsumerJoin("k");

        Assert.Equal(ErrorCode.NotCoordinator, k.Error);
        Assert.Null(_coordinator.ConsumerGroupStateOf("g"));
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
    }

    private sealed class FakeTopics : IGroupTopicView
    {
        private readonly Dictionary<string, GroupTopic> _topics = new(StringComparer.Ordinal);

        public void Set(string name, KafkaUuid id, int partitions) => _topics[name] = new GroupTopic(name, id, partitions);

        public GroupTopic? Topic(string name) => _topics.TryGetValue(name, out var t) ? t : null;

        public GroupTopic? Topic(KafkaUuid id) => _topics.Values.FirstOrDefault(t => t.Id == id) is { Name: not null } t ? t : null;

        public IEnumerable<GroupTopic> AllTopics() => _topics.Values;
    }
}
