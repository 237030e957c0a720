using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// Offsets in a transaction through every piece at once: InitProducerId, AddOffsetsToTxn, TxnOffsetCommit
/// (checked against the transaction coordinator), EndTxn writing the marker to __consumer_offsets, OffsetFetch.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class TransactionOffsetsEndToEndTests : IDisposable
{
    private readonly TestBroker _broker = new("transaction.state.log.num.partitions=3\noffsets.topic.num.partitions=3\ngroup.initial.rebalance.delay.ms=0");

    public TransactionOffsetsEndToEndTests()
    {
        _broker.Metadata.CreateTopic("t", 1, 1);
        Assert.True(_broker.Context.ConsumerOffsets.EnsureCreated());
    }

    public void Dispose() => _broker.Dispose();

    private Task<T> Send<T>(ApiKey key, short version, IKafkaMessage body)
        where T : IKafkaMessage, new() => BrokerExchange.SendAsync<T>(_broker, key, version, body);

    private async Task<(long Id, short Epoch)> InitAsync()
    {
        var response = await Send<InitProducerIdResponse>(ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = "tx-1", TransactionTimeoutMs = 60_000 });
        Assert.Equal(0, response.ErrorCode);
        return (response.ProducerId, response.ProducerEpoch);
    }

    private async Task<ErrorCode> CommitOffsetAsync(short version, long id, short epoch, long offset)
    {
        var request = TxnFlow.Request(version, "g", "t", offset);
        (request.ProducerId, request.ProducerEpoch) = (id, epoch);
        return TxnFlow.SingleError(await TxnFlow.CommitAsync(_broker, version, request));
    }

    private async Task EndAsync(long id, short epoch, bool commit)
    {
        var end = await Send<EndTxnResponse>(ApiKey.EndTxn, 4, new EndTxnRequest { TransactionalId = "tx-1", ProducerId = id, ProducerEpoch = epoch, Committed = commit });
        Assert.Equal(0, end.ErrorCode);
    }

    [Theory]
    [InlineData(true, 42L)]
    [InlineData(false, -1L)]
    public async Task TxnOffsetCommit_AfterAddOffsetsToTxn_VisibleOnlyWhenCommitted(bool commit, long expected)
    {
        var (id, epoch) = await InitAsync();
        var add = await Send<AddOffsetsToTxnResponse>(ApiKey.AddOffsetsToTxn, 3, new AddOffsetsToTxnRequest { TransactionalId = "tx-1", ProducerId = id, ProducerEpoch = epoch, GroupId = "g" });
        Assert.Equal(0, add.ErrorCode);

        Assert.Equal(ErrorCode.None, await CommitOffsetAsync(3, id, epoch, 42));
        Assert.Equal((-1L, ErrorCode.UnstableOffsetCommit), Select(await TxnFlow.FetchAsync(_broker, 8, "g", "t", 0, requireStable: true)));
        await EndAsync(id, epoch, commit);

        Assert.Equal((expected, ErrorCode.None), Select(await TxnFlow.FetchAsync(_broker, 8, "g", "t", 0, requireStable: true)));
    }

    [Fact]
    public async Task TxnOffsetCommit_GroupNotAddedToTransaction_RefusedAndNothingPending()
    {
        var (id, epoch) = await InitAsync();

        Assert.NotEqual(ErrorCode.None, await CommitOffsetAsync(3, id, epoch, 42));
        Assert.Equal((-1L, ErrorCode.None), Select(await TxnFlow.FetchAsync(_broker, 8, "g", "t", 0, requireStable: true)));
    }

    [Fact]
    public async Task TxnOffsetCommit_V5TransactionsV2_OffsetsPartitionAddedImplicitly()
    {
        var (id, epoch) = await InitAsync();

        Assert.Equal(ErrorCode.None, await CommitOffsetAsync(5, id, epoch, 42));
        await EndAsync(id, epoch, commit: true);

        Assert.Equal((42L, ErrorCode.None), Select(await TxnFlow.FetchAsync(_broker, 8, "g", "t", 0, requireStable: true)));
    }

    private static (long, ErrorCode) Select((long Offset, int LeaderEpoch, string? Metadata, ErrorCode Error) fetched) => (fetched.Offset, fetched.Error);
}

/// <summary>
/// transaction.partition.verification.enable against the real transaction coordinator: as Kafka's ReplicaManager,
/// verification is skipped when disabled unless the request adds the partition (TxnOffsetCommit v5+, Transactions V2).
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class TxnOffsetCommitVerificationConfigTests
{
    [Theory]
    [InlineData(0, true, ErrorCode.InvalidTxnState)]
    [InlineData(1, true, ErrorCode.InvalidTxnState)]
    [InlineData(2, true, ErrorCode.InvalidTxnState)]
    [InlineData(3, true, ErrorCode.InvalidTxnState)]
    [InlineData(4, true, ErrorCode.TransactionAbortable)]
    [InlineData(5, true, ErrorCode.None)]
    [InlineData(0, false, ErrorCode.None)]
    [InlineData(1, false, ErrorCode.None)]
    [InlineData(2, false, ErrorCode.None)]
    [InlineData(3, false, ErrorCode.None)]
    [InlineData(4, false, ErrorCode.None)]
    [InlineData(5, false, ErrorCode.None)]
    public async Task TxnOffsetCommit_WithoutAddOffsetsToTxn_VerifiedPerConfigAndVersion(short version, bool verification, ErrorCode expected)
    {
        using var broker = new TestBroker($"offsets.topic.num.partitions=3\ntransaction.state.log.num.partitions=3\ntransaction.partition.verification.enable={(verification ? "true" : "false")}");
        DataPath.CreateTopic(broker, "t");
        Assert.True(broker.Context.ConsumerOffsets.EnsureCreated());
        var init = await BrokerExchange.SendAsync<InitProducerIdResponse>(broker, ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = "tx-1", TransactionTimeoutMs = 60_000 });
        var request = TxnFlow.Request(version, "g", "t", 42);
        (request.ProducerId, request.ProducerEpoch) = (init.ProducerId, init.ProducerEpoch);

        var error = TxnFlow.SingleError(await TxnFlow.CommitAsync(broker, version, request));

        Assert.Equal(expected, error);
        Assert.Equal(expected == ErrorCode.None, broker.Context.GroupCoordinator.HasPendingTransactionalOffsets("g"));
        var offsetsPartition = ConsumerOffsetsTopic.PartitionFor("g", 3);
        var inTransaction = broker.Context.TransactionCoordinator.VerifyPartition(
            "tx-1", init.ProducerId, init.ProducerEpoch, new TopicPartition(ConsumerOffsetsTopic.Name, offsetsPartition), addIfMissing: false);
        Assert.Equal(version >= 5 ? ErrorCode.None : ErrorCode.TransactionAbortable, inTransaction); // only v5 adds the partition
    }
}
