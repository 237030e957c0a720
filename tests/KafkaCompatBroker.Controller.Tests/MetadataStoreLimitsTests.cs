using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Controller.Tests;

/// <summary>
/// Issue 14 item 1: a count from the wire never sizes an allocation before it is checked against the record bound
/// of one operation (Kafka's QuorumController.MAX_RECORDS_PER_USER_OP / ReplicationControlManager.MAX_PARTITIONS_PER_BATCH).
/// The calls are synchronous, so the allocations of the current thread are exactly theirs.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class MetadataStoreLimitsTests : IDisposable
{
    private const int Limit = ClusterController.MaxRecordsPerUserOperation;

    /// <summary>What refusing may allocate: messages and results, nowhere near one list per partition.</summary>
    private const long SmallAllocation = 256 * 1024;

    private readonly TempDir _dir = new();
    private readonly MetadataStore _store;

    public MetadataStoreLimitsTests()
    {
        _store = MetadataStore.Open(new MetadataStoreOptions { MetadataLogDir = _dir.Path, ClusterId = "test-cluster" });
        Assert.True(_store.RegisterBroker(1, KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "localhost", 9092, 0)]).IsSuccess);
    }

    public void Dispose()
    {
        _store.Dispose();
        _dir.Dispose();
    }

    private static (T Result, long Allocated) Measure<T>(Func<T> call)
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = call();
        return (result, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CreateTopic_HugePartitionCount_PolicyViolationBeforeAllocating(bool validateOnly)
    {
        var end = _store.Log.LogEndOffset;

        var (result, allocated) = Measure(() => _store.CreateTopic("fz-valid", 0x57000001, 1, validateOnly: validateOnly));

        Assert.Equal(ErrorCode.PolicyViolation, result.Error);
        Assert.Equal("Excessively large number of partitions per request.", result.ErrorMessage);
        Assert.InRange(allocated, 0, SmallAllocation);
        Assert.Equal(end, _store.Log.LogEndOffset);
    }

    [Fact]
    public void CreateTopic_PartitionCountJustOverLimit_PolicyViolationBeforeNameChecks()
    {
        // validateTotalNumberOfPartitions runs before the name is looked at.
        var result = _store.CreateTopic("bad name!", Limit + 1, 1, validateOnly: true);

        Assert.Equal((ErrorCode.PolicyViolation, ClusterController.ExcessivePartitionsMessage), (result.Error, result.ErrorMessage));
    }

    [Fact]
    public void CreateTopic_ManualAssignmentsOverLimit_PolicyViolation()
    {
        var assignments = Enumerable.Range(0, Limit + 1).ToDictionary(p => p, IReadOnlyList<int> (_) => [1]);

        var result = _store.CreateTopic("manual", assignments: assignments, validateOnly: true);

        Assert.Equal((ErrorCode.PolicyViolation, ClusterController.ExcessivePartitionsMessage), (result.Error, result.ErrorMessage));
    }

    [Fact]
    public void CreateTopic_RecordsOverLimit_PolicyViolationAsKafkasBoundedRecordList()
    {
        // 10,000 partitions pass the partition check, but with the TopicRecord they are 10,001 records: Kafka's
        // BoundedList overflows, which its controller answers as POLICY_VIOLATION (validate_only too).
        var exactly = _store.CreateTopic("exactly", Limit, 1, validateOnly: true);
        var withConfig = _store.CreateTopic("config", Limit - 1, 1, configs: [new("retention.ms", "1000")], validateOnly: true);

        Assert.Equal((ErrorCode.PolicyViolation, ClusterController.ExcessiveBatchMessage), (exactly.Error, exactly.ErrorMessage));
        Assert.Equal((ErrorCode.PolicyViolation, ClusterController.ExcessiveBatchMessage), (withConfig.Error, withConfig.ErrorMessage));
    }

    [Fact]
    public void CreateTopic_RecordsExactlyAtLimit_Allowed()
    {
        var result = _store.CreateTopic("fits", Limit - 1, 1, validateOnly: true);

        Assert.True(result.IsSuccess, result.ErrorMessage);
        Assert.Equal(Limit - 1, result.NumPartitions);
    }

    [Fact]
    public void CreateTopic_ReplicationFactor32767_RefusedBeforeAnyReplicaListIsBuilt()
    {
        var (result, allocated) = Measure(() => _store.CreateTopic("rf", Limit - 1, short.MaxValue, validateOnly: true));

        Assert.Equal(ErrorCode.InvalidReplicationFactor, result.Error);
        Assert.InRange(allocated, 0, SmallAllocation);
    }

    [Fact]
    public void CreatePartitions_HugeCount_PolicyViolationBeforeAllocating()
    {
        Assert.True(_store.CreateTopic("t", 1, 1).IsSuccess);
        var end = _store.Log.LogEndOffset;

        var (result, allocated) = Measure(() => _store.CreatePartitions("t", int.MaxValue));

        Assert.Equal((ErrorCode.PolicyViolation, ClusterController.ExcessiveBatchMessage), (result.Error, result.ErrorMessage));
        Assert.InRange(allocated, 0, SmallAllocation);
        Assert.Equal(end, _store.Log.LogEndOffset);
    }

    [Fact]
    public void CreatePartitions_Budget_BoundsTheNewPartitions()
    {
        Assert.True(_store.CreateTopic("t", 1, 1).IsSuccess);

        var over = _store.CreatePartitions("t", 7, validateOnly: true, maxNewPartitions: 5);
        var manualOver = _store.CreatePartitions("t", 3, [[1], [1]], validateOnly: true, maxNewPartitions: 1);
        var fits = _store.CreatePartitions("t", 6, maxNewPartitions: 5);

        Assert.Equal(ErrorCode.PolicyViolation, over.Error);
        Assert.Equal(ErrorCode.PolicyViolation, manualOver.Error);
        Assert.True(fits.IsSuccess, fits.ErrorMessage);
        Assert.Equal(6, _store.Image.GetTopic("t")!.Partitions.Count);
    }

    [Fact]
    public void CreatePartitions_TooFewBrokersAndHugeCount_InvalidReplicationFactorFirst()
    {
        // StripedReplicaPlacer refuses the replication factor before it places anything.
        Assert.True(_store.RegisterBroker(2, KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "localhost", 9093, 0)]).IsSuccess);
        Assert.True(_store.CreateTopic("two", 1, 2).IsSuccess);
        Assert.True(_store.RegisterBroker(2, KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "localhost", 9093, 0)], fenced: true).IsSuccess);

        var (result, allocated) = Measure(() => _store.CreatePartitions("two", int.MaxValue));

        Assert.Equal(ErrorCode.InvalidReplicationFactor, result.Error);
        Assert.InRange(allocated, 0, SmallAllocation);
    }

    [Fact]
    public async Task AlterConfigs_AppendManyDistinctValues_TakesLinearTime()
    {
        // A 1.7 MB value of 200,000 distinct entries: a list scan per entry would be 2 * 10^10 string compares,
        // minutes under the metadata lock.
        Assert.True(_store.CreateTopic("t", 1, 1).IsSuccess);
        var values = string.Join(',', Enumerable.Range(0, 200_000).Select(i => $"{i}:1"));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var result = await Task.Run(() => _store.AlterConfigs(new ConfigResource(ConfigResourceType.Topic, "t"), [new AlterConfigOp("leader.replication.throttled.replicas", AlterConfigOpType.Append, values)], validateOnly: true))
            .WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(result.IsSuccess, result.ErrorMessage);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"APPEND took {clock.Elapsed}");
    }

    [Fact]
    public void AlterConfigs_SubtractRemovesEveryOccurrence_AppendKeepsOrderAndSkipsPresent()
    {
        // ConfigurationControlManager: SUBTRACT is removeAll; APPEND adds what the list does not hold yet, in order.
        var topic = new ConfigResource(ConfigResourceType.Topic, "t");
        const string Key = "leader.replication.throttled.replicas";
        Assert.True(_store.CreateTopic("t", 1, 1).IsSuccess);
        Assert.True(_store.AlterConfigs(topic, [new AlterConfigOp(Key, AlterConfigOpType.Set, "0:1,1:1,0:1")]).IsSuccess);

        Assert.True(_store.AlterConfigs(topic, [new AlterConfigOp(Key, AlterConfigOpType.Subtract, "0:1,2:1")]).IsSuccess);
        Assert.Equal("1:1", _store.Image.GetConfigs(topic)[Key]);

        Assert.True(_store.AlterConfigs(topic, [new AlterConfigOp(Key, AlterConfigOpType.Append, "1:1,2:1,2:1,0:1")]).IsSuccess);
        Assert.Equal("1:1,2:1,0:1", _store.Image.GetConfigs(topic)[Key]);
    }
}
