using System.Buffers;
using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, DescribeTransactions, ListTransactions,
/// FindCoordinator for transactional ids, the transaction.version feature and produce-side verification,
/// through the dispatcher at every advertised version; and the coordinator's state across a restart.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class TransactionHandlerTests : IDisposable
{
    private const string Config = "transaction.state.log.num.partitions=3\noffsets.topic.num.partitions=3\ngroup.initial.rebalance.delay.ms=0";
    private TestBroker _broker;

    public TransactionHandlerTests()
    {
        _broker = new TestBroker(Config);
        _broker.Metadata.CreateTopic("t", 2, 1);
    }

    public void Dispose() => _broker.Dispose();

    private Task<T> Send<T>(ApiKey key, short version, IKafkaMessage body)
        where T : IKafkaMessage, new() => BrokerExchange.SendAsync<T>(_broker, key, version, body);

    private async Task<(long Id, short Epoch)> Init(string transactionalId = "txn", short version = 4)
    {
        var response = await Send<InitProducerIdResponse>(ApiKey.InitProducerId, version, new InitProducerIdRequest { TransactionalId = transactionalId, TransactionTimeoutMs = 60_000 });
        Assert.Equal(0, response.ErrorCode);
        return (response.ProducerId, response.ProducerEpoch);
    }

    private Task<AddPartitionsToTxnResponse> AddV3(long id, short epoch, short version = 3, string topic = "t", int partition = 0) =>
        Send<AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, version, new AddPartitionsToTxnRequest
        {
            V3AndBelowTransactionalId = "txn",
            V3AndBelowProducerId = id,
            V3AndBelowProducerEpoch = epoch,
            V3AndBelowTopics = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = topic, Partitions = [partition] }],
        });

    private List<RecordBatchHeader> Batches(string topic, int partition)
    {
        var headers = new List<RecordBatchHeader>();
        var log = _broker.Replicas.GetLog(topic, partition)!;
        log.ForEachBatch(log.LogStartOffset, (ReadOnlySpan<byte> _, in RecordBatchHeader header) => headers.Add(header));
        return headers;
    }

    // ------------------------------------------------------------------ InitProducerId

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task InitProducerId_EveryVersion_IdAndEpochThenBump(short version)
    {
        var idempotent = await Send<InitProducerIdResponse>(ApiKey.InitProducerId, version, new InitProducerIdRequest { TransactionalId = null, TransactionTimeoutMs = 0 });
        var first = await Init("txn", version);
        var second = await Init("txn", version);

        Assert.Equal((0, (short)0), (idempotent.ErrorCode, idempotent.ProducerEpoch));
        Assert.True(idempotent.ProducerId >= 0);
        Assert.NotEqual(idempotent.ProducerId, first.Id);
        Assert.Equal((first.Id, (short)0), first);
        Assert.Equal((first.Id, (short)1), second);
        Assert.NotNull(_broker.Metadata.Image.GetTopic(TransactionStateTopic.Name));
    }

    [Fact]
    public async Task InitProducerId_V6Enable2Pc_TransactionalIdAuthorizationFailed()
    {
        var response = await Send<InitProducerIdResponse>(ApiKey.InitProducerId, 6, new InitProducerIdRequest { TransactionalId = "txn", TransactionTimeoutMs = 60_000, Enable2Pc = true });

        Assert.Equal((short)ErrorCode.TransactionalIdAuthorizationFailed, response.ErrorCode);
        Assert.Equal((-1L, (short)-1, -1L, (short)-1), (response.ProducerId, response.ProducerEpoch, response.OngoingTxnProducerId, response.OngoingTxnProducerEpoch));
    }

    [Fact]
    public async Task InitProducerId_TimeoutAboveMax_InvalidTransactionTimeout()
    {
        var response = await Send<InitProducerIdResponse>(ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = "txn", TransactionTimeoutMs = 900_001 });

        Assert.Equal((short)ErrorCode.InvalidTransactionTimeout, response.ErrorCode);
    }

    [Theory]
    [InlineData(3, ErrorCode.InvalidProducerEpoch)]
    [InlineData(4, ErrorCode.ProducerFenced)]
    public async Task InitProducerId_UnknownProducerId_FencedErrorByVersion(short version, ErrorCode expected)
    {
        await Init();

        var response = await Send<InitProducerIdResponse>(ApiKey.InitProducerId, version, new InitProducerIdRequest { TransactionalId = "txn", TransactionTimeoutMs = 1000, ProducerId = 999_999, ProducerEpoch = 4 });

        Assert.Equal((short)expected, response.ErrorCode);
    }

    [Fact]
    public async Task InitProducerId_V3ProducerIdWithoutEpoch_InvalidRequest()
    {
        var response = await Send<InitProducerIdResponse>(ApiKey.InitProducerId, 3, new InitProducerIdRequest { TransactionalId = "txn", TransactionTimeoutMs = 1000, ProducerId = 5, ProducerEpoch = -1 });

        Assert.Equal((short)ErrorCode.InvalidRequest, response.ErrorCode);
    }

    // ------------------------------------------------------------------ AddPartitionsToTxn

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task AddPartitionsToTxn_ClientVersions_AddsPartition(short version)
    {
        var (id, epoch) = await Init();

        var response = await AddV3(id, epoch, version);

        var result = Assert.Single(Assert.Single(response.ResultsByTopicV3AndBelow).ResultsByPartition);
        Assert.Equal((0, (short)0), (result.PartitionIndex, result.PartitionErrorCode));
        Assert.Equal([new TopicPartition("t", 0)], _broker.Context.TransactionCoordinator.PartitionsOf("txn"));
    }

    [Theory]
    [InlineData(1, ErrorCode.InvalidProducerEpoch)]
    [InlineData(2, ErrorCode.ProducerFenced)]
    public async Task AddPartitionsToTxn_WrongEpoch_FencedErrorByVersion(short version, ErrorCode expected)
    {
        var (id, epoch) = await Init();

        var response = await AddV3(id, (short)(epoch + 3), version);

        Assert.Equal((short)expected, response.ResultsByTopicV3AndBelow[0].ResultsByPartition[0].PartitionErrorCode);
    }

    [Fact]
    public async Task AddPartitionsToTxn_UnknownPartition_UnknownTopicOrPartitionAndOthersNotAttempted()
    {
        var (id, epoch) = await Init();

        var response = await Send<AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, 3, new AddPartitionsToTxnRequest
        {
            V3AndBelowTransactionalId = "txn",
            V3AndBelowProducerId = id,
            V3AndBelowProducerEpoch = epoch,
            V3AndBelowTopics =
            [
                new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = "t", Partitions = [0, 7] },
                new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = "missing", Partitions = [0] },
            ],
        });

        var errors = response.ResultsByTopicV3AndBelow.SelectMany(t => t.ResultsByPartition.Select(p => (t.Name, p.PartitionIndex, (ErrorCode)p.PartitionErrorCode))).ToHashSet();
        Assert.Equal(
            new HashSet<(string, int, ErrorCode)> { ("t", 0, ErrorCode.OperationNotAttempted), ("t", 7, ErrorCode.UnknownTopicOrPartition), ("missing", 0, ErrorCode.UnknownTopicOrPartition) },
            errors);
        Assert.Empty(_broker.Context.TransactionCoordinator.PartitionsOf("txn"));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    public async Task AddPartitionsToTxn_BrokerVersions_VerifyOnlyAndAdd(short version)
    {
        var (id, epoch) = await Init();
        AddPartitionsToTxnRequest.AddPartitionsToTxnTransaction Transaction(bool verifyOnly) => new()
        {
            TransactionalId = "txn",
            ProducerId = id,
            ProducerEpoch = epoch,
            VerifyOnly = verifyOnly,
            Topics = [new AddPartitionsToTxnRequest.AddPartitionsToTxnTopic { Name = "t", Partitions = [1] }],
        };

        var verify = await Send<AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, version, new AddPartitionsToTxnRequest { Transactions = [Transaction(true)] });
        var add = await Send<AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, version, new AddPartitionsToTxnRequest { Transactions = [Transaction(false)] });
        var verifyAgain = await Send<AddPartitionsToTxnResponse>(ApiKey.AddPartitionsToTxn, version, new AddPartitionsToTxnRequest { Transactions = [Transaction(true)] });

        static short Error(AddPartitionsToTxnResponse r) => Assert.Single(Assert.Single(Assert.Single(r.ResultsByTransaction).TopicResults).ResultsByPartition).PartitionErrorCode;
        Assert.Equal((short)ErrorCode.TransactionAbortable, Error(verify));
        Assert.Equal(0, Error(add));
        Assert.Equal(0, Error(verifyAgain));
        Assert.Equal(0, add.ErrorCode);
        Assert.Equal("txn", add.ResultsByTransaction[0].TransactionalId);
        Assert.Equal(version >= 5 ? 2 : 0, _broker.Context.TransactionCoordinator.Get("txn")!.ClientTransactionVersion);
    }

    // ------------------------------------------------------------------ AddOffsetsToTxn

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task AddOffsetsToTxn_EveryVersion_AddsGroupOffsetsPartition(short version)
    {
        var (id, epoch) = await Init();

        var response = await Send<AddOffsetsToTxnResponse>(ApiKey.AddOffsetsToTxn, version, new AddOffsetsToTxnRequest { TransactionalId = "txn", ProducerId = id, ProducerEpoch = epoch, GroupId = "g" });
        var fenced = await Send<AddOffsetsToTxnResponse>(ApiKey.AddOffsetsToTxn, version, new AddOffsetsToTxnRequest { TransactionalId = "txn", ProducerId = id, ProducerEpoch = (short)(epoch + 1), GroupId = "g" });

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal((short)(version < 2 ? ErrorCode.InvalidProducerEpoch : ErrorCode.ProducerFenced), fenced.ErrorCode);
        var partition = Assert.Single(_broker.Context.TransactionCoordinator.PartitionsOf("txn"));
        Assert.Equal(new TopicPartition(ConsumerOffsetsTopic.Name, ConsumerOffsetsTopic.PartitionFor("g", 3)), partition);
    }

    // ------------------------------------------------------------------ EndTxn

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task EndTxn_EveryVersion_CommitMarkerWritten(short version)
    {
        var (id, epoch) = await Init();
        await AddV3(id, epoch);

        var response = await Send<EndTxnResponse>(ApiKey.EndTxn, version, new EndTxnRequest { TransactionalId = "txn", ProducerId = id, ProducerEpoch = epoch, Committed = true });

        Assert.Equal(0, response.ErrorCode);
        var markerEpoch = version >= 5 ? (short)(epoch + 1) : epoch;
        Assert.Equal(version >= 5 ? (id, markerEpoch) : (-1L, (short)-1), (response.ProducerId, response.ProducerEpoch));
        var marker = Assert.Single(Batches("t", 0));
        Assert.True(marker.IsControl);
        Assert.Equal((id, markerEpoch), (marker.ProducerId, marker.ProducerEpoch));
        Assert.Equal(TransactionState.CompleteCommit, _broker.Context.TransactionCoordinator.Get("txn")!.State);
    }

    [Theory]
    [InlineData(1, ErrorCode.InvalidProducerEpoch)]
    [InlineData(2, ErrorCode.ProducerFenced)]
    public async Task EndTxn_WrongEpoch_FencedErrorByVersion(short version, ErrorCode expected)
    {
        var (id, epoch) = await Init();
        await AddV3(id, epoch);

        var response = await Send<EndTxnResponse>(ApiKey.EndTxn, version, new EndTxnRequest { TransactionalId = "txn", ProducerId = id, ProducerEpoch = (short)(epoch + 2), Committed = false });

        Assert.Equal((short)expected, response.ErrorCode);
    }

    [Fact]
    public async Task EndTxn_NoTransaction_InvalidTxnState()
    {
        var (id, epoch) = await Init();

        var response = await Send<EndTxnResponse>(ApiKey.EndTxn, 4, new EndTxnRequest { TransactionalId = "txn", ProducerId = id, ProducerEpoch = epoch, Committed = true });

        Assert.Equal((short)ErrorCode.InvalidTxnState, response.ErrorCode);
    }

    // ------------------------------------------------------------------ Describe / List

    [Fact]
    public async Task DescribeTransactions_V0_OngoingAndUnknown()
    {
        var (id, epoch) = await Init();
        await AddV3(id, epoch, partition: 1);

        var response = await Send<DescribeTransactionsResponse>(ApiKey.DescribeTransactions, 0, new DescribeTransactionsRequest { TransactionalIds = ["txn", "nope"] });

        var known = response.TransactionStates[0];
        Assert.Equal((0, "txn", "Ongoing", 60_000, id, epoch), (known.ErrorCode, known.TransactionalId, known.TransactionState, known.TransactionTimeoutMs, known.ProducerId, known.ProducerEpoch));
        Assert.True(known.TransactionStartTimeMs > 0);
        Assert.Equal("t", Assert.Single(known.Topics).Topic);
        Assert.Equal([1], known.Topics[0].Partitions);
        Assert.Equal(((short)ErrorCode.TransactionalIdNotFound, "nope"), (response.TransactionStates[1].ErrorCode, response.TransactionStates[1].TransactionalId));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task ListTransactions_EveryVersion_FiltersByState(short version)
    {
        var (id, epoch) = await Init();
        await AddV3(id, epoch);
        await Init("other");

        var all = await Send<ListTransactionsResponse>(ApiKey.ListTransactions, version, new ListTransactionsRequest());
        var ongoing = await Send<ListTransactionsResponse>(ApiKey.ListTransactions, version, new ListTransactionsRequest { StateFilters = ["Ongoing", "Weird"] });

        Assert.Equal(["other", "txn"], all.TransactionStates.Select(t => t.TransactionalId).Order());
        var listed = Assert.Single(ongoing.TransactionStates);
        Assert.Equal(("txn", id, "Ongoing"), (listed.TransactionalId, listed.ProducerId, listed.TransactionState));
        Assert.Equal(["Weird"], ongoing.UnknownStateFilters);
    }

    [Fact]
    public async Task ListTransactions_V2Pattern_WholeIdMatch()
    {
        await Init("orders-1");
        await Init("payments-1");

        var response = await Send<ListTransactionsResponse>(ApiKey.ListTransactions, 2, new ListTransactionsRequest { TransactionalIdPattern = "orders-.*" });
        var invalid = await Send<ListTransactionsResponse>(ApiKey.ListTransactions, 2, new ListTransactionsRequest { TransactionalIdPattern = "[" });

        Assert.Equal(["orders-1"], response.TransactionStates.Select(t => t.TransactionalId));
        Assert.Equal((short)ErrorCode.InvalidRegularExpression, invalid.ErrorCode);
    }

    [Fact]
    public async Task ListTransactions_V1DurationFilter_OnlyLongerRunning()
    {
        var (id, epoch) = await Init();
        await AddV3(id, epoch);

        var response = await Send<ListTransactionsResponse>(ApiKey.ListTransactions, 1, new ListTransactionsRequest { StateFilters = ["Ongoing"], DurationFilter = 3_600_000 });

        Assert.Empty(response.TransactionStates);
    }

    // ------------------------------------------------------------------ FindCoordinator, ApiVersions

    [Fact]
    public async Task FindCoordinator_TransactionKey_CreatesTransactionStateTopic()
    {
        var response = await Send<FindCoordinatorResponse>(ApiKey.FindCoordinator, 4, new FindCoordinatorRequest { KeyType = 1, CoordinatorKeys = ["txn"] });

        Assert.Equal(0, Assert.Single(response.Coordinators).ErrorCode);
        var topic = _broker.Metadata.Image.GetTopic(TransactionStateTopic.Name);
        Assert.NotNull(topic);
        Assert.Equal(3, topic.Partitions.Count);
        Assert.Equal("compact", _broker.Replicas.ConfigFor(TransactionStateTopic.Name).CleanupPolicy.ToString().ToLowerInvariant());
    }

    [Theory]
    [InlineData(2, false)]
    [InlineData(3, true)]
    [InlineData(4, true)]
    public async Task ApiVersions_V3Plus_TransactionVersionFeature(short version, bool expectFeatures)
    {
        var response = await Send<ApiVersionsResponse>(ApiKey.ApiVersions, version, new ApiVersionsRequest { ClientSoftwareName = "t", ClientSoftwareVersion = "1" });

        if (!expectFeatures)
        {
            Assert.Empty(response.SupportedFeatures);
            return;
        }

        var supported = Assert.Single(response.SupportedFeatures, f => f.Name == "transaction.version");
        Assert.Equal((0, 2), (supported.MinVersion, supported.MaxVersion));
        var finalized = Assert.Single(response.FinalizedFeatures, f => f.Name == "transaction.version");
        Assert.Equal((2, 2), (finalized.MinVersionLevel, finalized.MaxVersionLevel));
        Assert.True(response.FinalizedFeaturesEpoch >= 0);
    }

    // ------------------------------------------------------------------ Produce verification

    private async Task<ProduceResponse.PartitionProduceResponse> ProduceTransactional(short version, long id, short epoch, int partition = 0)
    {
        using var builder = new RecordBatchBuilder(CompressionType.None, id, epoch, 0, isTransactional: true);
        builder.Append(1, null, "v"u8.ToArray());
        var batch = new ArrayBufferWriter<byte>();
        builder.WriteTo(batch);
        var response = await Send<ProduceResponse>(ApiKey.Produce, version, new ProduceRequest
        {
            TransactionalId = "txn",
            Acks = -1,
            TimeoutMs = 1000,
            TopicData =
            [
                new ProduceRequest.TopicProduceData
                {
                    Name = "t",
                    TopicId = _broker.Metadata.Image.GetTopic("t")!.Id,
                    PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = new ReadOnlySequence<byte>(batch.WrittenMemory) }],
                },
            ],
        });
        return response.Responses[0].PartitionResponses[0];
    }

    [Theory]
    [InlineData(9, ErrorCode.InvalidTxnState)]
    [InlineData(11, ErrorCode.TransactionAbortable)]
    public async Task Produce_TransactionalPartitionNotAdded_RefusedByVersion(short version, ErrorCode expected)
    {
        var (id, epoch) = await Init();

        var result = await ProduceTransactional(version, id, epoch);

        Assert.Equal((short)expected, result.ErrorCode);
        Assert.Empty(Batches("t", 0));
    }

    [Fact]
    public async Task Produce_V12TransactionalBatch_PartitionAddedImplicitly()
    {
        var (id, epoch) = await Init();

        var result = await ProduceTransactional(12, id, epoch, partition: 1);

        Assert.Equal(0, result.ErrorCode);
        Assert.Equal([new TopicPartition("t", 1)], _broker.Context.TransactionCoordinator.PartitionsOf("txn"));
        Assert.Equal(TransactionState.Ongoing, _broker.Context.TransactionCoordinator.Get("txn")!.State);
    }

    [Fact]
    public async Task Produce_AddedPartitionWrongEpoch_InvalidProducerEpoch()
    {
        var (id, epoch) = await Init();
        await AddV3(id, epoch);

        Assert.Equal(0, (await ProduceTransactional(9, id, epoch)).ErrorCode);
        Assert.Equal((short)ErrorCode.InvalidProducerEpoch, (await ProduceTransactional(9, id, (short)(epoch + 1))).ErrorCode);
    }

    // ------------------------------------------------------------------ restart

    [Fact]
    public async Task Restart_TransactionStateSurvives()
    {
        var (id, epoch) = await Init();
        await AddV3(id, epoch);
        await Send<EndTxnResponse>(ApiKey.EndTxn, 3, new EndTxnRequest { TransactionalId = "txn", ProducerId = id, ProducerEpoch = epoch, Committed = true });
        Restart();

        var described = (await Send<DescribeTransactionsResponse>(ApiKey.DescribeTransactions, 0, new DescribeTransactionsRequest { TransactionalIds = ["txn"] })).TransactionStates[0];
        Assert.Equal((0, "CompleteCommit", id, epoch), (described.ErrorCode, described.TransactionState, described.ProducerId, described.ProducerEpoch));
        Assert.Equal((id, (short)(epoch + 1)), await Init());

        // Producer ids are never handed out twice across the restart.
        var fresh = await Send<InitProducerIdResponse>(ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = null });
        Assert.True(fresh.ProducerId > id);
    }

    [Fact]
    public async Task Restart_PrepareCommitInLog_MarkersWrittenAndCompleted()
    {
        var (id, epoch) = await Init();
        await AddV3(id, epoch, partition: 1);
        var prepared = _broker.Context.TransactionCoordinator.Get("txn")!.Current() with { State = TransactionState.PrepareCommit };
        _broker.Context.TransactionState.Append("txn", TransactionRecords.Key("txn"), TransactionRecords.Value(prepared, 2));
        Restart();

        var marker = Assert.Single(Batches("t", 1));
        Assert.True(marker.IsControl);
        Assert.Equal((id, epoch), (marker.ProducerId, marker.ProducerEpoch));
        Assert.Equal(TransactionState.CompleteCommit, _broker.Context.TransactionCoordinator.Get("txn")!.State);
    }

    private void Restart()
    {
        var dataDir = _broker.DataDir;
        var old = _broker;
        _broker = null!;
        new KeepData(old).Dispose();

        _broker = new TestBroker(Config, dataDir);
    }

    /// <summary>Disposes a broker's services but keeps its data dir for the restart (the new broker deletes it at the end).</summary>
    private sealed class KeepData(TestBroker broker) : IDisposable
    {
        public void Dispose()
        {
            broker.Context.GroupCoordinator.Dispose();
            broker.Context.TransactionCoordinator.Dispose();
            broker.Replicas.Dispose();
            broker.Metadata.Dispose();
            broker.Logs.Shutdown();
        }
    }
}
