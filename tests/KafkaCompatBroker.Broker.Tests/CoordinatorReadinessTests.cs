using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// A fresh broker's first coordinator lookup creates <c>__consumer_offsets</c> / <c>__transaction_state</c>: the topic
/// is in the metadata image before its partitions' logs exist. Until a key's partition log exists and is loaded,
/// FindCoordinator answers COORDINATOR_NOT_AVAILABLE and the coordinators COORDINATOR_LOAD_IN_PROGRESS, as Kafka does
/// while a coordinator shard loads, rather than accepting a group whose first write then fails. The window is held open
/// by a metadata publisher that runs before the replica manager creates the logs.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class CoordinatorReadinessTests : IDisposable
{
    private readonly ManualResetEventSlim _gate = new();
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TestBroker _broker;
    private string? _holdTopic;

    public CoordinatorReadinessTests()
    {
        _broker = new TestBroker(
            "group.initial.rebalance.delay.ms=0\noffsets.topic.num.partitions=3\ntransaction.state.log.num.partitions=3",
            beforeReplicas: metadata => metadata.Loader.Install(new HoldLogCreation(this)));
        DataPath.CreateTopic(_broker, "t");
    }

    public void Dispose()
    {
        _gate.Set();
        _broker.Dispose();
        _gate.Dispose();
    }

    /// <summary>A publisher ahead of the replica manager that holds the creation of <see cref="_holdTopic"/>'s logs.</summary>
    private sealed class HoldLogCreation(CoordinatorReadinessTests test) : IMetadataPublisher
    {
        public string Name => nameof(HoldLogCreation);

        public void OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage)
        {
            if (test._holdTopic is { } topic && newImage.GetTopic(topic) is { } created && delta.CreatedTopics.Contains(created.Id))
            {
                test._held.TrySetResult();
                test._gate.Wait(TimeSpan.FromSeconds(30));
            }
        }
    }

    /// <summary>Starts the first lookup (on its own connection); returns once the topic is in the image and its logs are held back.</summary>
    private async Task<Task<FindCoordinatorResponse>> StartFirstLookupAsync(string topic, sbyte keyType, string key)
    {
        _holdTopic = topic;
        var first = Task.Run(() => FindAsync(3, keyType, key, new KafkaConnection("first-lookup", "PLAINTEXT", null)));
        await _held.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(_broker.Metadata.Image.GetTopic(topic));
        return first;
    }

    private Task<FindCoordinatorResponse> FindAsync(short version, sbyte keyType, string key, KafkaConnection? connection = null) =>
        BrokerExchange.SendAsync<FindCoordinatorResponse>(
            _broker,
            ApiKey.FindCoordinator,
            version,
            version >= 4 ? new FindCoordinatorRequest { KeyType = keyType, CoordinatorKeys = [key] } : new FindCoordinatorRequest { KeyType = keyType, Key = key },
            connection);

    private static (ErrorCode Error, int NodeId, string? Message) Answer(FindCoordinatorResponse response, short version) => version >= 4
        ? ((ErrorCode)Assert.Single(response.Coordinators).ErrorCode, response.Coordinators[0].NodeId, response.Coordinators[0].ErrorMessage)
        : ((ErrorCode)response.ErrorCode, response.NodeId, response.ErrorMessage);

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 0)]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    [InlineData(4, 0)]
    [InlineData(5, 0)]
    [InlineData(6, 0)]
    [InlineData(1, 1)] // v0 has no key type: groups only
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(4, 1)]
    [InlineData(5, 1)]
    [InlineData(6, 1)]
    public async Task FindCoordinator_PartitionLogNotCreatedYet_CoordinatorNotAvailableUntilItExists(short version, sbyte keyType)
    {
        var topic = keyType == 0 ? ConsumerOffsetsTopic.Name : TransactionStateTopic.Name;
        var first = await StartFirstLookupAsync(topic, keyType, "first");

        var during = Answer(await FindAsync(version, keyType, "second"), version);
        _gate.Set();
        var firstAnswer = await first.WaitAsync(TimeSpan.FromSeconds(30));
        var after = Answer(await FindAsync(version, keyType, "second"), version);

        Assert.Equal((ErrorCode.CoordinatorNotAvailable, -1, version >= 1 ? "The coordinator is not available." : ""), during);
        Assert.Equal(0, firstAnswer.ErrorCode);
        Assert.Equal((ErrorCode.None, _broker.Context.Settings.NodeId), (after.Error, after.NodeId));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    public async Task FirstGroup_GroupApisWhileLogsAreCreated_LoadInProgressThenWholeFlowSucceeds(short joinVersion)
    {
        var first = await StartFirstLookupAsync(ConsumerOffsetsTopic.Name, 0, "g1");

        var join = await GroupFlow.JoinAsync(_broker, "g2", "", joinVersion);
        var commit = await GroupFlow.CommitAsync(_broker, "g2", -1, "", "t", 5);
        _gate.Set();
        Assert.Equal(0, (await first.WaitAsync(TimeSpan.FromSeconds(30))).ErrorCode);

        Assert.Equal((short)ErrorCode.CoordinatorLoadInProgress, join.ErrorCode);
        Assert.Equal((short)ErrorCode.CoordinatorLoadInProgress, Assert.Single(Assert.Single(commit.Topics).Partitions).ErrorCode);
        Assert.Equal(ErrorCode.None, Answer(await FindAsync(3, 0, "g2"), 3).Error);
        var (member, generation) = await GroupFlow.StableMemberAsync(_broker, "g2");
        Assert.Equal(0, Assert.Single(Assert.Single((await GroupFlow.CommitAsync(_broker, "g2", generation, member, "t", 42)).Topics).Partitions).ErrorCode);
        Assert.Equal(42, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(_broker, "g2", "t", 0)).Topics).Partitions).CommittedOffset);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task FirstTransactionalId_InitProducerIdWhileLogsAreCreated_LoadInProgressThenSucceeds(short version)
    {
        var first = await StartFirstLookupAsync(TransactionStateTopic.Name, 1, "tx-1");

        var init = await BrokerExchange.SendAsync<InitProducerIdResponse>(
            _broker, ApiKey.InitProducerId, version, new InitProducerIdRequest { TransactionalId = "tx-2", TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 });
        _gate.Set();
        Assert.Equal(0, (await first.WaitAsync(TimeSpan.FromSeconds(30))).ErrorCode);

        Assert.Equal(((short)ErrorCode.CoordinatorLoadInProgress, -1L, (short)-1), (init.ErrorCode, init.ProducerId, init.ProducerEpoch));
        var retried = await BrokerExchange.SendAsync<InitProducerIdResponse>(
            _broker, ApiKey.InitProducerId, 4, new InitProducerIdRequest { TransactionalId = "tx-2", TransactionTimeoutMs = 60_000, ProducerId = -1, ProducerEpoch = -1 });
        Assert.Equal(0, retried.ErrorCode);
    }

    [Fact]
    public async Task TransactionStateWrite_WhileLogsAreCreated_LoadInProgress()
    {
        var first = await StartFirstLookupAsync(TransactionStateTopic.Name, 1, "tx-1");

        var e = Assert.Throws<Coordinator.TransactionLogException>(() => _broker.Context.TransactionState.Append("tx-2", [1], [2]));
        _gate.Set();
        Assert.Equal(0, (await first.WaitAsync(TimeSpan.FromSeconds(30))).ErrorCode);

        Assert.Equal(ErrorCode.CoordinatorLoadInProgress, e.Error);
    }
}
