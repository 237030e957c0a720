using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>Transactional offsets in __consumer_offsets read back after a restart: pending until their marker.</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class TxnOffsetPersistenceTests : IDisposable
{
    private readonly List<string> _dirs = [];

    public void Dispose()
    {
        foreach (var dir in _dirs)
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private TestBroker Start(string? dataDir = null)
    {
        var broker = new TestBroker("group.initial.rebalance.delay.ms=0", dataDir, keepData: true);

        // The group side in isolation: the transaction coordinator's check is covered by TransactionOffsetsEndToEndTests.
        broker.Context.TransactionVerifier = null;
        if (dataDir is null)
        {
            _dirs.Add(broker.DataDir);
            DataPath.CreateTopic(broker, "t", partitions: 2);
            Assert.True(broker.Context.ConsumerOffsets.EnsureCreated());
        }

        return broker;
    }

    /// <summary>A plain commit of 10 on t-0, then a transactional commit of 42 on t-0 and 43 on t-1.</summary>
    private static async Task CommitPlainThenTransactionalAsync(TestBroker broker)
    {
        await GroupFlow.CommitAsync(broker, "g", -1, "", "t", 10);
        var request = TxnFlow.Request(3, "g", "t", 42);
        request.Topics[0].Partitions.Add(new() { PartitionIndex = 1, CommittedOffset = 43, CommittedLeaderEpoch = 7, CommittedMetadata = "m1" });
        var response = await TxnFlow.CommitAsync(broker, 3, request);
        Assert.All(response.Topics[0].Partitions, p => Assert.Equal(0, p.ErrorCode));
    }

    [Fact]
    public async Task Restart_PendingThenCommitMarkerInLog_OffsetsCommitted()
    {
        string dir;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            await CommitPlainThenTransactionalAsync(broker);
            TxnFlow.WriteMarker(broker, "g", commit: true);
        }

        using var restarted = Start(dir);
        Assert.Equal((42L, 7, "txn-meta", ErrorCode.None), await TxnFlow.FetchAsync(restarted, 7, "g", "t", 0, requireStable: true));
        Assert.Equal((43L, 7, "m1", ErrorCode.None), await TxnFlow.FetchAsync(restarted, 7, "g", "t", 1, requireStable: true));
        Assert.False(restarted.Context.GroupCoordinator.HasPendingTransactionalOffsets("g"));
    }

    [Fact]
    public async Task Restart_PendingThenAbortMarkerInLog_PlainOffsetOnly()
    {
        string dir;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            await CommitPlainThenTransactionalAsync(broker);
            TxnFlow.WriteMarker(broker, "g", commit: false);
        }

        using var restarted = Start(dir);
        Assert.Equal((10L, ErrorCode.None), Select(await TxnFlow.FetchAsync(restarted, 7, "g", "t", 0, requireStable: true)));
        Assert.Equal((-1L, ErrorCode.None), Select(await TxnFlow.FetchAsync(restarted, 7, "g", "t", 1, requireStable: true)));
    }

    [Fact]
    public async Task Restart_PlainCommitAfterPending_PlainCommitWinsAfterMarker()
    {
        string dir;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            await CommitPlainThenTransactionalAsync(broker);
            await GroupFlow.CommitAsync(broker, "g", -1, "", "t", 99);
            TxnFlow.WriteMarker(broker, "g", commit: true);
            Assert.Equal((99L, ErrorCode.None), Select(await TxnFlow.FetchAsync(broker, 7, "g", "t", 0, requireStable: true)));
        }

        using var restarted = Start(dir);
        Assert.Equal((99L, ErrorCode.None), Select(await TxnFlow.FetchAsync(restarted, 7, "g", "t", 0, requireStable: true)));
        Assert.Equal((43L, ErrorCode.None), Select(await TxnFlow.FetchAsync(restarted, 7, "g", "t", 1, requireStable: true)));
    }

    [Fact]
    public async Task Restart_PendingWithoutMarker_StaysPendingUntilMarkerAfterRestart()
    {
        string dir;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            await CommitPlainThenTransactionalAsync(broker);
        }

        using var restarted = Start(dir);
        Assert.Equal((-1L, ErrorCode.UnstableOffsetCommit), Select(await TxnFlow.FetchAsync(restarted, 7, "g", "t", 0, requireStable: true)));
        Assert.Equal((10L, ErrorCode.None), Select(await TxnFlow.FetchAsync(restarted, 7, "g", "t", 0, requireStable: false)));

        TxnFlow.WriteMarker(restarted, "g", commit: true);

        Assert.Equal((42L, ErrorCode.None), Select(await TxnFlow.FetchAsync(restarted, 7, "g", "t", 0, requireStable: true)));
    }

    [Fact]
    public async Task Restart_GroupWithOnlyPendingOffsets_ExistsAsEmptyGroup()
    {
        string dir;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            Assert.Equal(ErrorCode.None, TxnFlow.SingleError(await TxnFlow.CommitAsync(broker, 0, TxnFlow.Request(0, "pending-only", "t", 5))));
        }

        using var restarted = Start(dir);
        Assert.Equal(ClassicGroupState.Empty, restarted.Context.GroupCoordinator.GroupState("pending-only"));
        Assert.True(restarted.Context.GroupCoordinator.HasPendingTransactionalOffsets("pending-only"));
    }

    private static (long, ErrorCode) Select((long Offset, int LeaderEpoch, string? Metadata, ErrorCode Error) fetched) => (fetched.Offset, fetched.Error);
}
