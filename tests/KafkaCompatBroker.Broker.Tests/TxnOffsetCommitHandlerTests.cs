using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>Helpers for transactional offset commits: the request, the marker that ends the transaction, and OffsetFetch with require_stable.</summary>
internal static class TxnFlow
{
    public const long ProducerId = 4000;
    public const short ProducerEpoch = 2;

    public static TxnOffsetCommitRequest Request(
        short version, string group, string topic, long offset, int partition = 0, int generation = -1, string memberId = "", string? instanceId = null, string? metadata = "txn-meta") => new()
        {
            TransactionalId = "tx-1",
            GroupId = group,
            ProducerId = ProducerId,
            ProducerEpoch = ProducerEpoch,
            GenerationId = version >= 3 ? generation : -1,
            MemberId = version >= 3 ? memberId : "",
            GroupInstanceId = version >= 3 ? instanceId : null,
            Topics =
            [
                new TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic
                {
                    Name = topic,
                    Partitions =
                    [
                        new TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition
                        {
                            PartitionIndex = partition,
                            CommittedOffset = offset,
                            CommittedLeaderEpoch = version >= 2 ? 7 : -1,
                            CommittedMetadata = metadata,
                        },
                    ],
                },
            ],
        };

    public static Task<TxnOffsetCommitResponse> CommitAsync(TestBroker broker, short version, TxnOffsetCommitRequest request) =>
        BrokerExchange.SendAsync<TxnOffsetCommitResponse>(broker, ApiKey.TxnOffsetCommit, version, request);

    /// <summary>Writes the transaction's COMMIT or ABORT marker to the group's __consumer_offsets partition, as the transaction coordinator does.</summary>
    public static void WriteMarker(TestBroker broker, string group, bool commit, long producerId = ProducerId)
    {
        var partitions = broker.Metadata.Image.GetTopic(ConsumerOffsetsTopic.Name)!.Partitions.Count;
        var result = broker.Context.MarkerWriter.Write(ConsumerOffsetsTopic.Name, ConsumerOffsetsTopic.PartitionFor(group, partitions), producerId, ProducerEpoch, 0, commit);
        Assert.Equal(ErrorCode.None, result.Error);
    }

    /// <summary>OffsetFetch of one partition at any version 7+ (require_stable exists from v7): (offset, leader epoch, metadata, partition error).</summary>
    public static async Task<(long Offset, int LeaderEpoch, string? Metadata, ErrorCode Error)> FetchAsync(
        TestBroker broker, short version, string group, string topic, int partition, bool requireStable)
    {
        OffsetFetchRequest request = version < 8
            ? new() { GroupId = group, RequireStable = requireStable, Topics = [new() { Name = topic, PartitionIndexes = [partition] }] }
            : new()
            {
                RequireStable = requireStable,
                Groups =
                [
                    new()
                    {
                        GroupId = group,
                        Topics =
                        [
                            new()
                            {
                                Name = version >= 10 ? "" : topic,
                                TopicId = version >= 10 ? broker.Metadata.Image.GetTopic(topic)!.Id : default,
                                PartitionIndexes = [partition],
                            },
                        ],
                    },
                ],
            };
        var response = await BrokerExchange.SendAsync<OffsetFetchResponse>(broker, ApiKey.OffsetFetch, version, request);
        if (version < 8)
        {
            Assert.Equal(0, response.ErrorCode);
            var p = Assert.Single(Assert.Single(response.Topics).Partitions);
            return (p.CommittedOffset, p.CommittedLeaderEpoch, p.Metadata, (ErrorCode)p.ErrorCode);
        }

        var g = Assert.Single(response.Groups);
        Assert.Equal(0, g.ErrorCode);
        var q = Assert.Single(Assert.Single(g.Topics).Partitions);
        return (q.CommittedOffset, q.CommittedLeaderEpoch, q.Metadata, (ErrorCode)q.ErrorCode);
    }

    public static ErrorCode SingleError(TxnOffsetCommitResponse response) =>
        (ErrorCode)Assert.Single(Assert.Single(response.Topics).Partitions).ErrorCode;
}

