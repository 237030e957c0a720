using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>KIP-848 consumer group records in the coordinator's log: what each change writes, replay, and failed writes.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class ConsumerGroupPersistenceTests : IDisposable
{
    private const short Epoch = 3, Member = 5, TargetEpoch = 6, Target = 7, Current = 8;
    private static readonly KafkaUuid Orders = new(1, 1);
    private readonly ManualTimeProvider _time = new();
    private readonly FakeTopics _topics = new();
    private readonly RecordingLog _log = new();
    private readonly GroupCoordinator _coordinator;
    private readonly List<GroupCoordinator> _restarted = [];

    public ConsumerGroupPersistenceTests()
    {
        _topics.Set("orders", Orders, 6);
        _coordinator = Create(_log);
    }

    public void Dispose()
    {
        _coordinator.Dispose();
        _restarted.ForEach(c => c.Dispose());
    }

    private GroupCoordinator Create(RecordingLog log) =>
        new(new GroupCoordinatorConfig { InitialRebalanceDelayMs = 0 }, l => new PersistentOffsetStore(l!), _time, NullLogger<GroupCoordinator>.Instance, log) { TopicView = _topics };

    /// <summary>A new coordinator that has replayed every record written so far, as after a restart.</summary>
    private GroupCoordinator Restart()
    {
        var log = new RecordingLog();
        var coordinator = Create(log);
        _restarted.Add(coordinator);
        foreach (var record in _log.Records)
        {
            coordinator.ReplayConsumerGroupRecord(record.Key, record.Value);
        }

        coordinator.OnConsumerGroupsLoaded();
        return coordinator;
    }

    private static ConsumerGroupHeartbeatResult Join(GroupCoordinator coordinator, string memberId, string? instanceId = null) =>
        coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = "g",
            MemberId = memberId,
            MemberEpoch = 0,
            InstanceId = instanceId,
            RackId = "rack-1",
            RebalanceTimeoutMs = 30_000,
            SubscribedTopicNames = ["orders"],
            ServerAssignor = "range",
            TopicPartitions = [],
            ClientId = "client-" + memberId,
            ClientHost = "/127.0.0.1",
        });

    private static ConsumerGroupHeartbeatResult Beat(GroupCoordinator coordinator, string memberId, int epoch, IReadOnlyDictionary<KafkaUuid, SortedSet<int>>? owned) =>
        coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = "g",
            MemberId = memberId,
            MemberEpoch = epoch,
            TopicPartitions = owned is null ? null : [.. owned.Select(o => new OwnedTopicPartitions(o.Key, [.. o.Value]))],
            ClientId = "client-" + memberId,
            ClientHost = "/127.0.0.1",
        });

    private static (short Type, string MemberId, bool Tombstone)[] Describe(IReadOnlyList<GroupRecord> batch) =>
        [.. batch.Select(r => ConsumerGroupRecords.ReadKey(r.Key)).Zip(batch, (k, r) => (k.Type, k.MemberId, r.Value is null))];

    private static ConsumerGroupDescription DescribeGroup(GroupCoordinator coordinator) => Assert.Single(coordinator.DescribeConsumerGroups(["g"]));

    /// <summary>Two members that reconciled to a stable split of the six partitions (a: 0-2, b: 3-5 with range).</summary>
    private (int EpochA, Dictionary<KafkaUuid, SortedSet<int>> OwnedA, int EpochB, Dictionary<KafkaUuid, SortedSet<int>> OwnedB) StableGroupOfTwo()
    {
        var a = Join(_coordinator, "a");
        var b = Join(_coordinator, "b");
        var revoke = Beat(_coordinator, "a", a.MemberEpoch, a.Assignment);
        var a2 = Beat(_coordinator, "a", revoke.MemberEpoch, revoke.Assignment);
        var b2 = Beat(_coordinator, "b", b.MemberEpoch, b.Assignment);
        Assert.Equal(ConsumerGroupState.Stable, _coordinator.ConsumerGroupStateOf("g"));
        return (a2.MemberEpoch, Copy(revoke.Assignment!), b2.MemberEpoch, Copy(b2.Assignment!));
    }

    private static Dictionary<KafkaUuid, SortedSet<int>> Copy(IReadOnlyDictionary<KafkaUuid, SortedSet<int>> map) => map.ToDictionary(e => e.Key, e => new SortedSet<int>(e.Value));

    [Fact]
    public void ConsumerGroupHeartbeat_FirstMemberJoins_WritesOneBatchInKafkasOrder()
    {
        var joined = Join(_coordinator, "a");

        Assert.Equal(ErrorCode.None, joined.Error);
        var batch = Assert.Single(_log.Appends);
        Assert.Equal([(Member, "a", false), (Epoch, "", false), (Target, "a", false), (TargetEpoch, "", false), (Current, "a", false)], Describe(batch));
        Assert.Equal(1, ConsumerGroupRecords.ReadGroupEpoch(batch[1].Value, out var hash));
        Assert.NotEqual(0, hash);
        var member = ConsumerGroupRecords.ReadMemberMetadata(batch[0].Value);
        Assert.Equal(("rack-1", "client-a", "/127.0.0.1", 30_000, "range"), (member.RackId, member.ClientId, member.ClientHost, member.RebalanceTimeoutMs, member.ServerAssignor));
        Assert.Equal(["orders"], member.SubscribedTopicNames);
        Assert.Null(member.InstanceId);
        Assert.Equal([0, 1, 2, 3, 4, 5], ConsumerGroupRecords.ReadTargetAssignmentMember(batch[2].Value)[Orders]);
        Assert.Equal(1, ConsumerGroupRecords.ReadTargetAssignmentEpoch(batch[3].Value));
        var current = ConsumerGroupRecords.ReadCurrentAssignment(batch[4].Value);
        Assert.Equal((1, 0, (sbyte)0), (current.MemberEpoch, current.PreviousMemberEpoch, current.State));
        Assert.Equal([0, 1, 2, 3, 4, 5], Assert.Single(current.AssignedPartitions).Partitions);
    }

    [Fact]
    public void ConsumerGroupHeartbeat_NothingChanges_WritesNothing()
    {
        var joined = Join(_coordinator, "a");

        Assert.Equal(ErrorCode.None, Beat(_coordinator, "a", joined.MemberEpoch, joined.Assignment).Error);

        Assert.Single(_log.Appends);
    }

    [Fact]
    public void ConsumerGroupHeartbeat_MemberMustRevoke_WritesCurrentAssignmentWithPendingRevocation()
    {
        var a = Join(_coordinator, "a");
        Join(_coordinator, "b");
        var appends = _log.Appends.Count;

        Beat(_coordinator, "a", a.MemberEpoch, a.Assignment);

        var batch = Assert.Single(_log.Appends.Skip(appends));
        Assert.Equal([(Current, "a", false)], Describe(batch));
        var current = ConsumerGroupRecords.ReadCurrentAssignment(batch[0].Value);
        Assert.Equal((1, (sbyte)1), (current.MemberEpoch, current.State)); // UNREVOKED_PARTITIONS
        Assert.Equal([3, 4, 5], Assert.Single(current.PartitionsPendingRevocation).Partitions);
    }

    [Fact]
    public void ConsumerGroupHeartbeat_MemberLeaves_WritesItsTombstonesThenTheNewGroupEpoch()
    {
        var (epochA, _, _, _) = StableGroupOfTwo();
        var appends = _log.Appends.Count;

        Assert.Equal(ErrorCode.None, Beat(_coordinator, "a", -1, null).Error);

        var batch = Assert.Single(_log.Appends.Skip(appends));
        Assert.Equal([(Current, "a", true), (Target, "a", true), (Member, "a", true), (Epoch, "", false)], Describe(batch));
        Assert.Equal(epochA + 1, ConsumerGroupRecords.ReadGroupEpoch(batch[3].Value, out _));
    }

    [Fact]
    public void ReplayConsumerGroupRecord_EveryRecordWritten_RebuildsAnIdenticalGroup()
    {
        var a = Join(_coordinator, "a", instanceId: "instance-a");
        Join(_coordinator, "b");
        Beat(_coordinator, "a", a.MemberEpoch, a.Assignment); // a must now revoke: the group is reconciling
        var before = DescribeGroup(_coordinator);

        var restarted = Restart();

        var after = DescribeGroup(restarted);
        Assert.Equal((before.State, before.GroupEpoch, before.AssignmentEpoch, before.AssignorName), (after.State, after.GroupEpoch, after.AssignmentEpoch, after.AssignorName));
        Assert.Equal("Reconciling", after.State);
        Assert.Equal(before.Members!.Count, after.Members!.Count);
        foreach (var (expected, actual) in before.Members.Zip(after.Members))
        {
            Assert.Equal(
                (expected.MemberId, expected.InstanceId, expected.RackId, expected.MemberEpoch, expected.ClientId, expected.ClientHost, expected.SubscribedTopicRegex),
                (actual.MemberId, actual.InstanceId, actual.RackId, actual.MemberEpoch, actual.ClientId, actual.ClientHost, actual.SubscribedTopicRegex));
            Assert.Equal(expected.SubscribedTopicNames, actual.SubscribedTopicNames);
            Assert.Equal(expected.Assignment.SelectMany(t => t.Value), actual.Assignment.SelectMany(t => t.Value));
            Assert.Equal(expected.TargetAssignment.SelectMany(t => t.Value), actual.TargetAssignment.SelectMany(t => t.Value));
        }
    }

    [Fact]
    public void ReplayConsumerGroupRecord_MembersReturn_ReconcileWithoutRebalancing()
    {
        var (epochA, ownedA, epochB, ownedB) = StableGroupOfTwo();
        var groupEpoch = DescribeGroup(_coordinator).GroupEpoch;

        var restarted = Restart();
        var a = Beat(restarted, "a", epochA, ownedA);
        var b = Beat(restarted, "b", epochB, ownedB);

        Assert.Equal((ErrorCode.None, epochA), (a.Error, a.MemberEpoch));
        Assert.Equal((ErrorCode.None, epochB), (b.Error, b.MemberEpoch));
        Assert.Null(a.Assignment); // unchanged, so not sent again
        Assert.Equal(groupEpoch, DescribeGroup(restarted).GroupEpoch);
        Assert.Equal(ConsumerGroupState.Stable, restarted.ConsumerGroupStateOf("g"));
    }

    [Fact]
    public void OnConsumerGroupsLoaded_MemberDoesNotReturn_IsFencedAfterItsSessionTimeout()
    {
        var (epochA, ownedA, _, _) = StableGroupOfTwo();
        var groupEpoch = DescribeGroup(_coordinator).GroupEpoch;
        var restarted = Restart();

        // a keeps heartbeating; b never comes back.
        for (var elapsed = 0; elapsed < 45_000; elapsed += 5_000)
        {
            Assert.Equal(ErrorCode.None, Beat(restarted, "a", epochA, ownedA).Error);
            _time.Advance(5_000);
        }

        var group = DescribeGroup(restarted);
        Assert.Equal("a", Assert.Single(group.Members!).MemberId);
        Assert.Equal(groupEpoch + 1, group.GroupEpoch);
        var rejoined = Beat(restarted, "a", epochA, ownedA);
        Assert.Equal(groupEpoch + 1, rejoined.MemberEpoch);
        Assert.Equal(6, rejoined.Assignment!.Values.Sum(p => p.Count));
    }

    [Fact]
    public void OnConsumerGroupsLoaded_FencedMember_TombstonesWrittenToTheLog()
    {
        StableGroupOfTwo();
        var log = new RecordingLog();
        var restarted = Create(log);
        _restarted.Add(restarted);
        foreach (var record in _log.Records)
        {
            restarted.ReplayConsumerGroupRecord(record.Key, record.Value);
        }

        restarted.OnConsumerGroupsLoaded();
        _time.Advance(45_000);

        // Each fencing is its own batch: the member's tombstones, then the bumped group epoch.
        var batches = log.Appends.Select(Describe).ToList();
        Assert.Equal(2, batches.Count);
        Assert.Contains(batches, b => b.SequenceEqual([(Current, "a", true), (Target, "a", true), (Member, "a", true), (Epoch, "", false)]));
        Assert.Contains(batches, b => b.SequenceEqual([(Current, "b", true), (Target, "b", true), (Member, "b", true), (Epoch, "", false)]));
        Assert.Equal(ConsumerGroupState.Empty, restarted.ConsumerGroupStateOf("g"));
    }

    [Fact]
    public void ConsumerGroupHeartbeat_AppendFails_AnswersTheErrorAndKeepsTheGroupAsItWas()
    {
        var a = Join(_coordinator, "a");
        var before = DescribeGroup(_coordinator);
        _log.FailWith = ErrorCode.NotCoordinator;

        var joined = Join(_coordinator, "b");

        Assert.Equal(ErrorCode.NotCoordinator, joined.Error);
        Assert.Equal("injected failure", joined.ErrorMessage);
        var after = DescribeGroup(_coordinator);
        Assert.Equal((before.GroupEpoch, before.AssignmentEpoch, before.State), (after.GroupEpoch, after.AssignmentEpoch, after.State));
        Assert.Equal("a", Assert.Single(after.Members!).MemberId);
        Assert.Equal(6, after.Members![0].TargetAssignment.Values.Sum(p => p.Count));

        // Once the log works again the same join succeeds and a is told to revoke half.
        _log.FailWith = null;
        Assert.Equal(ErrorCode.None, Join(_coordinator, "b").Error);
        Assert.Equal(before.GroupEpoch + 1, DescribeGroup(_coordinator).GroupEpoch);
        Assert.Equal(3, Beat(_coordinator, "a", a.MemberEpoch, a.Assignment).Assignment!.Values.Sum(p => p.Count));
    }

    [Fact]
    public void SessionTimeout_AppendFails_MemberKeptAndFencedOnceTheLogWorks()
    {
        StableGroupOfTwo();
        var groupEpoch = DescribeGroup(_coordinator).GroupEpoch;
        _log.FailWith = ErrorCode.CoordinatorNotAvailable;

        _time.Advance(45_000);

        Assert.Equal(2, DescribeGroup(_coordinator).Members!.Count);
        Assert.Equal(groupEpoch, DescribeGroup(_coordinator).GroupEpoch);
        _log.FailWith = null;
        _time.Advance(45_000);
        Assert.Equal(ConsumerGroupState.Empty, _coordinator.ConsumerGroupStateOf("g"));
        Assert.Equal(groupEpoch + 2, DescribeGroup(_coordinator).GroupEpoch);
    }

    [Fact]
    public void ConsumerGroupHeartbeat_AppendFailsForANewGroup_GroupDoesNotExist()
    {
        _log.FailWith = ErrorCode.CoordinatorNotAvailable;

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, Join(_coordinator, "a").Error);

        Assert.Null(_coordinator.ConsumerGroupStateOf("g"));
        _log.FailWith = null;
        Assert.Equal(1, Join(_coordinator, "a").MemberEpoch);
    }

    [Fact]
    public void ConsumerGroupHeartbeat_LeaveAppendFails_MemberStays()
    {
        var joined = Join(_coordinator, "a");
        _log.FailWith = ErrorCode.CoordinatorNotAvailable;

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, Beat(_coordinator, "a", -1, null).Error);

        _log.FailWith = null;
        Assert.Equal(ErrorCode.None, Beat(_coordinator, "a", joined.MemberEpoch, joined.Assignment).Error);
        Assert.Equal(1, DescribeGroup(_coordinator).GroupEpoch);
    }

    [Fact]
    public void ReplayConsumerGroupRecord_StaticMemberReplaced_NewMemberKeepsInstanceAndAssignment()
    {
        var first = Join(_coordinator, "a1", instanceId: "i");
        _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = "g", MemberId = "a1", MemberEpoch = -2, InstanceId = "i" });
        Assert.Equal(ErrorCode.None, Join(_coordinator, "a2", instanceId: "i").Error);
        var appended = Describe(_log.Appends[^1]);
        Assert.Equal([(Current, "a1", true), (Target, "a1", true), (Member, "a1", true)], appended[..3]);

        var restarted = Restart();

        var member = Assert.Single(DescribeGroup(restarted).Members!);
        Assert.Equal(("a2", "i"), (member.MemberId, member.InstanceId));
        Assert.Equal(first.Assignment!.Values.Sum(p => p.Count), member.Assignment.Values.Sum(p => p.Count));
        Assert.Equal(ErrorCode.FencedInstanceId, restarted.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = "g", MemberId = "a1", MemberEpoch = 1, InstanceId = "i" }).Error);
    }

    [Fact]
    public async Task JoinGroup_EmptyConsumerGroup_WritesItsTombstonesAndReplayLeavesNoConsumerGroup()
    {
        Join(_coordinator, "a");
        Beat(_coordinator, "a", -1, null);
        Assert.Equal(ConsumerGroupState.Empty, _coordinator.ConsumerGroupStateOf("g"));
        var appends = _log.Appends.Count;

        var join = _coordinator.JoinGroupAsync(new JoinGroupParams
        {
            GroupId = "g",
            MemberId = "",
            ClientId = "classic",
            SessionTimeoutMs = 10_000,
            RebalanceTimeoutMs = 10_000,
            ProtocolType = "consumer",
            Protocols = [new GroupProtocol("range", [1])],
        }).AsTask();
        _time.Advance(0);
        Assert.Equal(ErrorCode.None, (await join).Error);

        Assert.Equal([(TargetEpoch, "", true), (Epoch, "", true)], Describe(_log.Appends[appends]));
        Assert.Null(Restart().ConsumerGroupStateOf("g"));
    }

    [Fact]
    public void DeleteGroups_EmptyConsumerGroup_WritesItsTombstonesAndReplayLeavesNothing()
    {
        Join(_coordinator, "a");
        Beat(_coordinator, "a", -1, null);
        var appends = _log.Appends.Count;

        Assert.Equal(ErrorCode.None, Assert.Single(_coordinator.DeleteGroups(["g"])).Error);

        Assert.Equal([(TargetEpoch, "", true), (Epoch, "", true)], Describe(_log.Appends[^1]));
        Assert.Equal(appends + 1, _log.Appends.Count);
        Assert.Null(Restart().ConsumerGroupStateOf("g"));
    }

    [Fact]
    public void ConsumerGroupHeartbeat_EmptyClassicGroupConverted_WritesClassicTombstoneFirst()
    {
        _coordinator.RestoreGroup("g", new Protocol.GroupCoordinatorRecords.GroupMetadataValue { protocolType = "consumer", generation = 3 });

        Assert.Equal(ErrorCode.None, Join(_coordinator, "a").Error);

        var batch = Assert.Single(_log.Appends);
        Assert.Equal((GroupRecords.GroupMetadataKeyType, true), (GroupRecords.ReadKey(batch[0].Key).Type, batch[0].Value is null));
        Assert.Equal(6, batch.Count);
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
