using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// The broker's metadata publishers: the replica manager touches only the partitions a delta changed, and the
/// coordinators hear about the internal partitions this broker gains or loses.
/// </summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class MetadataPublisherTests : IDisposable
{
    private readonly TestBroker _broker = new();
    private readonly List<TopicPartition> _touched = [];

    public MetadataPublisherTests() => _broker.Replicas.PartitionApplied = _touched.Add;

    public void Dispose() => _broker.Dispose();

    [Fact]
    public void ApplyDelta_CreateTopicB_TouchesOnlyBsPartitions()
    {
        DataPath.CreateTopic(_broker, "a", 3);
        _touched.Clear();

        DataPath.CreateTopic(_broker, "b", 2);

        Assert.Equal([new TopicPartition("b", 0), new TopicPartition("b", 1)], _touched);
        Assert.NotNull(_broker.Replicas.GetLog("b", 1));
    }

    [Fact]
    public void ApplyDelta_TopicConfigOfB_UpdatesOnlyBsLogs()
    {
        DataPath.CreateTopic(_broker, "a", 2);
        DataPath.CreateTopic(_broker, "b", 2);
        var aConfig = _broker.Replicas.GetLog("a", 0)!.Config;
        _touched.Clear();

        Assert.True(_broker.Metadata.AlterConfigs(new ConfigResource(ConfigResourceType.Topic, "b"), [new("retention.ms", AlterConfigOpType.Set, "1234")]).IsSuccess);

        Assert.Equal([new TopicPartition("b", 0), new TopicPartition("b", 1)], _touched);
        Assert.Equal(1234, _broker.Replicas.GetLog("b", 1)!.Config.RetentionMs);
        Assert.Same(aConfig, _broker.Replicas.GetLog("a", 0)!.Config);
    }

    [Fact]
    public void ApplyDelta_BrokerLogDefault_UpdatesEveryHostedLog()
    {
        DataPath.CreateTopic(_broker, "a", 1);
        DataPath.CreateTopic(_broker, "b", 1);
        _touched.Clear();

        Assert.True(_broker.Metadata.AlterConfigs(new ConfigResource(ConfigResourceType.Broker, ""), [new("log.retention.ms", AlterConfigOpType.Set, "4321")]).IsSuccess);

        Assert.Equal([new TopicPartition("a", 0), new TopicPartition("b", 0)], _touched.OrderBy(tp => tp.Topic, StringComparer.Ordinal));
        Assert.Equal(4321, _broker.Replicas.GetLog("a", 0)!.Config.RetentionMs);
    }

    [Fact]
    public async Task ApplyDelta_DeleteTopicB_DeletesOnlyBsLogsById()
    {
        DataPath.CreateTopic(_broker, "a", 2);
        DataPath.CreateTopic(_broker, "b", 2);
        _touched.Clear();

        Assert.True(_broker.Metadata.DeleteTopic("b").IsSuccess);
        await _broker.Logs.WhenDeletionsComplete().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([new TopicPartition("b", 0), new TopicPartition("b", 1)], _touched);
        Assert.Null(_broker.Logs.GetLog(new TopicPartition("b", 0)));
        Assert.NotNull(_broker.Logs.GetLog(new TopicPartition("a", 0)));
    }

    [Fact]
    public void CoordinatorElections_InternalTopicsCreatedAndDeleted_ElectionThenResignationPerPartition()
    {
        var groups = new RecordingListener();
        var transactions = new RecordingListener();
        _broker.Metadata.Loader.Install(new CoordinatorElectionPublisher(_broker.Context.Settings.NodeId, groups, transactions));

        DataPath.CreateTopic(_broker, ConsumerOffsetsTopic.Name, 3);
        DataPath.CreateTopic(_broker, "other", 2);
        Assert.True(_broker.Metadata.DeleteTopic(ConsumerOffsetsTopic.Name).IsSuccess);

        Assert.Equal(["elect 0@0", "elect 1@0", "elect 2@0", "resign 0@-", "resign 1@-", "resign 2@-"], groups.Calls);
        Assert.Empty(transactions.Calls);
    }

    [Fact]
    public void CoordinatorElections_InstalledAfterCreation_InitialDeltaElects()
    {
        DataPath.CreateTopic(_broker, TransactionStateTopic.Name, 2);
        var groups = new RecordingListener();
        var transactions = new RecordingListener();

        _broker.Metadata.Loader.Install(new CoordinatorElectionPublisher(_broker.Context.Settings.NodeId, groups, transactions));

        Assert.Equal(["elect 0@0", "elect 1@0"], transactions.Calls);
        Assert.Empty(groups.Calls);
    }

    private sealed class RecordingListener : ICoordinatorElectionListener
    {
        public List<string> Calls { get; } = [];

        public void OnElection(int partition, int leaderEpoch) => Calls.Add($"elect {partition}@{leaderEpoch}");

        public void OnResignation(int partition, int? leaderEpoch) => Calls.Add($"resign {partition}@{leaderEpoch?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}");
    }
}