[Trait(Categories.Name, Categories.Unit)]
public sealed class TxnOffsetCommitHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public TxnOffsetCommitHandlerTests()
    {
        DataPath.CreateTopic(_broker, "t", partitions: 2);
        Assert.True(_broker.Context.ConsumerOffsets.EnsureCreated());

        // The group side in isolation: the transaction coordinator's check is covered by TransactionOffsetsEndToEndTests.
        _broker.Context.TransactionVerifier = null;
    }

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task TxnOffsetCommit_EveryVersion_PendingUntilCommitMarker(short version)
    {
        var response = await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "g", "t", 42));

        var topic = Assert.Single(response.Topics);
        Assert.Equal("t", topic.Name);
        Assert.Equal((0, (short)0), (topic.Partitions[0].PartitionIndex, topic.Partitions[0].ErrorCode));
        Assert.Equal((-1L, ErrorCode.None), Select(await TxnFlow.FetchAsync(_broker, 7, "g", "t", 0, requireStable: false)));
        Assert.Equal((-1L, ErrorCode.UnstableOffsetCommit), Select(await TxnFlow.FetchAsync(_broker, 7, "g", "t", 0, requireStable: true)));

        TxnFlow.WriteMarker(_broker, "g", commit: true);

        var fetched = await TxnFlow.FetchAsync(_broker, 7, "g", "t", 0, requireStable: true);
        Assert.Equal((42L, version >= 2 ? 7 : -1, "txn-meta", ErrorCode.None), fetched);
    }

    private static (long, ErrorCode) Select((long Offset, int LeaderEpoch, string? Metadata, ErrorCode Error) fetched) => (fetched.Offset, fetched.Error);

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(5)]
    public async Task TxnOffsetCommit_AbortMarker_OffsetNeverVisible(short version)
    {
        await GroupFlow.CommitAsync(_broker, "g", -1, "", "t", 10);
        Assert.Equal(ErrorCode.None, TxnFlow.SingleError(await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "g", "t", 42))));

        TxnFlow.WriteMarker(_broker, "g", commit: false);

        Assert.Equal((10L, ErrorCode.None), Select(await TxnFlow.FetchAsync(_broker, 7, "g", "t", 0, requireStable: true)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(5)]
    public async Task TxnOffsetCommit_UnknownTopicOrPartition_OnlyThosePartitionsFail(short version)
    {
        var request = TxnFlow.Request(version, "g", "t", 42);
        request.Topics[0].Partitions.Add(new TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition { PartitionIndex = 9, CommittedOffset = 1 });
        request.Topics.Add(new TxnOffsetCommitRequest.TxnOffsetCommitRequestTopic
        {
            Name = "missing",
            Partitions = [new TxnOffsetCommitRequest.TxnOffsetCommitRequestPartition { PartitionIndex = 0, CommittedOffset = 1 }],
        });

        var response = await TxnFlow.CommitAsync(_broker, version, request);

        Assert.Equal([(0, (short)0), (9, (short)ErrorCode.UnknownTopicOrPartition)], response.Topics[0].Partitions.Select(p => (p.PartitionIndex, p.ErrorCode)));
        Assert.Equal(("missing", (short)ErrorCode.UnknownTopicOrPartition), (response.Topics[1].Name, Assert.Single(response.Topics[1].Partitions).ErrorCode));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    public async Task TxnOffsetCommit_EmptyGroupId_InvalidGroupId(short version)
    {
        var response = await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "", "t", 42));

        Assert.Equal(ErrorCode.InvalidGroupId, TxnFlow.SingleError(response));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public async Task TxnOffsetCommit_MetadataTooLarge_OffsetMetadataTooLarge(short version)
    {
        var response = await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "g", "t", 42, metadata: new string('x', 4097)));

        Assert.Equal(ErrorCode.OffsetMetadataTooLarge, TxnFlow.SingleError(response));
        Assert.False(_broker.Context.GroupCoordinator.HasPendingTransactionalOffsets("g"));
    }

    [Theory]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task TxnOffsetCommit_V3PlusMemberFields_CheckedAgainstTheGroup(short version)
    {
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g");

        Assert.Equal(ErrorCode.None, TxnFlow.SingleError(await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "g", "t", 1, generation: generation, memberId: member))));
        Assert.Equal(ErrorCode.IllegalGeneration, TxnFlow.SingleError(await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "g", "t", 1, generation: generation + 1, memberId: member))));
        Assert.Equal(ErrorCode.UnknownMemberId, TxnFlow.SingleError(await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "g", "t", 1, generation: generation, memberId: "nobody"))));
        Assert.Equal(ErrorCode.IllegalGeneration, TxnFlow.SingleError(await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "other", "t", 1, generation: 3, memberId: "m"))));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public async Task TxnOffsetCommit_BeforeV3_AcceptedForGroupWithMembers(short version)
    {
        await GroupFlow.StableMemberAsync(_broker, "g");

        Assert.Equal(ErrorCode.None, TxnFlow.SingleError(await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "g", "t", 1))));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task TxnOffsetCommit_VerifierRefuses_ErrorForEveryPartition(short version)
    {
        var verifier = new FakeVerifier(ErrorCode.InvalidTxnState);
        _broker.Context.TransactionVerifier = verifier;

        var response = await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "g", "t", 42));

        Assert.Equal(ErrorCode.InvalidTxnState, TxnFlow.SingleError(response));
        Assert.Equal(("tx-1", TxnFlow.ProducerId, TxnFlow.ProducerEpoch, "g", version >= 5), verifier.LastCall);
        Assert.False(_broker.Context.GroupCoordinator.HasPendingTransactionalOffsets("g"));
    }

    [Theory]
    [InlineData(ErrorCode.NetworkException, ErrorCode.CoordinatorLoadInProgress)]
    [InlineData(ErrorCode.RequestTimedOut, ErrorCode.CoordinatorNotAvailable)]
    [InlineData(ErrorCode.ProducerFenced, ErrorCode.InvalidProducerEpoch)]
    public async Task TxnOffsetCommit_VerifierError_MappedAsKafka(ErrorCode verifierError, ErrorCode expected)
    {
        _broker.Context.TransactionVerifier = new FakeVerifier(verifierError);

        var response = await TxnFlow.CommitAsync(_broker, 5, TxnFlow.Request(5, "g", "t", 42));

        Assert.Equal(expected, TxnFlow.SingleError(response));
    }

    /// <summary>AddPartitionsToTxnManager: TRANSACTION_ABORTABLE reaches only clients that know it (TxnOffsetCommit v4+), older ones get INVALID_TXN_STATE.</summary>
    [Theory]
    [InlineData(0, ErrorCode.InvalidTxnState)]
    [InlineData(1, ErrorCode.InvalidTxnState)]
    [InlineData(2, ErrorCode.InvalidTxnState)]
    [InlineData(3, ErrorCode.InvalidTxnState)]
    [InlineData(4, ErrorCode.TransactionAbortable)]
    [InlineData(5, ErrorCode.TransactionAbortable)]
    public async Task TxnOffsetCommit_VerifierTransactionAbortable_MappedByVersion(short version, ErrorCode expected)
    {
        _broker.Context.TransactionVerifier = new FakeVerifier(ErrorCode.TransactionAbortable);

        var response = await TxnFlow.CommitAsync(_broker, version, TxnFlow.Request(version, "g", "t", 42));

        Assert.Equal(expected, TxnFlow.SingleError(response));
    }

    [Fact]
    public async Task TxnOffsetCommit_VerifierAccepts_OffsetPending()
    {
        _broker.Context.TransactionVerifier = new FakeVerifier(ErrorCode.None);

        Assert.Equal(ErrorCode.None, TxnFlow.SingleError(await TxnFlow.CommitAsync(_broker, 3, TxnFlow.Request(3, "g", "t", 42))));

        Assert.True(_broker.Context.GroupCoordinator.HasPendingTransactionalOffsets("g"));
    }

    [Fact]
    public async Task TxnOffsetCommit_NoConsumerOffsetsTopic_NotCoordinator()
    {
        using var broker = GroupFlow.NewBroker();
        DataPath.CreateTopic(broker, "t");

        var response = await TxnFlow.CommitAsync(broker, 3, TxnFlow.Request(3, "g", "t", 42));

        Assert.Equal(ErrorCode.NotCoordinator, TxnFlow.SingleError(response));
    }

    [Fact]
    public void ApiVersions_AdvertisesTxnOffsetCommitV0To5()
    {
        var handler = Assert.Single(_broker.Registry.Handlers, h => h.Key == ApiKey.TxnOffsetCommit);
        Assert.Equal((0, 5), (handler.MinVersion, handler.MaxVersion));
    }

    private sealed class FakeVerifier(ErrorCode answer) : ITransactionVerifier
    {
        public (string, long, short, string, bool)? LastCall { get; private set; }

        public ErrorCode VerifyOffsetsPartition(string transactionalId, long producerId, short producerEpoch, string groupId, bool addIfMissing)
        {
            LastCall = (transactionalId, producerId, producerEpoch, groupId, addIfMissing);
            return answer;
        }
    }
}

