using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Storage.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class ProducerStateSnapshotsTests : IDisposable
{
    private static readonly TopicPartition Tp = new("payments", 0);
    private readonly TempDir _dir = new();
    private readonly ManualTime _time = new();

    public void Dispose() => _dir.Dispose();

    private PartitionLog Open(LogConfig config) =>
        PartitionLog.Open(Path.Combine(_dir.Path, Tp.DirectoryName), Tp, config, default, cleanShutdown: true, new ListLogger(), _time);

    [Fact]
    public void Write_IsNamedByOffsetAndLatestFindsNewestAtOrBelow()
    {
        using var log = Open(new LogConfig());
        log.ProducerSnapshots.Write(10, [1, 2, 3]);
        log.ProducerSnapshots.Write(25, [4]);

        Assert.True(File.Exists(Path.Combine(log.Directory, "00000000000000000010.snapshot")));
        Assert.Equal([10L, 25], log.ProducerSnapshots.Offsets());
        var latest = log.ProducerSnapshots.Latest(24)!.Value;
        Assert.Equal(10, latest.Offset);
        Assert.Equal(new byte[] { 1, 2, 3 }, latest.Content);
        Assert.Equal(25, log.ProducerSnapshots.Latest()!.Value.Offset);
        Assert.Null(log.ProducerSnapshots.Latest(9));
    }

    [Fact]
    public void TruncateTo_DropsSnapshotsPastTheNewEnd()
    {
        using var log = Open(new LogConfig());
        for (var i = 0; i < 10; i++)
        {
            log.Append(Batches.Seq(Batches.Make(2)));
        }

        log.ProducerSnapshots.Write(4, [1]);
        log.ProducerSnapshots.Write(16, [2]);
        log.TruncateTo(10);

        Assert.Equal([4L], log.ProducerSnapshots.Offsets());
    }

    [Fact]
    public void Retention_DropsSnapshotsBelowTheNewStart()
    {
        using var log = Open(new LogConfig { SegmentBytes = 300, FileDeleteDelayMs = 0 });
        for (var i = 0; i < 10; i++)
        {
            log.Append(Batches.Seq(Batches.Make(2)));
        }

        log.UpdateHighWatermark(log.LogEndOffset);
        log.ProducerSnapshots.Write(0, [1]);
        log.ProducerSnapshots.Write(18, [2]);
        log.DeleteRecordsBefore(12);

        // Rolls write snapshots too (one per segment base offset): those below the first kept segment go.
        var offsets = log.ProducerSnapshots.Offsets();
        Assert.DoesNotContain(0L, offsets);
        Assert.Contains(18L, offsets);
        Assert.All(offsets, o => Assert.True(o >= 12));
    }
}
