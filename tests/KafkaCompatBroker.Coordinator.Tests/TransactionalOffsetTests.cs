using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>TxnOffsetCommit: pending offsets, their completion by markers, ordering with plain commits, deletes, retention and group checks.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class TransactionalOffsetTests : IDisposable
{
    private const long Pid = 1000;
    private const short Epoch = 3;
    private const int RetentionMs = 60 * 60 * 1000;
    private static readonly TopicPartition T0 = new("t", 0);
    private static readonly TopicPartition T1 = new("t", 1);
    private readonly ManualTimeProvider _time = new();
    private readonly TxnRecordingLog _log = new();
    private readonly GroupCoordinator _coordinator;

    public TransactionalOffsetTests()
    {
        _coordinator = new GroupCoordinator(
            new GroupCoordinatorConfig { InitialRebalanceDelayMs = 0, OffsetMetadataMaxBytes = 10, OffsetRetention = new OffsetRetentionConfig(RetentionMs, 60_000) },
            log => new PersistentOffsetStore(log!),
            _time,
            NullLogger<GroupCoordinator>.Instance,
            _log);
    }

    public void Dispose() => _coordinator.Dispose();

    private static OffsetToCommit Offset(TopicPartition partition, long offset, string? metadata = "m") => new(partition, offset, 2, metadata);

    private ErrorCode[] TxnCommit(string group, long producerId, params OffsetToCommit[] offsets) =>
        _coordinator.TxnOffsetCommit(new TxnOffsetCommitParams(group, producerId, Epoch, -1, "", null), offsets);

    private ErrorCode[] TxnCommitAs(string group, int generation, string memberId, string? instanceId = null, GroupCoordinator? coordinator = null) =>
        (coordinator ?? _coordinator).TxnOffsetCommit(new TxnOffsetCommitParams(group, Pid, Epoch, generation, memberId, instanceId), [Offset(T0, 1)]);

    private long? Committed(string group, TopicPartition partition) =>
        _coordinator.Offsets.TryGet(group, partition, out var offset) ? offset.Offset : null;

    private static JoinGroupParams Join(string memberId = "", string? instanceId = null) => new()
    {
        GroupId = "g",
        MemberId = memberId,
        GroupInstanceId = instanceId,
        ClientId = "client",
        SessionTimeoutMs = 10_000,
        RebalanceTimeoutMs = 10_000,
        ProtocolType = "consumer",
        Protocols = [new GroupProtocol("range", [7])],
    };

    private async Task<(string MemberId, int Generation)> StableMemberAsync(string? instanceId = null)
    {
        var join = _coordinator.JoinGroupAsync(Join(instanceId: instanceId)).AsTask();
        _time.Advance(0);
        var joined = await join;
        var sync = await _coordinator.SyncGroupAsync("g", joined.GenerationId, joined.MemberId, instanceId, null, null, [new(joined.MemberId, [])]);
        Assert.Equal(ErrorCode.None, sync.Error);
        return (joined.MemberId, joined.GenerationId);
    }

    [Fact]
    public void TxnOffsetCommit_Pending_InvisibleUntilCommitMarker()
    {
        Assert.Equal([ErrorCode.None, ErrorCode.None], TxnCommit("g", Pid, Offset(T0, 5), Offset(T1, 6)));

        Assert.Null(Committed("g", T0));
        Assert.True(_coordinator.HasPendingTransactionalOffset("g", T0));
        Assert.True(_coordinator.HasPendingTransactionalOffsets("g"));

        _coordinator.CompleteTransaction(Pid, commit: true, _log.PartitionOf("g"));

        Assert.Equal(5, Committed("g", T0));
        Assert.Equal(6, Committed("g", T1));
        Assert.Equal("m", _coordinator.Offsets.GetAll("g")[0].Value.Metadata);
        Assert.False(_coordinator.HasPendingTransactionalOffset("g", T0));
        Assert.False(_coordinator.HasPendingTransactionalOffsets("g"));
    }

    [Fact]
    public void TxnOffsetCommit_WritesOneTransactionalBatchOfTheProducer()
    {
        TxnCommit("g", Pid, Offset(T0, 5), Offset(T1, 6));

        var append = Assert.Single(_log.Appends);
        Assert.Equal((Pid, Epoch, 2), (append.ProducerId, append.ProducerEpoch, append.Records.Count));
        Assert.Equal(5, GroupRecords.ReadOffsetValue(append.Records[0].Value).Offset);
    }

    [Fact]
    public void CompleteTransaction_Abort_DropsPendingOffsets()
    {
        _coordinator.CommitOffsets("g", [Offset(T0, 1)]);
        TxnCommit("g", Pid, Offset(T0, 5));

        _coordinator.CompleteTransaction(Pid, commit: false, _log.PartitionOf("g"));

        Assert.Equal(1, Committed("g", T0));
        Assert.False(_coordinator.HasPendingTransactionalOffset("g", T0));
    }

    [Fact]
    public void CompleteTransaction_MarkerInOtherPartition_LeavesPendingOffsets()
    {
        TxnCommit("g", Pid, Offset(T0, 5));

        _coordinator.CompleteTransaction(Pid, commit: true, _log.PartitionOf("g") + 1);
        _coordinator.CompleteTransaction(Pid + 1, commit: true, _log.PartitionOf("g"));

        Assert.Null(Committed("g", T0));
        Assert.True(_coordinator.HasPendingTransactionalOffset("g", T0));
    }

    [Fact]
    public void CompleteTransaction_PlainCommitAfterPending_PlainCommitWins()
    {
        TxnCommit("g", Pid, Offset(T0, 5), Offset(T1, 6));
        _coordinator.CommitOffsets("g", [Offset(T0, 9)]);

        _coordinator.CompleteTransaction(Pid, commit: true, _log.PartitionOf("g"));

        Assert.Equal(9, Committed("g", T0));
        Assert.Equal(6, Committed("g", T1));
    }

    [Fact]
    public void CompleteTransaction_PlainCommitBeforePending_TransactionalWins()
    {
        _coordinator.CommitOffsets("g", [Offset(T0, 9)]);
        TxnCommit("g", Pid, Offset(T0, 5));

        _coordinator.CompleteTransaction(Pid, commit: true, _log.PartitionOf("g"));

        Assert.Equal(5, Committed("g", T0));
    }

    [Fact]
    public void CompleteTransaction_TwoProducers_LaterWriteWinsWhateverTheMarkerOrder()
    {
        TxnCommit("g", Pid, Offset(T0, 5));
        TxnCommit("g", Pid + 1, Offset(T0, 7));

        _coordinator.CompleteTransaction(Pid + 1, commit: true, _log.PartitionOf("g"));
        Assert.Equal(7, Committed("g", T0));
        Assert.True(_coordinator.HasPendingTransactionalOffset("g", T0));

        _coordinator.CompleteTransaction(Pid, commit: true, _log.PartitionOf("g"));
        Assert.Equal(7, Committed("g", T0));
        Assert.False(_coordinator.HasPendingTransactionalOffset("g", T0));
    }

    [Fact]
    public void TxnOffsetCommit_MetadataTooLarge_OnlyThatPartitionFails()
    {
        var errors = TxnCommit("g", Pid, Offset(T0, 5, "01234567890"), Offset(T1, 6));

        Assert.Equal([ErrorCode.OffsetMetadataTooLarge, ErrorCode.None], errors);
        Assert.Single(Assert.Single(_log.Appends).Records);
        Assert.False(_coordinator.HasPendingTransactionalOffset("g", T0));
        Assert.True(_coordinator.HasPendingTransactionalOffset("g", T1));
    }

    [Fact]
    public void TxnOffsetCommit_LogFails_LogErrorForEveryPartitionAndNothingPending()
    {
        _log.FailWith = ErrorCode.InvalidProducerEpoch;

        Assert.Equal([ErrorCode.InvalidProducerEpoch, ErrorCode.InvalidProducerEpoch], TxnCommit("g", Pid, Offset(T0, 5), Offset(T1, 6)));
        Assert.False(_coordinator.HasPendingTransactionalOffsets("g"));
    }

    [Fact]
    public void TxnOffsetCommit_MissingGroupWithoutGeneration_CreatesEmptyClassicGroup()
    {
        Assert.Equal([ErrorCode.None], TxnCommitAs("new", -1, ""));

        Assert.Equal(ClassicGroupState.Empty, _coordinator.GroupState("new"));
    }

    [Fact]
    public void TxnOffsetCommit_MissingGroupWithGeneration_IllegalGeneration()
    {
        Assert.Equal([ErrorCode.IllegalGeneration], TxnCommitAs("new", 1, "m"));

        Assert.Null(_coordinator.GroupState("new"));
        Assert.Empty(_log.Appends);
    }

    [Fact]
    public async Task TxnOffsetCommit_ClassicMemberChecks_AsKafka()
    {
        var (member, generation) = await StableMemberAsync();

        Assert.Equal([ErrorCode.None], TxnCommitAs("g", generation, member));
        Assert.Equal([ErrorCode.IllegalGeneration], TxnCommitAs("g", generation + 1, member));
        Assert.Equal([ErrorCode.UnknownMemberId], TxnCommitAs("g", generation, "someone-else"));

        // Versions before 3 carry no member: accepted even for a group with members (unlike OffsetCommit).
        Assert.Equal([ErrorCode.None], TxnCommitAs("g", -1, ""));
    }

    [Fact]
    public async Task TxnOffsetCommit_StaticMemberWithOldMemberId_FencedInstanceId()
    {
        var (member, generation) = await StableMemberAsync(instanceId: "i1");

        Assert.Equal([ErrorCode.None], TxnCommitAs("g", generation, member, "i1"));
        Assert.Equal([ErrorCode.FencedInstanceId], TxnCommitAs("g", generation, "old-id", "i1"));
        Assert.Equal([ErrorCode.UnknownMemberId], TxnCommitAs("g", generation, member, "i2"));
    }

    [Fact]
    public async Task TxnOffsetCommit_CompletingRebalance_Accepted()
    {
        var first = _coordinator.JoinGroupAsync(Join()).AsTask();
        _time.Advance(0);
        var joined = await first;
        Assert.Equal(ClassicGroupState.CompletingRebalance, _coordinator.GroupState("g"));

        Assert.Equal([ErrorCode.None], TxnCommitAs("g", joined.GenerationId, joined.MemberId));
    }

    [Fact]
    public void TxnOffsetCommit_ConsumerGroupMember_EpochRules()
    {
        using var coordinator = new GroupCoordinator(new GroupCoordinatorConfig(), _ => new InMemoryOffsetStore(), _time, NullLogger<GroupCoordinator>.Instance, _log)
        {
            TopicView = new SingleTopicView(),
        };
        var joined = coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = "g",
            MemberId = "m1",
            MemberEpoch = 0,
            RebalanceTimeoutMs = 30_000,
            SubscribedTopicNames = ["t"],
            TopicPartitions = [],
            ClientId = "client",
            ClientHost = "/127.0.0.1",
        });
        Assert.Equal(ErrorCode.None, joined.Error);

        Assert.Equal([ErrorCode.None], TxnCommitAs("g", joined.MemberEpoch, "m1", coordinator: coordinator));
        Assert.Equal([ErrorCode.IllegalGeneration], TxnCommitAs("g", joined.MemberEpoch + 1, "m1", coordinator: coordinator));
        Assert.Equal([ErrorCode.UnknownMemberId], TxnCommitAs("g", joined.MemberEpoch, "m2", coordinator: coordinator));
        Assert.True(coordinator.HasPendingTransactionalOffset("g", T0));
    }

    [Fact]
    public void ReplayOffsetRecord_PendingThenMarker_AsLive()
    {
        var partition = 4;
        _coordinator.ReplayOffsetRecord(partition, -1, "g", T0, new CommittedOffset(1, -1, "", 0));
        _coordinator.ReplayOffsetRecord(partition, Pid, "g", T0, new CommittedOffset(5, -1, "", 0));
        _coordinator.ReplayOffsetRecord(partition, Pid, "g", T1, new CommittedOffset(6, -1, "", 0));
        _coordinator.ReplayOffsetRecord(partition, -1, "g", T1, new CommittedOffset(8, -1, "", 0));
        Assert.Equal(1, Committed("g", T0));
        Assert.True(_coordinator.HasPendingTransactionalOffset("g", T0));

        _coordinator.CompleteTransaction(Pid, commit: true, partition);

        Assert.Equal(5, Committed("g", T0));
        Assert.Equal(8, Committed("g", T1));
        Assert.Empty(_log.Appends);
    }

    [Fact]
    public void ReplayOffsetRecord_Tombstone_DropsPendingOffsets()
    {
        _coordinator.ReplayOffsetRecord(0, Pid, "g", T0, new CommittedOffset(5, -1, "", 0));

        _coordinator.ReplayOffsetRecord(0, -1, "g", T0, null);
        _coordinator.CompleteTransaction(Pid, commit: true, 0);

        Assert.Null(Committed("g", T0));
        Assert.False(_coordinator.HasPendingTransactionalOffsets("g"));
    }

    [Fact]
    public void RestorePendingOffsetOnlyGroups_PendingOnlyGroup_ExistsEmpty()
    {
        _coordinator.ReplayOffsetRecord(0, Pid, "pending-only", T0, new CommittedOffset(5, -1, "", 0));

        _coordinator.RestorePendingOffsetOnlyGroups();

        Assert.Equal(ClassicGroupState.Empty, _coordinator.GroupState("pending-only"));
    }

    [Fact]
    public void DeleteOffsets_PendingOnly_WritesTombstoneAndDropsThem()
    {
        TxnCommit("g", Pid, Offset(T0, 5));

        var result = _coordinator.DeleteOffsets("g", [("t", [0])]);

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal(ErrorCode.None, Assert.Single(Assert.Single(result.Topics).Partitions).Error);
        var tombstone = Assert.Single(_log.Appends[^1].Records);
        Assert.Null(tombstone.Value);
        _coordinator.CompleteTransaction(Pid, commit: true, _log.PartitionOf("g"));
        Assert.Null(Committed("g", T0));
    }

    [Fact]
    public void DeleteGroups_WithPendingOffsets_DeletesThemWithTheGroup()
    {
        _coordinator.CommitOffsets("g", [Offset(T0, 1)]);
        TxnCommit("g", Pid, Offset(T0, 5), Offset(T1, 6));

        Assert.Equal(ErrorCode.None, Assert.Single(_coordinator.DeleteGroups(["g"])).Error);

        // One tombstone for T1 (pending only) and one for T0 (committed), no duplicate.
        var tombstones = _log.Appends.SelectMany(a => a.Records).Where(r => r.Value is null && GroupRecords.ReadKey(r.Key).Type == GroupRecords.OffsetCommitKeyType).ToList();
        Assert.Equal(2, tombstones.Count);
        _coordinator.CompleteTransaction(Pid, commit: true, _log.PartitionOf("g"));
        Assert.Null(Committed("g", T0));
        Assert.Null(Committed("g", T1));
    }

    [Fact]
    public void ExpireOffsets_PendingOffsets_KeepOffsetAndGroup()
    {
        _coordinator.CommitOffsets("g", [Offset(T0, 1), Offset(T1, 2)]);
        TxnCommit("g", Pid, Offset(T0, 5));
        _time.Advance(RetentionMs + 1);

        _coordinator.ExpireOffsets();

        Assert.Equal(1, Committed("g", T0));
        Assert.Null(Committed("g", T1));
        _coordinator.CompleteTransaction(Pid, commit: false, _log.PartitionOf("g"));
        _coordinator.ExpireOffsets();
        Assert.Null(Committed("g", T0));
    }

    [Fact]
    public void ExpireOffsets_GroupWithOnlyPendingOffsets_NotDeleted()
    {
        TxnCommit("g", Pid, Offset(T0, 5));
        _time.Advance(RetentionMs + 1);

        _coordinator.ExpireOffsets();

        Assert.Equal(ClassicGroupState.Empty, _coordinator.GroupState("g"));
        _coordinator.CompleteTransaction(Pid, commit: false, _log.PartitionOf("g"));
        _coordinator.ExpireOffsets();
        Assert.Null(_coordinator.GroupState("g"));
    }

    private sealed record Append(long ProducerId, short ProducerEpoch, IReadOnlyList<GroupRecord> Records);

    /// <summary>Records every batch; groups map to partitions by their first character, so tests can tell partitions apart.</summary>
    private sealed class TxnRecordingLog : IGroupRecordLog
    {
        public List<Append> Appends { get; } = [];

        public ErrorCode? FailWith { get; set; }

        public int PartitionOf(string groupId) => groupId[0] % 7;

        public void Append(string groupId, IReadOnlyList<GroupRecord> records) => Add(new Append(-1, -1, [.. records]));

        public int AppendTransactional(string groupId, IReadOnlyList<GroupRecord> records, long producerId, short producerEpoch)
        {
            Add(new Append(producerId, producerEpoch, [.. records]));
            return PartitionOf(groupId);
        }

        private void Add(Append append)
        {
            if (FailWith is { } error)
            {
                throw new GroupRecordLogException(error, "injected failure");
            }

            Appends.Add(append);
        }
    }

    private sealed class SingleTopicView : IGroupTopicView
    {
        private static readonly GroupTopic Topic0 = new("t", new KafkaUuid(1, 1), 2);

        public GroupTopic? Topic(string name) => name == "t" ? Topic0 : null;

        public GroupTopic? Topic(KafkaUuid id) => id == Topic0.Id ? Topic0 : null;

        public IEnumerable<GroupTopic> AllTopics() => [Topic0];
    }
}