/// <summary>OffsetFetch require_stable (v7+) against pending transactional offsets.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class OffsetFetchRequireStableTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public OffsetFetchRequireStableTests()
    {
        DataPath.CreateTopic(_broker, "t", partitions: 2);
        Assert.True(_broker.Context.ConsumerOffsets.EnsureCreated());

        // The group side in isolation: the transaction coordinator's check is covered by TransactionOffsetsEndToEndTests.
        _broker.Context.TransactionVerifier = null;
    }

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(10)]
    public async Task OffsetFetch_RequireStableWithPendingOffset_UnstableOffsetCommitForThatPartition(short version)
    {
        await GroupFlow.CommitAsync(_broker, "g", -1, "", "t", 10);
        await TxnFlow.CommitAsync(_broker, 3, TxnFlow.Request(3, "g", "t", 42));

        Assert.Equal((-1L, -1, "", ErrorCode.UnstableOffsetCommit), await TxnFlow.FetchAsync(_broker, version, "g", "t", 0, requireStable: true));
        Assert.Equal((-1L, ErrorCode.None), Select(await TxnFlow.FetchAsync(_broker, version, "g", "t", 1, requireStable: true)));
        Assert.Equal((10L, ErrorCode.None), Select(await TxnFlow.FetchAsync(_broker, version, "g", "t", 0, requireStable: false)));

        TxnFlow.WriteMarker(_broker, "g", commit: true);

        Assert.Equal((42L, ErrorCode.None), Select(await TxnFlow.FetchAsync(_broker, version, "g", "t", 0, requireStable: true)));
    }

    [Theory]
    [InlineData(7)]
    [InlineData(8)]
    public async Task OffsetFetch_AllTopicsRequireStable_PendingPartitionUnstable(short version)
    {
        await GroupFlow.CommitAsync(_broker, "g", -1, "", "t", 10);
        await TxnFlow.CommitAsync(_broker, 3, TxnFlow.Request(3, "g", "t", 42));

        OffsetFetchRequest request = version < 8
            ? new() { GroupId = "g", RequireStable = true, Topics = null }
            : new() { RequireStable = true, Groups = [new() { GroupId = "g", Topics = null }] };
        var response = await BrokerExchange.SendAsync<OffsetFetchResponse>(_broker, ApiKey.OffsetFetch, version, request);

        var (offset, error) = version < 8
            ? (Assert.Single(Assert.Single(response.Topics).Partitions).CommittedOffset, Assert.Single(response.Topics[0].Partitions).ErrorCode)
            : (Assert.Single(Assert.Single(Assert.Single(response.Groups).Topics).Partitions).CommittedOffset, response.Groups[0].Topics[0].Partitions[0].ErrorCode);
        Assert.Equal((-1L, (short)ErrorCode.UnstableOffsetCommit), (offset, error));
    }

    private static (long, ErrorCode) Select((long Offset, int LeaderEpoch, string? Metadata, ErrorCode Error) fetched) => (fetched.Offset, fetched.Error);
}
