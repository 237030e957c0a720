using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>The coordinator runtime: one shard per __consumer_offsets partition, loaded and unloaded explicitly.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class CoordinatorShardTests : IDisposable
{
    private static readonly TopicPartition T0 = new("t", 0);
    private readonly ManualTimeProvider _time = new();
    private readonly RecordingLog _log = new();
    private readonly ReplayingLoader _loader;
    private readonly GroupCoordinator _coordinator;

    public CoordinatorShardTests()
    {
        _loader = new ReplayingLoader(_log);
        _coordinator = new GroupCoordinator(
            new GroupCoordinatorConfig { InitialRebalanceDelayMs = 3000, OffsetsTopicPartitions = 5 },
            log => new PersistentOffsetStore(log!),
            _time,
            NullLogger<GroupCoordinator>.Instance,
            _log,
            _loader);
    }

    public void Dispose() => _coordinator.Dispose();

    private int Partition => _coordinator.PartitionFor("g");

    private static JoinGroupParams Join(string groupId = "g") => new()
    {
        GroupId = groupId,
        ClientId = "client",
        SessionTimeoutMs = 10_000,
        RebalanceTimeoutMs = 30_000,
        ProtocolType = "consumer",
        Protocols = [new GroupProtocol("range", [1])],
    };

    private static OffsetCommitParams Simple(string groupId = "g") => new(groupId, -1, "", null, GroupIdNotFoundSupported: false, ValidatePartitionEpochs: false);

    [Fact]
    public async Task GroupApis_ShardNotHosted_AnswerNotCoordinator()
    {
        Assert.Equal(CoordinatorShardState.NotHosted, _coordinator.ShardState(Partition));
        Assert.Equal(ErrorCode.NotCoordinator, _coordinator.CoordinatorError("g"));
        Assert.Equal(ErrorCode.NotCoordinator, (await _coordinator.JoinGroupAsync(Join())).Error);
        Assert.Equal(ErrorCode.NotCoordinator, _coordinator.Heartbeat("g", 1, "m", null));
        Assert.Equal([ErrorCode.NotCoordinator], await _coordinator.CommitOffsetsAsync(Simple(), [new OffsetToCommit(T0, 1, -1, null)]));
        Assert.Equal(ErrorCode.NotCoordinator, _coordinator.DescribeGroups(["g"])[0].Error);
        Assert.Empty(_log.Appends);
    }

    [Fact]
    public async Task GroupApis_ShardLoading_AnswerLoadInProgress()
    {
        ErrorCode? joinWhileLoading = null;
        _loader.During = () =>
        {
            Assert.Equal(CoordinatorShardState.Loading, _coordinator.ShardState(Partition));
            Assert.Equal(ErrorCode.CoordinatorLoadInProgress, _coordinator.CoordinatorError("g"));
            joinWhileLoading = _coordinator.JoinGroupAsync(Join()).AsTask().Result.Error;
        };

        _coordinator.Load(Partition, 0);

        Assert.Equal(ErrorCode.CoordinatorLoadInProgress, joinWhileLoading);
        Assert.Equal(CoordinatorShardState.Active, _coordinator.ShardState(Partition));
        Assert.Equal(ErrorCode.MemberIdRequired, (await _coordinator.JoinGroupAsync(Join() with { RequireKnownMemberId = true })).Error);
    }

    [Fact]
    public async Task Unload_WaitingJoin_AnsweredNotCoordinatorAndStateDropped()
    {
        _coordinator.Load(Partition, 0);
        var join = _coordinator.JoinGroupAsync(Join()).AsTask(); // waits for the initial rebalance delay
        Assert.False(join.IsCompleted);

        _coordinator.Unload(Partition, 1);

        Assert.Equal(ErrorCode.NotCoordinator, (await join).Error);
        Assert.Equal(CoordinatorShardState.NotHosted, _coordinator.ShardState(Partition));
        Assert.Null(_coordinator.GroupState("g"));
    }

    [Fact]
    public async Task Unload_OtherShards_KeepTheirGroups()
    {
        for (var p = 0; p < _coordinator.PartitionCount; p++)
        {
            _coordinator.Load(p, 0);
        }

        var other = Enumerable.Range(0, 100).Select(i => $"other-{i}").First(id => _coordinator.PartitionFor(id) != Partition);
        await _coordinator.CommitOffsetsAsync(Simple(other), [new OffsetToCommit(T0, 7, -1, null)]);

        _coordinator.Unload(Partition, 1);

        Assert.True(_coordinator.Offsets.TryGet(other, T0, out var offset));
        Assert.Equal(7, offset.Offset);
        Assert.Contains(_coordinator.ListGroups([], []), g => g.GroupId == other);
    }

    [Fact]
    public async Task Load_AfterUnload_RestoresOffsetsAndGroupsFromTheLog()
    {
        _coordinator.Load(Partition, 0);
        Assert.Equal([ErrorCode.None], await _coordinator.CommitOffsetsAsync(Simple(), [new OffsetToCommit(T0, 42, 3, "meta")]));
        _coordinator.Unload(Partition, 1);
        Assert.False(_coordinator.Offsets.TryGet("g", T0, out _));

        _coordinator.Load(Partition, 2);

        Assert.True(_coordinator.Offsets.TryGet("g", T0, out var offset));
        Assert.Equal((42L, 3, "meta"), (offset.Offset, offset.LeaderEpoch, offset.Metadata));
        Assert.Equal(ClassicGroupState.Empty, _coordinator.GroupState("g"));
    }

    [Fact]
    public void Load_LoaderThrows_PartitionNotHosted()
    {
        _loader.During = () => throw new InvalidOperationException("unreadable log");

        Assert.Throws<InvalidOperationException>(() => _coordinator.Load(Partition, 0));

        Assert.Equal(CoordinatorShardState.NotHosted, _coordinator.ShardState(Partition));
        Assert.Equal(ErrorCode.NotCoordinator, _coordinator.CoordinatorError("g"));
    }

    [Fact]
    public async Task Load_OlderEpochThanHosted_Ignored()
    {
        _coordinator.Load(Partition, 5);
        await _coordinator.CommitOffsetsAsync(Simple(), [new OffsetToCommit(T0, 1, -1, null)]);
        _loader.Loads = 0;

        _coordinator.Load(Partition, 4);
        _coordinator.Unload(Partition, 3);

        Assert.Equal(0, _loader.Loads);
        Assert.Equal(CoordinatorShardState.Active, _coordinator.ShardState(Partition));
    }

    /// <summary>
    /// A rebalance between an OffsetCommit's generation check and its write must not let the old generation commit.
    /// The member leaves from another thread while the commit is between its checks and its write: the leave
    /// has to wait for the commit (one shard operation), so the commit is valid where it lands. With the checks and
    /// the write in separate lock acquisitions (the old handler), the leave completed in between and the departed
    /// member's offsets were stored after it left.
    /// </summary>
    [Fact]
    public async Task CommitOffsets_MemberLeavesBetweenCheckAndWrite_LeaveWaitsForTheCommit()
    {
        using var coordinator = new GroupCoordinator(
            new GroupCoordinatorConfig { InitialRebalanceDelayMs = 0, OffsetsTopicPartitions = 5 }, _ => new InMemoryOffsetStore(), _time, NullLogger<GroupCoordinator>.Instance);
        var join = coordinator.JoinGroupAsync(Join()).AsTask();
        _time.Advance(0); // the (zero) initial rebalance delay
        var joined = await join;
        Assert.Equal(ErrorCode.None, (await coordinator.SyncGroupAsync("g", joined.GenerationId, joined.MemberId, null, null, null, [new(joined.MemberId, [1])])).Error);

        // A thread of its own (not the pool, which a 2-core machine may not grow within the wait) runs the leave.
        var leave = new TaskCompletionSource<LeaveGroupResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var leftDuringCommit = false;
        coordinator.ShardOf("g", out _)!.OffsetCommitValidated = () =>
        {
            var leaver = new Thread(() => leave.SetResult(coordinator.LeaveGroup("g", [new LeavingMember(joined.MemberId, null)])));
            leaver.Start();
            leftDuringCommit = leaver.Join(TimeSpan.FromSeconds(1));
        };

        var errors = await coordinator.CommitOffsetsAsync(
            new OffsetCommitParams("g", joined.GenerationId, joined.MemberId, null, GroupIdNotFoundSupported: true, ValidatePartitionEpochs: true),
            [new OffsetToCommit(T0, 10, -1, null)]);

        Assert.False(leftDuringCommit);
        Assert.Equal([ErrorCode.None], errors);
        Assert.Equal(ErrorCode.None, (await leave.Task).Error);
        Assert.Equal(ClassicGroupState.Empty, coordinator.GroupState("g"));
        Assert.Equal(
            [ErrorCode.UnknownMemberId],
            await coordinator.CommitOffsetsAsync(
                new OffsetCommitParams("g", joined.GenerationId, joined.MemberId, null, GroupIdNotFoundSupported: true, ValidatePartitionEpochs: true),
                [new OffsetToCommit(T0, 11, -1, null)]));
    }

    [Fact]
    public async Task CommitOffsets_AppendInProgress_ShardLockFreeAndOffsetAppliedAfterTheAppend()
    {
        var log = new GatedLog();
        using var coordinator = new GroupCoordinator(
            new GroupCoordinatorConfig { OffsetsTopicPartitions = 5 }, l => new PersistentOffsetStore(l!), _time, NullLogger<GroupCoordinator>.Instance, log);
        log.Block = true;

        var commit = Task.Run(async () => await coordinator.CommitOffsetsAsync(Simple(), [new OffsetToCommit(T0, 5, -1, null)]));
        Assert.True(log.Entered.Wait(TimeSpan.FromSeconds(30)));

        // The append runs with the shard's lock released: the group's other calls go on meanwhile.
        Assert.Equal(ClassicGroupState.Empty, await Task.Run(() => coordinator.GroupState("g")).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.False(coordinator.Offsets.TryGet("g", T0, out _)); // not applied before it is in the log
        log.Release.Set();

        Assert.Equal([ErrorCode.None], await commit);
        Assert.True(coordinator.Offsets.TryGet("g", T0, out var offset));
        Assert.Equal(5, offset.Offset);
    }

    [Fact]
    public async Task DeleteGroups_CommitAppending_WaitsAndDeletesTheCommittedOffsetAfterIt()
    {
        var log = new GatedLog();
        using var coordinator = new GroupCoordinator(
            new GroupCoordinatorConfig { OffsetsTopicPartitions = 5 }, l => new PersistentOffsetStore(l!), _time, NullLogger<GroupCoordinator>.Instance, log);
        log.Block = true;
        var commit = Task.Run(async () => await coordinator.CommitOffsetsAsync(Simple(), [new OffsetToCommit(T0, 5, -1, null)]));
        Assert.True(log.Entered.Wait(TimeSpan.FromSeconds(30)));

        var delete = Task.Run(() => coordinator.DeleteGroups(["g"]));
        log.Release.Set();

        Assert.Equal([ErrorCode.None], await commit);
        Assert.Equal([("g", ErrorCode.None)], await delete);
        Assert.False(coordinator.Offsets.TryGet("g", T0, out _));
        Assert.Equal(3, log.Appends.Count); // the commit, then the offset and group tombstones: the log says what memory says
        Assert.NotNull(log.Appends[0][0].Value);
        Assert.Contains(log.Appends[1], r => r.Value is null && GroupRecords.ReadKey(r.Key).Type == GroupRecords.OffsetCommitKeyType);
    }

    /// <summary>A log whose next append can be held until the test releases it.</summary>
    private sealed class GatedLog : IGroupRecordLog
    {
        public bool Block { get; set; }

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public List<IReadOnlyList<GroupRecord>> Appends { get; } = [];

        public void Append(string groupId, IReadOnlyList<GroupRecord> records)
        {
            if (Block)
            {
                Block = false;
                Entered.Set();
                Release.Wait(TimeSpan.FromSeconds(30));
            }

            lock (Appends)
            {
                Appends.Add([.. records]);
            }
        }

        public int AppendTransactional(string groupId, IReadOnlyList<GroupRecord> records, long producerId, short producerEpoch)
        {
            Append(groupId, records);
            return 0;
        }
    }

    /// <summary>Replays what the <see cref="RecordingLog"/> holds for a partition, as the broker's loader replays the log.</summary>
    private sealed class ReplayingLoader(RecordingLog log) : IGroupShardLoader
    {
        public Action? During { get; set; }

        public int Loads { get; set; }

        public void Load(int partition, GroupCoordinatorShard shard)
        {
            Loads++;
            During?.Invoke();
            foreach (var record in log.Records)
            {
                var key = GroupRecords.ReadKey(record.Key);
                if (GroupCoordinator.PartitionFor(key.GroupId, 5) != partition)
                {
                    continue;
                }

                switch (key.Type)
                {
                    case 0 or 1:
                        shard.ReplayOffsetRecord(partition, -1, key.GroupId, new TopicPartition(key.Topic!, key.Partition), record.Value is null ? null : GroupRecords.ReadOffsetValue(record.Value));
                        break;
                    case GroupRecords.GroupMetadataKeyType:
                        shard.RestoreGroup(key.GroupId, record.Value is null ? null : GroupRecords.ReadGroupMetadataValue(record.Value));
                        break;
                }
            }
        }
    }
}
