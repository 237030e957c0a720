using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>What the coordinator writes to its record log, what it does when a write fails, and offset retention.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class GroupPersistenceTests : IDisposable
{
    private const int RetentionMs = 60 * 60 * 1000;
    private const int CheckIntervalMs = 60_000;
    private static readonly TopicPartition T0 = new("t", 0);
    private readonly ManualTimeProvider _time = new();
    private readonly RecordingLog _log = new();
    private readonly GroupCoordinator _coordinator;

    public GroupPersistenceTests()
    {
        _coordinator = new GroupCoordinator(
            new GroupCoordinatorConfig { InitialRebalanceDelayMs = 0, OffsetRetention = new OffsetRetentionConfig(RetentionMs, CheckIntervalMs) },
            log => new PersistentOffsetStore(log!),
            _time,
            NullLogger<GroupCoordinator>.Instance,
            _log);
    }

    public void Dispose() => _coordinator.Dispose();

    private static JoinGroupParams Join(string memberId = "") => new()
    {
        GroupId = "g",
        MemberId = memberId,
        ClientId = "client",
        SessionTimeoutMs = 10_000,
        RebalanceTimeoutMs = 10_000,
        ProtocolType = "consumer",
        Protocols = [new GroupProtocol("range", [7])],
    };

    private async Task<(string MemberId, int Generation)> StableMemberAsync()
    {
        var join = _coordinator.JoinGroupAsync(Join()).AsTask();
        _time.Advance(0);
        var joined = await join;
        var sync = await _coordinator.SyncGroupAsync("g", joined.GenerationId, joined.MemberId, null, null, null, [new(joined.MemberId, [9])]);
        Assert.Equal(ErrorCode.None, sync.Error);
        return (joined.MemberId, joined.GenerationId);
    }

    [Fact]
    public async Task SyncGroup_Leader_StoresGroupMetadataBeforeAnswering()
    {
        var (member, generation) = await StableMemberAsync();

        var record = Assert.Single(_log.Records, r => GroupRecords.ReadKey(r.Key).Type == GroupRecords.GroupMetadataKeyType);
        var value = GroupRecords.ReadGroupMetadataValue(record.Value);
        Assert.Equal((generation, "range", member), (value.generation, value.protocol, value.leader));
        Assert.Equal(new byte[] { 9 }, Assert.Single(value.members).assignment);
        Assert.Equal(new byte[] { 7 }, value.members[0].subscription);
    }

    [Fact]
    public async Task SyncGroup_StoreFails_MembersGetErrorAndGroupRebalances()
    {
        var join = _coordinator.JoinGroupAsync(Join()).AsTask();
        _time.Advance(0);
        var joined = await join;
        _log.FailWith = ErrorCode.CoordinatorNotAvailable;

        var sync = await _coordinator.SyncGroupAsync("g", joined.GenerationId, joined.MemberId, null, null, null, [new(joined.MemberId, [9])]);

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, sync.Error);
        Assert.Equal(ClassicGroupState.PreparingRebalance, _coordinator.GroupState("g"));
    }

    [Fact]
    public void CommitOffsets_StoreFails_ReturnsErrorAndKeepsNothing()
    {
        _log.FailWith = ErrorCode.CoordinatorNotAvailable;

        var error = _coordinator.CommitOffsets("g", [new OffsetToCommit(T0, 5, -1, null)]);

        Assert.Equal(ErrorCode.CoordinatorNotAvailable, error);
        Assert.False(_coordinator.Offsets.TryGet("g", T0, out _));
    }

    [Fact]
    public void CommitOffsets_SeveralPartitions_OneAppend()
    {
        _coordinator.CommitOffsets("g", [new OffsetToCommit(T0, 5, 1, "a"), new OffsetToCommit(new TopicPartition("t", 1), 6, 1, null)]);

        var append = Assert.Single(_log.Appends);
        Assert.Equal(2, append.Count);
        Assert.Equal(new CommittedOffset(5, 1, "a", _time.GetUtcNow().ToUnixTimeMilliseconds()), GroupRecords.ReadOffsetValue(append[0].Value));
    }

    [Fact]
    public void Retention_SimpleConsumerOffsets_ExpireRetentionAfterCommitThenGroupIsDeleted()
    {
        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetCommit("g", -1, "", null, true));
        _coordinator.CommitOffsets("g", [new OffsetToCommit(T0, 5, -1, null)]);

        _time.Advance(RetentionMs - CheckIntervalMs);
        Assert.True(_coordinator.Offsets.TryGet("g", T0, out _));
        _time.Advance(CheckIntervalMs);

        Assert.False(_coordinator.Offsets.TryGet("g", T0, out _));
        Assert.Null(_coordinator.GroupState("g"));
        Assert.Contains(_log.Records, r => r.Value is null && GroupRecords.ReadKey(r.Key) is { Type: 1, Topic: "t", Partition: 0 });
        Assert.Contains(_log.Records, r => r.Value is null && GroupRecords.ReadKey(r.Key).Type == GroupRecords.GroupMetadataKeyType);
    }

    [Fact]
    public async Task Retention_GroupWithMembers_KeepsOffsetsThenExpiresFromWhenItBecameEmpty()
    {
        var (member, generation) = await StableMemberAsync();
        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetCommit("g", generation, member, null, true));
        _coordinator.CommitOffsets("g", [new OffsetToCommit(T0, 5, -1, null)]);
        for (var i = 0; i < 2 * RetentionMs / 5_000; i++)
        {
            Assert.Equal(ErrorCode.None, _coordinator.Heartbeat("g", generation, member, null));
            _time.Advance(5_000);
        }

        Assert.True(_coordinator.Offsets.TryGet("g", T0, out _));
        _coordinator.LeaveGroup("g", [new LeavingMember(member, null)]);
        _time.Advance(0);
        Assert.Equal(ClassicGroupState.Empty, _coordinator.GroupState("g"));

        _time.Advance(RetentionMs - CheckIntervalMs);
        Assert.True(_coordinator.Offsets.TryGet("g", T0, out _));
        _time.Advance(2 * CheckIntervalMs);
        Assert.False(_coordinator.Offsets.TryGet("g", T0, out _));
        Assert.Null(_coordinator.GroupState("g"));
    }

    [Fact]
    public async Task RestoreGroup_FromStoredRecord_StableWithSameGenerationAndSessionsRunning()
    {
        var (member, generation) = await StableMemberAsync();
        var stored = GroupRecords.ReadGroupMetadataValue(_log.Records.Last(r => GroupRecords.ReadKey(r.Key).Type == 2).Value);
        using var restarted = new GroupCoordinator(new GroupCoordinatorConfig(), _ => new InMemoryOffsetStore(), _time, NullLogger<GroupCoordinator>.Instance);

        restarted.RestoreGroup("g", stored);

        Assert.Equal(ClassicGroupState.Stable, restarted.GroupState("g"));
        Assert.Equal(ErrorCode.None, restarted.Heartbeat("g", generation, member, null));
        var sync = await restarted.SyncGroupAsync("g", generation, member, null, null, null, []);
        Assert.Equal(new byte[] { 9 }, sync.Assignment);

        // No heartbeat within the session timeout: the member expires and the group rebalances to empty.
        _time.Advance(10_001);
        _time.Advance(0);
        Assert.Equal(ClassicGroupState.Empty, restarted.GroupState("g"));
    }
}
