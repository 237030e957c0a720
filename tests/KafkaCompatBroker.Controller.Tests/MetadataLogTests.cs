using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Controller.Tests;

/// <summary>The metadata log across restarts: replay, snapshots, recovery of a torn or corrupt tail.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class MetadataLogTests : IDisposable
{
    private static readonly BrokerEndpoint Plaintext = new("PLAINTEXT", "localhost", 9092, 0);

    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private MetadataStoreOptions Options(long snapshotInterval = 0) => new()
    {
        MetadataLogDir = _dir.Path,
        ClusterId = "test-cluster",
        SnapshotIntervalRecords = snapshotInterval,
    };

    private MetadataStore OpenStore(long snapshotInterval = 0) => MetadataStore.Open(Options(snapshotInterval));

    private static MetadataStore WithBroker(MetadataStore store, int id = 1)
    {
        Assert.True(store.RegisterBroker(id, KafkaUuid.NewRandom(), [Plaintext with { Port = 9092 + id }]).IsSuccess);
        return store;
    }

    /// <summary>The image as snapshot bytes plus its offsets: equal dumps mean equal images.</summary>
    private static string Dump(ClusterImage image) =>
        $"{image.ClusterId}@{image.EndOffset}:" + Convert.ToHexString(MetadataSnapshots.Serialize(image, 0, 0));

    /// <summary>(base offset, record count) of every batch in the metadata log.</summary>
    private static List<(long BaseOffset, int Records)> Batches(MetadataStore store)
    {
        var read = store.Log.Read(store.Log.LogStartOffset, int.MaxValue, store.Log.LogEndOffset, minOneBatch: true);
        var result = new List<(long, int)>();
        if (read.Region is { } region)
        {
            var bytes = new byte[region.Length];
            region.CopyTo(bytes);
            var batches = RecordBatches.Enumerate(new ReadOnlySequence<byte>(bytes));
            while (batches.MoveNext())
            {
                result.Add((batches.Current.Header.BaseOffset, batches.Current.Header.RecordsCount));
            }
        }

        return result;
    }

    [Fact]
    public void Open_AfterRestart_ReplaysToIdenticalImage()
    {
        string before;
        using (var store = WithBroker(WithBroker(OpenStore(), 1), 2))
        {
            store.CreateTopic("a", 3, 2, configs: [new("cleanup.policy", "compact")]);
            store.CreateTopic("b", 1, 1);
            store.CreateTopic("c", 1, 1);
            store.DeleteTopic("b");
            store.CreatePartitions("a", 4);
            store.AlterConfigs(new ConfigResource(ConfigResourceType.Topic, "c"), [new("retention.ms", AlterConfigOpType.Set, "1000")]);
            before = Dump(store.Image);
        }

        using var reopened = OpenStore();

        Assert.Equal(before, Dump(reopened.Image));
        Assert.Equal(reopened.Log.LogEndOffset, reopened.RecordsReplayedAtOpen);
        Assert.Equal(2, reopened.Image.Brokers.Count);
        Assert.Equal(["a", "c"], reopened.Image.TopicsByName.Keys);
    }

    [Fact]
    public void Open_AfterSnapshot_LoadsSnapshotAndReplaysOnlyLaterRecords()
    {
        string before;
        SnapshotId snapshot;
        using (var store = WithBroker(OpenStore()))
        {
            store.CreateTopic("a", 3, 1, configs: [new("retention.ms", "1000")]);
            store.CreateTopic("b", 1, 1);
            snapshot = store.WriteSnapshot();
            store.CreateTopic("c", 2, 1);
            before = Dump(store.Image);
        }

        var file = Path.Combine(_dir.Path, "__cluster_metadata-0", snapshot.FileName);
        Assert.True(File.Exists(file));
        Assert.Matches(@"^\d{20}-\d{10}\.checkpoint$", snapshot.FileName);

        using var reopened = OpenStore();

        Assert.Equal(before, Dump(reopened.Image));
        Assert.Equal(3, reopened.RecordsReplayedAtOpen); // TopicRecord + 2 PartitionRecords of "c"
        Assert.Equal(snapshot, reopened.LatestSnapshot);
    }

    [Fact]
    public void WriteSnapshot_File_StartsWithHeaderAndEndsWithFooterControlBatches()
    {
        using var store = WithBroker(OpenStore());
        store.CreateTopic("a", 2, 1);

        var id = store.WriteSnapshot();

        var bytes = File.ReadAllBytes(Path.Combine(store.Directory, id.FileName));
        var batches = RecordBatches.Enumerate(new ReadOnlySequence<byte>(bytes));
        var headers = new List<RecordBatchHeader>();
        while (batches.MoveNext())
        {
            Assert.Equal(RecordBatchError.None, batches.Current.TryValidate(out _));
            headers.Add(batches.Current.Header);
        }

        Assert.Equal(RecordBatchSequenceStatus.Complete, batches.Status);
        Assert.True(headers[0].IsControl);
        Assert.True(headers[^1].IsControl);
        Assert.All(headers[1..^1], h => Assert.False(h.IsControl));
        Assert.Equal(ControlRecordType.SnapshotHeader, ControlRecords.ReadType(bytes.AsSpan(RecordBatchHeader.Size + 5, 4)));
        Assert.Equal(id.EndOffset, store.Image.EndOffset);
        Assert.Empty(Directory.EnumerateFiles(store.Directory, "*.part"));
    }

    [Fact]
    public void WriteSnapshot_AutomaticEveryNRecords_WritesSnapshotAndDeletesOlderLog()
    {
        using var store = MetadataStore.Open(Options(snapshotInterval: 5) with { LogConfig = Storage.LogConfig.Default with { SegmentBytes = 200 } });
        WithBroker(store);
        for (var i = 0; i < 5; i++)
        {
            store.CreateTopic("t" + i, 2, 1);
        }

        Assert.NotNull(store.LatestSnapshot);
        Assert.True(store.Log.LogStartOffset > 0);
        Assert.Single(MetadataSnapshots.List(store.Directory));
    }

    [Fact]
    public void Open_AfterSnapshotAndLogDeletion_RestoresIdenticalImage()
    {
        string before;
        using (var store = MetadataStore.Open(Options(snapshotInterval: 4) with { LogConfig = Storage.LogConfig.Default with { SegmentBytes = 200 } }))
        {
            WithBroker(store);
            for (var i = 0; i < 6; i++)
            {
                store.CreateTopic("t" + i, 2, 1);
            }

            store.DeleteTopic("t1");
            before = Dump(store.Image);
        }

        using var reopened = MetadataStore.Open(Options(snapshotInterval: 4));

        Assert.Equal(before, Dump(reopened.Image));
    }

    [Fact]
    public void Open_NewestSnapshotCorrupt_FallsBackToLog()
    {
        string before;
        SnapshotId id;
        using (var store = MetadataStore.Open(Options() with { DeleteLogBeforeSnapshot = false }))
        {
            WithBroker(store);
            store.CreateTopic("a", 2, 1);
            id = store.WriteSnapshot();
            before = Dump(store.Image);
        }

        var path = Path.Combine(_dir.Path, "__cluster_metadata-0", id.FileName);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length - 10)]); // torn: the footer is gone

        using var reopened = OpenStore();

        Assert.Equal(before, Dump(reopened.Image));
        Assert.Null(reopened.LatestSnapshot);
    }

    [Fact]
    public void Open_LeftoverPartialSnapshot_IsRemovedAndIgnored()
    {
        using (var store = WithBroker(OpenStore()))
        {
            store.CreateTopic("a", 1, 1);
        }

        var partial = Path.Combine(_dir.Path, "__cluster_metadata-0", "00000000000000000099-0000000001.checkpoint.part");
        File.WriteAllBytes(partial, [1, 2, 3]);

        using var reopened = OpenStore();

        Assert.False(File.Exists(partial));
        Assert.NotNull(reopened.Image.GetTopic("a"));
    }

    [Fact]
    public void Open_TornLastBatch_RecoversEverythingAcknowledged()
    {
        string before;
        long end;
        using (var store = WithBroker(OpenStore()))
        {
            store.CreateTopic("a", 2, 1);
            store.CreateTopic("b", 1, 1, configs: [new("retention.ms", "1000")]);
            before = Dump(store.Image);
            end = store.Log.LogEndOffset;
        }

        // A crash in the middle of the next append: half of a batch made it to the segment.
        var segment = Path.Combine(_dir.Path, "__cluster_metadata-0", "00000000000000000000.log");
        var torn = new ArrayBufferWriter<byte>();
        using (var builder = new RecordBatchBuilder { BaseOffset = end })
        {
            builder.Append(0, null, MetadataRecordSerde.Serialize(new MetadataRecord(new Protocol.MetadataRecords.TopicRecord { Name = "c", TopicId = KafkaUuid.NewRandom() }, 0)));
            builder.WriteTo(torn);
        }

        using (var file = new FileStream(segment, FileMode.Append))
        {
            file.Write(torn.WrittenSpan[..(torn.WrittenCount / 2)]);
        }

        using var reopened = OpenStore();

        Assert.Equal(before, Dump(reopened.Image));
        Assert.Equal(end, reopened.Log.LogEndOffset);
        Assert.Null(reopened.Image.GetTopic("c"));
        Assert.True(WithBroker(reopened, 2).CreateTopic("c", 1, 1).IsSuccess);
    }

    [Fact]
    public void Open_CorruptLastBatch_CutsOnlyThatBatch()
    {
        string beforeLast;
        long endBeforeLast;
        using (var store = WithBroker(OpenStore()))
        {
            store.CreateTopic("a", 1, 1);
            beforeLast = Dump(store.Image);
            endBeforeLast = store.Log.LogEndOffset;
            store.CreateTopic("b", 1, 1);
        }

        // Flip a byte in the last batch (its CRC no longer matches): recovery cuts it, and only it.
        var segment = Path.Combine(_dir.Path, "__cluster_metadata-0", "00000000000000000000.log");
        var bytes = File.ReadAllBytes(segment);
        bytes[^2] ^= 0xFF;
        File.WriteAllBytes(segment, bytes);

        using var reopened = OpenStore();

        Assert.Equal(beforeLast, Dump(reopened.Image));
        Assert.Equal(endBeforeLast, reopened.Log.LogEndOffset);
    }
}
