using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>The transaction coordinator's state machine on a fake clock with in-memory log, marker sink and producer ids.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class TransactionCoordinatorTests : IDisposable
{
    private const string Txn = "txn-1";
    private const int TimeoutMs = 60_000;
    private static readonly TopicPartition T0 = new("t", 0);
    private static readonly TopicPartition T1 = new("t", 1);
    private readonly ManualTimeProvider _time = new();
    private readonly MemoryTxnLog _log = new();
    private readonly FakeMarkers _markers = new();
    private readonly FakeProducerIds _ids = new();
    private TransactionCoordinator _coordinator;

    public TransactionCoordinatorTests() => _coordinator = Create();

    public void Dispose() => _coordinator.Dispose();

    private TransactionCoordinator Create(TransactionCoordinatorConfig? config = null) => new(
        config ?? new TransactionCoordinatorConfig { TransactionMaxTimeoutMs = 900_000, TransactionalIdExpirationMs = 3_600_000, RemoveExpiredTransactionalIdsIntervalMs = 60_000 },
        _log,
        _markers,
        _ids,
        _time,
        NullLogger<TransactionCoordinator>.Instance);

    private (long Id, short Epoch) Init()
    {
        var result = _coordinator.InitProducerId(Txn, TimeoutMs);
        Assert.Equal(ErrorCode.None, result.Error);
        return (result.ProducerId, result.ProducerEpoch);
    }

    private TransactionMetadata State => _coordinator.Get(Txn)!;

    [Fact]
    public void InitProducerId_NoTransactionalId_FreshIdEpochZero()
    {
        var a = _coordinator.InitProducerId(null, 0);
        var b = _coordinator.InitProducerId(null, 0);

        Assert.Equal((ErrorCode.None, (short)0), (a.Error, a.ProducerEpoch));
        Assert.NotEqual(a.ProducerId, b.ProducerId);
        Assert.Empty(_log.Records);
    }

    [Fact]
    public void InitProducerId_NewTransactionalId_EpochZeroPersistedEmpty()
    {
        var (id, epoch) = Init();

        Assert.Equal(0, epoch);
        var (key, value) = Assert.Single(_log.Records);
        Assert.Equal(Txn, TransactionRecords.ReadKey(key));
        var persisted = TransactionRecords.ReadValue(Txn, value!);
        Assert.Equal((id, (short)0, TransactionState.Empty, TimeoutMs), (persisted.ProducerId, persisted.ProducerEpoch, persisted.State, persisted.TimeoutMs));
    }

    [Fact]
    public void InitProducerId_Again_BumpsEpochSameProducerId()
    {
        var first = Init();
        var second = Init();

        Assert.Equal((first.Id, (short)1), second);
    }

    [Theory]
    [InlineData("", TimeoutMs, ErrorCode.InvalidRequest)]
    [InlineData(Txn, 900_001, ErrorCode.InvalidTransactionTimeout)]
    [InlineData(Txn, 0, ErrorCode.InvalidTransactionTimeout)]
    public void InitProducerId_BadInput_Error(string transactionalId, int timeoutMs, ErrorCode expected) =>
        Assert.Equal(expected, _coordinator.InitProducerId(transactionalId, timeoutMs).Error);

    [Fact]
    public void InitProducerId_Enable2PcWhenDisabled_TransactionalIdAuthorizationFailed() =>
        Assert.Equal(ErrorCode.TransactionalIdAuthorizationFailed, _coordinator.InitProducerId(Txn, TimeoutMs, enable2Pc: true).Error);

    [Fact]
    public void InitProducerId_Kip360RetryWithLastEpoch_SameEpoch()
    {
        var (id, _) = Init();
        var bumped = _coordinator.InitProducerId(Txn, TimeoutMs, id, 0);
        var retried = _coordinator.InitProducerId(Txn, TimeoutMs, id, 0);

        Assert.Equal((id, (short)1), (bumped.ProducerId, bumped.ProducerEpoch));
        Assert.Equal((ErrorCode.None, id, (short)1), (retried.Error, retried.ProducerId, retried.ProducerEpoch));
    }

    [Fact]
    public void InitProducerId_Kip360UnknownProducerId_ProducerFenced()
    {
        Init();

        Assert.Equal(ErrorCode.ProducerFenced, _coordinator.InitProducerId(Txn, TimeoutMs, 424242, 3).Error);
    }

    [Fact]
    public void InitProducerId_EpochExhausted_NewProducerIdEpochZero()
    {
        Replay(new TransactionMetadata(Txn) { ProducerId = 7, ProducerEpoch = short.MaxValue - 1, State = TransactionState.CompleteCommit, TimeoutMs = TimeoutMs });

        var result = _coordinator.InitProducerId(Txn, TimeoutMs);

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.NotEqual(7, result.ProducerId);
        Assert.Equal(0, result.ProducerEpoch);
        Assert.Equal(7, State.PreviousProducerId);
    }

    [Fact]
    public void AddPartitions_UnknownOrWrongProducer_Errors()
    {
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, _coordinator.AddPartitions(Txn, 1, 0, [T0]));
        var (id, epoch) = Init();
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, _coordinator.AddPartitions(Txn, id + 1, epoch, [T0]));
        Assert.Equal(ErrorCode.ProducerFenced, _coordinator.AddPartitions(Txn, id, (short)(epoch + 1), [T0]));
        Assert.Equal(ErrorCode.InvalidRequest, _coordinator.AddPartitions("", id, epoch, [T0]));
    }

    [Fact]
    public void AddPartitions_StartsTransaction_OngoingWithStartTime()
    {
        var (id, epoch) = Init();

        Assert.Equal(ErrorCode.None, _coordinator.AddPartitions(Txn, id, epoch, [T0]));
        _time.Advance(10);
        Assert.Equal(ErrorCode.None, _coordinator.AddPartitions(Txn, id, epoch, [T1]));

        Assert.Equal(TransactionState.Ongoing, State.State);
        Assert.Equal(new HashSet<TopicPartition> { T0, T1 }, State.Partitions);
        Assert.Equal(_time.GetUtcNow().ToUnixTimeMilliseconds() - 10, State.StartTimestampMs);
        Assert.Equal(TransactionState.Ongoing, TransactionRecords.ReadValue(Txn, _log.Records[^1].Value!).State);
    }

    [Fact]
    public void EndTransactionV1_Commit_MarkersThenCompleteCommit()
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T0, T1]);

        var result = _coordinator.EndTransaction(Txn, id, epoch, commit: true, clientTransactionVersion: 0);

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal([(T0, id, epoch, true), (T1, id, epoch, true)], _markers.Written.OrderBy(w => w.Partition.Partition));
        Assert.Equal((TransactionState.CompleteCommit, epoch), (State.State, State.ProducerEpoch));
        Assert.Empty(State.Partitions);
        var states = _log.Records.Select(r => TransactionRecords.ReadValue(Txn, r.Value!).State).ToList();
        Assert.Equal([TransactionState.Empty, TransactionState.Ongoing, TransactionState.PrepareCommit, TransactionState.CompleteCommit], states);
    }

    [Fact]
    public void EndTransactionV1_RetryAfterComplete_NoneAndWrongResultInvalidTxnState()
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T0]);
        _coordinator.EndTransaction(Txn, id, epoch, commit: true, 0);

        Assert.Equal(ErrorCode.None, _coordinator.EndTransaction(Txn, id, epoch, commit: true, 0).Error);
        Assert.Equal(ErrorCode.InvalidTxnState, _coordinator.EndTransaction(Txn, id, epoch, commit: false, 0).Error);
    }

    [Fact]
    public void EndTransactionV1_EmptyOrWrongEpoch_Errors()
    {
        var (id, epoch) = Init();

        Assert.Equal(ErrorCode.InvalidTxnState, _coordinator.EndTransaction(Txn, id, epoch, commit: true, 0).Error);
        Assert.Equal(ErrorCode.ProducerFenced, _coordinator.EndTransaction(Txn, id, (short)(epoch + 1), commit: true, 0).Error);
        Assert.Equal(ErrorCode.InvalidProducerIdMapping, _coordinator.EndTransaction(Txn, id + 5, epoch, commit: true, 0).Error);
    }

    [Fact]
    public void EndTransactionV2_Commit_BumpsEpochInMarkersAndResponse()
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T0], clientTransactionVersion: 2);

        var result = _coordinator.EndTransaction(Txn, id, epoch, commit: true, clientTransactionVersion: 2);

        Assert.Equal((ErrorCode.None, id, (short)(epoch + 1)), (result.Error, result.ProducerId, result.ProducerEpoch));
        Assert.Equal((T0, id, (short)(epoch + 1), true), Assert.Single(_markers.Written));
        Assert.Equal((TransactionState.CompleteCommit, (short)(epoch + 1)), (State.State, State.ProducerEpoch));
    }

    [Fact]
    public void EndTransactionV2_RetryWithOldEpoch_NoneWithCurrentEpoch()
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T0], 2);
        _coordinator.EndTransaction(Txn, id, epoch, commit: true, 2);

        var retry = _coordinator.EndTransaction(Txn, id, epoch, commit: true, 2);

        Assert.Equal((ErrorCode.None, id, (short)(epoch + 1)), (retry.Error, retry.ProducerId, retry.ProducerEpoch));
        Assert.Single(_markers.Written);
        Assert.Equal(ErrorCode.InvalidTxnState, _coordinator.EndTransaction(Txn, id, epoch, commit: false, 2).Error);
    }

    [Fact]
    public void EndTransactionV2_AbortWithoutPartitions_BumpsEpoch()
    {
        var (id, epoch) = Init();

        var result = _coordinator.EndTransaction(Txn, id, epoch, commit: false, 2);

        Assert.Equal((ErrorCode.None, (short)(epoch + 1)), (result.Error, result.ProducerEpoch));
        Assert.Equal(TransactionState.CompleteAbort, State.State);
        Assert.Empty(_markers.Written);
        Assert.Equal(ErrorCode.InvalidTxnState, _coordinator.EndTransaction(Txn, id, result.ProducerEpoch, commit: true, 2).Error);
    }

    [Fact]
    public void EndTransactionV2_EpochExhausted_NewProducerIdAtEpochZero()
    {
        Replay(new TransactionMetadata(Txn)
        {
            ProducerId = 7,
            ProducerEpoch = short.MaxValue - 1,
            State = TransactionState.Ongoing,
            TimeoutMs = TimeoutMs,
            ClientTransactionVersion = 2,
            Partitions = [T0],
            StartTimestampMs = _time.GetUtcNow().ToUnixTimeMilliseconds(),
        });

        var result = _coordinator.EndTransaction(Txn, 7, short.MaxValue - 1, commit: true, 2);

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.NotEqual(7, result.ProducerId);
        Assert.Equal(0, result.ProducerEpoch);
        Assert.Equal((T0, 7L, short.MaxValue, true), Assert.Single(_markers.Written));
        Assert.Equal((result.ProducerId, (short)0, 7L), (State.ProducerId, State.ProducerEpoch, State.PreviousProducerId));

        // A retry with the old id and epoch (the response was lost) is recognised.
        var retry = _coordinator.EndTransaction(Txn, 7, short.MaxValue - 1, commit: true, 2);
        Assert.Equal((ErrorCode.None, result.ProducerId, (short)0), (retry.Error, retry.ProducerId, retry.ProducerEpoch));
    }

    [Fact]
    public void InitProducerId_OngoingTransaction_AbortsWithFencedEpochThenConcurrentTransactions()
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T0]);

        var fence = _coordinator.InitProducerId(Txn, TimeoutMs);

        Assert.Equal(ErrorCode.ConcurrentTransactions, fence.Error);
        var marker = Assert.Single(_markers.Written);
        Assert.Equal((T0, id, false), (marker.Partition, marker.ProducerId, marker.Commit));
        Assert.True(marker.Epoch > epoch);
        Assert.Equal(TransactionState.CompleteAbort, State.State);

        var retry = _coordinator.InitProducerId(Txn, TimeoutMs);
        Assert.Equal(ErrorCode.None, retry.Error);
        Assert.Equal(marker.Epoch + 1, retry.ProducerEpoch);

        // The old producer is fenced.
        Assert.Equal(ErrorCode.ProducerFenced, _coordinator.AddPartitions(Txn, id, epoch, [T1]));
        Assert.Equal(ErrorCode.ProducerFenced, _coordinator.EndTransaction(Txn, id, epoch, commit: true, 0).Error);
    }

    [Fact]
    public void Timer_TransactionPastTimeout_AbortedWithBumpedEpoch()
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T0]);

        _time.Advance(TimeoutMs - 1000);
        Assert.Equal(TransactionState.Ongoing, State.State);
        _time.Advance(11_000);

        Assert.Equal(TransactionState.CompleteAbort, State.State);
        var marker = Assert.Single(_markers.Written);
        Assert.False(marker.Commit);
        Assert.True(State.ProducerEpoch > epoch);
        Assert.Equal(ErrorCode.ProducerFenced, _coordinator.EndTransaction(Txn, id, epoch, commit: true, 0).Error);
    }

    [Fact]
    public void Timer_IdleTransactionalId_ExpiredWithTombstone()
    {
        Init();

        _time.Advance(3_600_000 + 60_000);

        Assert.Null(_coordinator.Get(Txn));
        Assert.Null(_log.Records[^1].Value);
        Assert.Equal(TransactionState.Empty, TransactionRecords.ReadValue(Txn, _log.Records[0].Value!).State);
    }

    [Fact]
    public void Timer_OngoingTransactionalId_NotExpired()
    {
        var (id, epoch) = Init();
        _coordinator.Dispose();
        _coordinator = Create(new TransactionCoordinatorConfig
        {
            TransactionMaxTimeoutMs = int.MaxValue,
            TransactionalIdExpirationMs = 1000,
            RemoveExpiredTransactionalIdsIntervalMs = 1000,
            AbortTimedOutTransactionsIntervalMs = int.MaxValue,
        });
        Replay(new TransactionMetadata(Txn) { ProducerId = id, ProducerEpoch = epoch, State = TransactionState.Ongoing, TimeoutMs = int.MaxValue, Partitions = [T0] });

        _time.Advance(5000);

        Assert.Equal(TransactionState.Ongoing, State.State);
    }

    [Fact]
    public void Markers_WriteFails_RetriedByTimerThenCompleted()
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T0, T1]);
        _markers.FailingPartitions.Add(T1);

        Assert.Equal(ErrorCode.None, _coordinator.EndTransaction(Txn, id, epoch, commit: true, 0).Error);
        Assert.Equal(TransactionState.PrepareCommit, State.State);
        Assert.Equal([T1], State.Partitions);
        Assert.Equal(ErrorCode.ConcurrentTransactions, _coordinator.AddPartitions(Txn, id, epoch, [T0]));

        _markers.FailingPartitions.Clear();
        _time.Advance(1000);

        Assert.Equal(TransactionState.CompleteCommit, State.State);
        Assert.Equal(2, _markers.Written.Count(w => w.Partition == T1));
    }

    [Fact]
    public void Append_LogFails_ErrorAndStateUnchanged()
    {
        var (id, epoch) = Init();
        _log.FailWith = ErrorCode.NotCoordinator;

        Assert.Equal(ErrorCode.NotCoordinator, _coordinator.AddPartitions(Txn, id, epoch, [T0]));
        Assert.Equal(TransactionState.Empty, State.State);
        Assert.Equal(ErrorCode.NotCoordinator, _coordinator.InitProducerId(Txn, TimeoutMs).Error);
    }

    [Fact]
    public void OnLoaded_PrepareCommitInLog_MarkersWrittenAndCompleted()
    {
        Replay(new TransactionMetadata(Txn) { ProducerId = 9, ProducerEpoch = 3, State = TransactionState.PrepareCommit, TimeoutMs = TimeoutMs, Partitions = [T0, T1] });

        _coordinator.OnLoaded();

        Assert.Equal(2, _markers.Written.Count);
        Assert.All(_markers.Written, w => Assert.Equal((9L, (short)3, true), (w.ProducerId, w.Epoch, w.Commit)));
        Assert.Equal(TransactionState.CompleteCommit, State.State);
        Assert.Equal(TransactionState.CompleteCommit, TransactionRecords.ReadValue(Txn, _log.Records[^1].Value!).State);
    }

    [Fact]
    public void Replay_Tombstone_RemovesTransactionalId()
    {
        Replay(new TransactionMetadata(Txn) { ProducerId = 9, ProducerEpoch = 3, TimeoutMs = TimeoutMs });
        _coordinator.Replay(Txn, default, tombstone: true);

        Assert.Null(_coordinator.Get(Txn));
    }

    [Theory]
    [InlineData(10, ErrorCode.InvalidTxnState)]
    [InlineData(11, ErrorCode.TransactionAbortable)]
    public void VerifyProducePartition_NotInTransaction_ErrorByVersion(short produceVersion, ErrorCode expected)
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T0]);

        Assert.Equal(ErrorCode.None, _coordinator.VerifyProducePartition(Txn, id, epoch, T0, produceVersion));
        Assert.Equal(expected, _coordinator.VerifyProducePartition(Txn, id, epoch, T1, produceVersion));
        Assert.Equal(ErrorCode.InvalidProducerEpoch, _coordinator.VerifyProducePartition(Txn, id, (short)(epoch + 1), T0, produceVersion));
    }

    [Fact]
    public void VerifyProducePartition_V12_AddsPartitionAndStartsTransaction()
    {
        var (id, epoch) = Init();

        Assert.Equal(ErrorCode.None, _coordinator.VerifyProducePartition(Txn, id, epoch, T0, 12));

        Assert.Equal(TransactionState.Ongoing, State.State);
        Assert.Equal(2, State.ClientTransactionVersion);
        Assert.Equal([T0], State.Partitions);
    }

    /// <summary>Kafka's ReplicaManager skips verification when it is disabled, unless the request adds the partition (Produce v12+, Transactions V2).</summary>
    [Fact]
    public void VerifyProducePartition_VerificationDisabled_SkippedButV12StillAdds()
    {
        _coordinator.Dispose();
        _coordinator = Create(new TransactionCoordinatorConfig
        {
            TransactionMaxTimeoutMs = 900_000,
            TransactionalIdExpirationMs = 3_600_000,
            RemoveExpiredTransactionalIdsIntervalMs = 60_000,
            PartitionVerificationEnable = false,
        });
        var (id, epoch) = Init();

        Assert.Equal(ErrorCode.None, _coordinator.VerifyProducePartition(Txn, id, epoch, T1, 11));
        Assert.Empty(State.Partitions);
        Assert.Equal(ErrorCode.None, _coordinator.VerifyProducePartition(Txn, id, epoch, T0, 12));

        Assert.Equal(TransactionState.Ongoing, State.State);
        Assert.Equal([T0], State.Partitions);
    }

    [Fact]
    public void VerifyProducePartition_DuringPrepare_NotEnoughReplicas()
    {
        Replay(new TransactionMetadata(Txn) { ProducerId = 9, ProducerEpoch = 3, State = TransactionState.PrepareAbort, TimeoutMs = TimeoutMs, Partitions = [T0] });

        Assert.Equal(ErrorCode.NotEnoughReplicas, _coordinator.VerifyProducePartition(Txn, 9, 3, T0, 12));
    }

    [Fact]
    public void Describe_OngoingTransaction_StateAndPartitions()
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T1, T0]);

        var description = _coordinator.Describe(Txn);

        Assert.Equal((ErrorCode.None, "Ongoing", TimeoutMs, id, epoch), (description.Error, description.State, description.TimeoutMs, description.ProducerId, description.ProducerEpoch));
        Assert.Equal([T0, T1], description.Partitions);
        Assert.Equal(ErrorCode.TransactionalIdNotFound, _coordinator.Describe("other").Error);
        Assert.Equal(ErrorCode.InvalidRequest, _coordinator.Describe("").Error);
    }

    [Fact]
    public void List_CatastrophicPattern_MatchesEveryIdInLinearTime()
    {
        // (a+)+b against 40 a's backtracks until the per-match timeout: 20 ids would take 20 s.
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(ErrorCode.None, _coordinator.InitProducerId(new string('a', 40) + i, TimeoutMs).Error);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var listed = _coordinator.List([], [], -1, "(a+)+b");

        Assert.Equal(ErrorCode.None, listed.Error);
        Assert.Empty(listed.Transactions);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
        Assert.Equal(20, _coordinator.List([], [], -1, "(a+)+[0-9]+").Transactions.Count);
        Assert.Equal(20, _coordinator.List([], [], -1, @"(a)\1+[0-9]+").Transactions.Count); // a backreference: Java's engine runs it
    }

    [Fact]
    public void List_Filters_MatchEveryFilter()
    {
        var (id, epoch) = Init();
        _coordinator.AddPartitions(Txn, id, epoch, [T0]);
        _coordinator.InitProducerId("other-txn", TimeoutMs);
        _time.Advance(500);

        Assert.Equal(2, _coordinator.List([], []).Transactions.Count);
        Assert.Equal([Txn], _coordinator.List(["Ongoing"], []).Transactions.Select(t => t.TransactionalId));
        Assert.Equal(["other-txn"], _coordinator.List([], [id + 1]).Transactions.Select(t => t.TransactionalId));
        var unknown = _coordinator.List(["Bogus"], []);
        Assert.Equal(["Bogus"], unknown.UnknownStates);
        Assert.Empty(unknown.Transactions);
        Assert.Equal([Txn], _coordinator.List([], [], durationFilterMs: 100, transactionalIdPattern: null).Transactions.Where(t => t.State == "Ongoing").Select(t => t.TransactionalId));
        Assert.Empty(_coordinator.List(["Ongoing"], [], durationFilterMs: 1000).Transactions);
        Assert.Equal([Txn], _coordinator.List([], [], -1, "txn-.*").Transactions.Select(t => t.TransactionalId));
        Assert.Empty(_coordinator.List([], [], -1, "txn").Transactions);
        Assert.Equal(ErrorCode.InvalidRegularExpression, _coordinator.List([], [], -1, "(").Error);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void TransactionRecords_RoundTrip_KeepsFields(short transactionVersion)
    {
        var transit = new TxnTransit(5, 4, -1, 7, 6, 1234, TransactionState.Ongoing, [T0, T1, new TopicPartition("u", 3)], 100, 200, 2);

        var value = TransactionRecords.Value(transit, transactionVersion);
        var read = TransactionRecords.ReadValue(Txn, value);

        Assert.Equal(transactionVersion >= 1 ? 1 : 0, (value[0] << 8) | value[1]);
        Assert.Equal((5L, (short)7, 1234, TransactionState.Ongoing, 100L, 200L), (read.ProducerId, read.ProducerEpoch, read.TimeoutMs, read.State, read.StartTimestampMs, read.LastUpdateTimestampMs));
        Assert.Equal(new HashSet<TopicPartition> { T0, T1, new("u", 3) }, read.Partitions);
        Assert.Equal(transactionVersion >= 1 ? (4L, (short)2) : (-1L, (short)0), (read.PreviousProducerId, read.ClientTransactionVersion));
        Assert.Equal(new byte[] { 0, 0, 0, 5, (byte)'t', (byte)'x', (byte)'n', (byte)'-', (byte)'1' }, TransactionRecords.Key(Txn));
    }

    private void Replay(TransactionMetadata metadata) =>
        _coordinator.Replay(metadata.TransactionalId, TransactionRecords.Value(metadata.Current(), 2), tombstone: false);

    private sealed class MemoryTxnLog : ITransactionLog
    {
        public List<(byte[] Key, byte[]? Value)> Records { get; } = [];

        public ErrorCode FailWith { get; set; }

        public void Append(string transactionalId, byte[] key, byte[]? value)
        {
            if (FailWith != ErrorCode.None)
            {
                throw new TransactionLogException(FailWith, "failing");
            }

            Records.Add((key, value));
        }

        public int CoordinatorEpoch(string transactionalId) => 1;
    }

    private sealed class FakeMarkers : ITransactionMarkerSink
    {
        public List<(TopicPartition Partition, long ProducerId, short Epoch, bool Commit)> Written { get; } = [];

        public HashSet<TopicPartition> FailingPartitions { get; } = [];

        public ErrorCode Write(TopicPartition partition, long producerId, short producerEpoch, int coordinatorEpoch, bool commit)
        {
            Written.Add((partition, producerId, producerEpoch, commit));
            return FailingPartitions.Contains(partition) ? ErrorCode.NotLeaderOrFollower : ErrorCode.None;
        }
    }

    private sealed class FakeProducerIds : IProducerIdSource
    {
        private long _next = 1000;

        public long GenerateProducerId() => _next++;
    }
}
