using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.MetadataRecords;

namespace KafkaCompatBroker.Controller.Tests;

/// <summary>The loader and its deltas: what each record type reports, publishing order, failures, and no lock held while publishing.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class MetadataLoaderTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly MetadataStore _store;

    public MetadataLoaderTests()
    {
        _store = MetadataStore.Open(new MetadataStoreOptions { MetadataLogDir = _dir.Path, ClusterId = "test-cluster", SnapshotIntervalRecords = 0 });
        Assert.True(_store.RegisterBroker(1, KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "localhost", 9092, 0)]).IsSuccess);
    }

    public void Dispose()
    {
        _store.Dispose();
        _dir.Dispose();
    }

    private Recording Install(string name = "recording", List<string>? calls = null)
    {
        var publisher = new Recording(name, calls);
        _store.Loader.Install(publisher);
        return publisher;
    }

    [Fact]
    public void Install_ExistingTopicsAndConfigs_InitialDeltaFromEmptyImage()
    {
        var created = _store.CreateTopic("t", 2, 1, configs: [new("retention.ms", "1000")]);

        var publisher = Install();

        var (delta, image) = Assert.Single(publisher.Updates);
        Assert.True(delta.IsInitial);
        Assert.Empty(delta.Previous.TopicsByName);
        Assert.Same(_store.Image, image);
        Assert.Equal([created.TopicId], delta.CreatedTopics);
        Assert.Equal([0, 1], delta.ChangedPartitionsOf(created.TopicId).Order());
        Assert.True(delta.TopicConfigsChanged("t"));
        Assert.Contains(MetadataStore.MetadataVersionFeature, delta.ChangedFeatures);
        Assert.Equal([1], delta.ChangedBrokers);
    }

    [Fact]
    public void Delta_CreateTopic_TopicPartitionsAndConfigs()
    {
        var publisher = Install();

        var created = _store.CreateTopic("t", 3, 1, configs: [new("retention.ms", "1000")]);

        var (delta, image) = publisher.Updates[^1];
        Assert.False(delta.IsInitial);
        Assert.Equal([created.TopicId], delta.CreatedTopics);
        Assert.Equal([0, 1, 2], delta.ChangedPartitionsOf(created.TopicId).Order());
        Assert.Equal([new ConfigResource(ConfigResourceType.Topic, "t")], delta.ChangedConfigs);
        Assert.False(delta.BrokerConfigsChanged);
        Assert.Empty(delta.DeletedTopics);
        Assert.Equal(5, delta.Records.Count);
        Assert.Equal(_store.Log.LogEndOffset, image.EndOffset);
    }

    [Fact]
    public void Delta_DeleteTopic_DeletedByIdAsItWas()
    {
        var created = _store.CreateTopic("t", 2, 1);
        var publisher = Install();

        _store.DeleteTopic("t");

        var (delta, _) = publisher.Updates[^1];
        var deleted = Assert.Single(delta.DeletedTopics);
        Assert.Equal((created.TopicId, "t", 2), (deleted.Key, deleted.Value.Name, deleted.Value.Partitions.Count));
        Assert.Empty(delta.CreatedTopics);
        Assert.Empty(delta.ChangedPartitions);
    }

    [Fact]
    public void Delta_CreatePartitions_OnlyTheNewPartitions()
    {
        var created = _store.CreateTopic("t", 2, 1);
        var publisher = Install();

        _store.CreatePartitions("t", 4);

        var (delta, _) = publisher.Updates[^1];
        Assert.Empty(delta.CreatedTopics);
        Assert.Equal([2, 3], delta.ChangedPartitionsOf(created.TopicId).Order());
    }

    [Fact]
    public void Delta_BrokerConfig_BrokerConfigsChanged()
    {
        var publisher = Install();

        _store.AlterConfigs(new ConfigResource(ConfigResourceType.Broker, ""), [new("log.retention.ms", AlterConfigOpType.Set, "1000")]);

        var (delta, _) = publisher.Updates[^1];
        Assert.True(delta.BrokerConfigsChanged);
        Assert.Equal([new ConfigResource(ConfigResourceType.Broker, "")], delta.ChangedConfigs);
    }

    [Fact]
    public void Delta_RegisterBrokerAndProducerIds_BrokersAndProducerIdsChanged()
    {
        var publisher = Install();

        var registered = _store.RegisterBroker(2, KafkaUuid.NewRandom(), []);
        _store.AllocateProducerIds(2, registered.BrokerEpoch);

        Assert.Equal([2], publisher.Updates[^2].Delta.ChangedBrokers);
        Assert.False(publisher.Updates[^2].Delta.ProducerIdsChanged);
        Assert.True(publisher.Updates[^1].Delta.ProducerIdsChanged);
        Assert.Empty(publisher.Updates[^1].Delta.ChangedBrokers);
    }

    [Fact]
    public void Builder_FeatureLevelAndPartitionChange_FeatureAndPartitionListed()
    {
        var created = _store.CreateTopic("t", 2, 1);
        var builder = new MetadataDelta.Builder(_store.Image);

        builder.Apply(new MetadataRecord(new FeatureLevelRecord { Name = "kraft.version", FeatureLevel = 1 }, 0));
        builder.Apply(new MetadataRecord(new PartitionChangeRecord { TopicId = created.TopicId, PartitionId = 1, Leader = 1 }, 0));
        var (delta, image) = builder.Build(_store.Image.EndOffset + 2);

        Assert.Equal(["kraft.version"], delta.ChangedFeatures);
        Assert.Equal([1], delta.ChangedPartitionsOf(created.TopicId));
        Assert.Equal(1, image.GetTopic("t")!.Partitions[1].LeaderEpoch);
    }

    [Fact]
    public void Builder_TopicCreatedAndDeleted_InNeitherList()
    {
        var builder = new MetadataDelta.Builder(_store.Image);
        var id = KafkaUuid.NewRandom();

        builder.Apply(new MetadataRecord(new TopicRecord { Name = "t", TopicId = id }, 0));
        builder.Apply(new MetadataRecord(new PartitionRecord { TopicId = id, PartitionId = 0, Replicas = [1], Isr = [1], Leader = 1 }, 0));
        builder.Apply(new MetadataRecord(new RemoveTopicRecord { TopicId = id }, 0));
        var (delta, _) = builder.Build(0);

        Assert.Empty(delta.CreatedTopics);
        Assert.Empty(delta.DeletedTopics);
        Assert.Empty(delta.ChangedPartitions);
    }

    [Fact]
    public void Publishers_TwoInstalled_EachDeltaOnceInInstallOrder()
    {
        var calls = new List<string>();
        var first = Install("first", calls);
        var second = Install("second", calls);
        calls.Clear();

        _store.CreateTopic("a", 1, 1);
        _store.CreateTopic("b", 1, 1);

        Assert.Equal(["first", "second", "first", "second"], calls);
        Assert.Equal(3, first.Updates.Count); // the initial delta and one per operation
        Assert.Equal(first.Updates.Select(u => u.Image.EndOffset), second.Updates.Select(u => u.Image.EndOffset));
        Assert.True(first.Updates.Select(u => u.Image.EndOffset).SequenceEqual(first.Updates.Select(u => u.Image.EndOffset).Order()));
    }

    [Fact]
    public void Publisher_Throws_OthersStillRunAndTheOperationSucceeds()
    {
        _store.Loader.Install(new Throwing());
        var after = Install();

        var created = _store.CreateTopic("t", 1, 1);

        Assert.True(created.IsSuccess);
        Assert.Equal([created.TopicId], after.Updates[^1].Delta.CreatedTopics);
    }

    [Fact]
    public async Task Publisher_CallsTheController_NoDeadlockAndItsChangeIsPublishedNext()
    {
        var calls = new List<string>();
        var callback = new CallingBack(_store, calls);
        _store.Loader.Install(callback);
        var recorder = Install("recorder", calls);

        _store.CreateTopic("a", 1, 1);

        // The nested operation committed while "a" was being published, and was published right after it.
        var nested = await callback.Nested!.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(nested.IsSuccess);
        Assert.Equal(["a", "b"], recorder.Updates.Skip(1).Select(u => u.Image.GetTopic(u.Delta.CreatedTopics.Single())!.Name));
    }

    [Fact]
    public async Task Publisher_Blocked_AnotherThreadsOperationCommitsMeanwhile()
    {
        var before = _store.Log.LogEndOffset;
        var blocking = new BlockingUntilCommitted(_store, before);
        _store.Loader.Install(blocking);

        _store.CreateTopic("a", 1, 1);

        // The other thread's operation appended while the publisher of "a" held its thread: the controller's lock was free.
        Assert.True(blocking.SawOtherCommit);
        var other = await blocking.Other!.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(other.IsSuccess);
        Assert.NotNull(_store.Image.GetTopic("b"));
    }

    private sealed class Recording(string name, List<string>? calls) : IMetadataPublisher
    {
        public List<(MetadataDelta Delta, ClusterImage Image)> Updates { get; } = [];

        public string Name => name;

        public void OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage)
        {
            Updates.Add((delta, newImage));
            calls?.Add(name);
        }
    }

    private sealed class Throwing : IMetadataPublisher
    {
        public string Name => "throwing";

        public void OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage)
        {
            if (!delta.IsInitial)
            {
                throw new InvalidOperationException("publisher failure");
            }
        }
    }

    /// <summary>On topic "a", creates topic "b" through the controller (without blocking on the answer).</summary>
    private sealed class CallingBack(MetadataStore store, List<string> calls) : IMetadataPublisher
    {
        public Task<CreateTopicResult>? Nested { get; private set; }

        public string Name => "calling-back";

        public void OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage)
        {
            calls.Add(Name);
            if (newImage.GetTopic("a") is { } a && delta.CreatedTopics.Contains(a.Id))
            {
                Nested = store.Controller.CreateTopicAsync("b", 1, 1).AsTask();
            }
        }
    }

    /// <summary>On topic "a", starts an operation on another thread and holds the publishing thread until it is committed.</summary>
    private sealed class BlockingUntilCommitted(MetadataStore store, long before) : IMetadataPublisher
    {
        public Task<CreateTopicResult>? Other { get; private set; }

        public bool SawOtherCommit { get; private set; }

        public string Name => "blocking";

        public void OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage)
        {
            if (newImage.GetTopic("a") is not { } a || !delta.CreatedTopics.Contains(a.Id))
            {
                return;
            }

            var committedA = store.Log.LogEndOffset;
            Other = Task.Run(async () => await store.Controller.CreateTopicAsync("b", 1, 1));
            SawOtherCommit = SpinWait.SpinUntil(() => store.Log.LogEndOffset > committedA, TimeSpan.FromSeconds(10)) && committedA > before;
        }
    }
}
