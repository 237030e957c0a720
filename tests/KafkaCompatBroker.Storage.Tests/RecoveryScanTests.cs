using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Storage.Tests;

/// <summary>
/// Recovery after an unclean shutdown as the kill -9 target needs it: segments read in chunks (batches across
/// chunk boundaries, a batch larger than a chunk, a torn batch after the first chunk), producer state replayed
/// without reading again what recovery found free of producer batches, and the recovery point left where the
/// validated data began (as Kafka does) instead of fsyncing it all before the broker can serve.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class RecoveryScanTests : IDisposable
{
    private static readonly TopicPartition Tp = new("scan", 0);
    private readonly TempDir _dir = new();
    private readonly ManualTime _time = new();
    private readonly ListLogger _logger = new();

    public void Dispose() => _dir.Dispose();

    private string LogDir => Path.Combine(_dir.Path, Tp.DirectoryName);

    private PartitionLog Open(LogConfig config, bool cleanShutdown, PartitionLogCheckpoint checkpoint = default) =>
        PartitionLog.Open(LogDir, Tp, config, checkpoint, cleanShutdown, _logger, _time);

    /// <summary>Small batches over several recovery chunks, with one batch larger than a chunk in the middle: (first offset, bytes) of each.</summary>
    private static List<(long Offset, byte[] Bytes)> FillAcrossChunks(PartitionLog log)
    {
        var written = new List<(long, byte[])>();
        var random = new Random(7);
        for (var i = 0; i < 2600; i++)
        {
            var count = 1 + random.Next(4);
            var batch = i == 1300
                ? Batches.Make(1, valueSize: LogSegment.RecoveryChunkBytes + 4096)
                : Batches.Make(count, valueSize: 100 + random.Next(700));
            written.Add((log.Append(Batches.Seq(batch)).FirstOffset, batch));
        }

        return written;
    }

    [Fact]
    public void Open_AfterCrash_BatchesAcrossRecoveryChunksAndLargerThanOne_AllKeptAndIndexed()
    {
        var config = new LogConfig { MaxMessageBytes = 4 << 20, IndexIntervalBytes = 4096 };
        List<(long Offset, byte[] Bytes)> written;
        using (var log = Open(config, cleanShutdown: true))
        {
            written = FillAcrossChunks(log);
            Assert.True(log.Size > 3L * LogSegment.RecoveryChunkBytes);
        }

        using var recovered = Open(config, cleanShutdown: false);

        Assert.Equal(written[^1].Offset + RecordBatchHeader.Read(written[^1].Bytes).LastOffsetDelta + 1, recovered.LogEndOffset);
        Assert.Empty(_logger.Warnings);
        Assert.True(recovered.Segments[0].Index.Count > 100);
        foreach (var (offset, bytes) in written)
        {
            // Each batch is found through the rebuilt index and comes back byte for byte (with its assigned offset).
            var read = Batches.Bytes(recovered.Read(offset, bytes.Length, recovered.LogEndOffset, minOneBatch: true));
            Assert.Equal(offset, RecordBatchHeader.Read(read).BaseOffset);
            Assert.Equal(bytes.AsSpan(RecordBatchHeader.LogOverhead + 4), read.AsSpan(RecordBatchHeader.LogOverhead + 4, bytes.Length - RecordBatchHeader.LogOverhead - 4));
        }
    }

    [Fact]
    public void Open_AfterCrash_TornBatchBeyondFirstChunk_TruncatesOnlyIt()
    {
        var config = new LogConfig { MaxMessageBytes = 4 << 20 };
        List<(long Offset, byte[] Bytes)> written;
        string segmentPath;
        using (var log = Open(config, cleanShutdown: true))
        {
            written = FillAcrossChunks(log);
            segmentPath = log.Segments[0].LogPath;
        }

        // The last batch loses its final bytes, as when the process died in the middle of writing it.
        var length = new FileInfo(segmentPath).Length;
        using (var file = File.OpenHandle(segmentPath, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, length - 10);
        }

        using var recovered = Open(config, cleanShutdown: false);

        Assert.Equal(written[^1].Offset, recovered.LogEndOffset);
        Assert.Equal(length - written[^1].Bytes.Length, new FileInfo(segmentPath).Length);
        Assert.Contains(_logger.Warnings, w => w.Contains("a torn (incomplete) batch", StringComparison.Ordinal));
        Assert.Equal(written[^1].Offset, recovered.Append(Batches.Seq(Batches.Make(1))).FirstOffset);
    }

    [Fact]
    public void Open_AfterCrash_IndexFilesLongerThanTheRebuild_AreCutToTheRebuiltEntries()
    {
        var config = new LogConfig { IndexIntervalBytes = 100 };
        string segmentPath;
        using (var log = Open(config, cleanShutdown: true))
        {
            for (var i = 0; i < 40; i++)
            {
                log.Append(Batches.Seq(Batches.Make(2, valueSize: 100)));
            }

            segmentPath = log.Segments[0].LogPath;
        }

        // Stale entries past what the rebuild writes: a torn last batch, and bytes of garbage after both indexes.
        var indexPath = Path.ChangeExtension(segmentPath, LogSegment.IndexSuffix);
        var timeIndexPath = Path.ChangeExtension(segmentPath, LogSegment.TimeIndexSuffix);
        var indexLength = new FileInfo(indexPath).Length;
        Assert.True(indexLength > 8 * 20);
        foreach (var path in new[] { indexPath, timeIndexPath })
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.Write(file, new byte[48], RandomAccess.GetLength(file));
        }

        using (var file = File.OpenHandle(segmentPath, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.SetLength(file, RandomAccess.GetLength(file) - 5);
        }

        using (var recovered = Open(config, cleanShutdown: false))
        {
            var segment = recovered.Segments[0];
            Assert.Equal(78, recovered.LogEndOffset);
            Assert.Equal(segment.Index.Count * 8L, new FileInfo(indexPath).Length);
            Assert.Equal(segment.TimeIndex.Count * 12L, new FileInfo(timeIndexPath).Length);
            Assert.True(new FileInfo(indexPath).Length < indexLength);
        }

        // The rebuilt files pass the sanity checks of a clean start (no rebuild warning) and still find every batch.
        var warnings = _logger.Warnings.Count();
        using var reopened = Open(config, cleanShutdown: true);
        Assert.Equal(warnings, _logger.Warnings.Count());
        for (var offset = 0L; offset < 78; offset += 2)
        {
            Assert.Equal(offset, RecordBatchHeader.Read(Batches.Bytes(reopened.Read(offset, 1, 78, minOneBatch: true))).BaseOffset);
        }
    }

    [Fact]
    public void Open_AfterCrash_RecoveryPointStaysAtValidatedStartUntilFlushed()
    {
        var config = new LogConfig { SegmentBytes = 1024 };
        long checkpointSegment;
        using (var log = Open(config, cleanShutdown: true))
        {
            for (var i = 0; i < 30; i++)
            {
                log.Append(Batches.Seq(Batches.Make(2, valueSize: 100)));
            }

            Assert.True(log.SegmentCount > 3);
            checkpointSegment = log.Segments[2].BaseOffset;
        }

        using var recovered = Open(config, cleanShutdown: false, new PartitionLogCheckpoint(checkpointSegment + 1, 0));

        Assert.Equal(60, recovered.LogEndOffset);
        Assert.Equal(checkpointSegment, recovered.RecoveryPoint);
        recovered.Flush();
        Assert.Equal(60, recovered.RecoveryPoint);
    }

    [Fact]
    public void Open_AfterCrash_PlainBatchesThenIdempotentOnes_ProducerStateRestoredWithoutSnapshot()
    {
        var config = new LogConfig();
        var lastIdempotent = -1L;
        using (var log = Open(config, cleanShutdown: true))
        {
            for (var i = 0; i < 50; i++)
            {
                log.Append(Batches.Seq(Batches.Make(3)));
            }

            for (var seq = 0; seq < 6; seq++)
            {
                lastIdempotent = log.Append(ProducerStateTests.Batch(7, 0, seq * 2, count: 2)).FirstOffset;
            }

            log.Append(Batches.Seq(Batches.Make(3)));
        }

        foreach (var file in Directory.GetFiles(LogDir, "*.snapshot"))
        {
            File.Delete(file);
        }

        using var recovered = Open(config, cleanShutdown: false);

        Assert.Equal(150, recovered.Segments[0].ProducerFreeUntil);
        var retry = recovered.Append(ProducerStateTests.Batch(7, 0, 10, count: 2));
        Assert.True(retry.Duplicate);
        Assert.Equal(lastIdempotent, retry.FirstOffset);
        Assert.False(recovered.Append(ProducerStateTests.Batch(7, 0, 12)).Duplicate);
    }

    [Fact]
    public void Open_AfterCrash_ProducerBatchesOnlyInTrustedSegmentsWithoutSnapshot_StillReplayed()
    {
        var config = new LogConfig { SegmentBytes = 400 };
        using (var log = Open(config, cleanShutdown: true))
        {
            for (var seq = 0; seq < 5; seq++)
            {
                log.Append(ProducerStateTests.Batch(7, 0, seq));
            }

            for (var i = 0; i < 20; i++)
            {
                log.Append(Batches.Seq(Batches.Make(1, valueSize: 100)));
            }
        }

        foreach (var file in Directory.GetFiles(LogDir, "*.snapshot"))
        {
            File.Delete(file);
        }

        // The recovery point sits in the last segment: the ones holding the producer's batches are trusted, not read by recovery.
        using var recovered = Open(config, cleanShutdown: false, new PartitionLogCheckpoint(24, 0));

        Assert.True(recovered.SegmentCount > 3);
        Assert.Equal(recovered.Segments[0].BaseOffset, recovered.Segments[0].ProducerFreeUntil);
        Assert.True(recovered.Append(ProducerStateTests.Batch(7, 0, 4)).Duplicate);
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, AppendError(recovered, ProducerStateTests.Batch(7, 0, 9)));
    }

    [Fact]
    public void TruncateTo_AfterRecoveryOfPlainData_ProducerBatchesAppendedLaterAreReplayed()
    {
        var config = new LogConfig();
        using (var log = Open(config, cleanShutdown: true))
        {
            for (var i = 0; i < 10; i++)
            {
                log.Append(Batches.Seq(Batches.Make(1)));
            }
        }

        using var recovered = Open(config, cleanShutdown: false);
        Assert.Equal(10, recovered.Segments[0].ProducerFreeUntil);
        recovered.TruncateTo(5);
        for (var seq = 0; seq < 3; seq++)
        {
            recovered.Append(ProducerStateTests.Batch(7, 0, seq));
        }

        // Reloading the producer state must read offsets 5 and 6 again: they were appended after recovery scanned the segment.
        recovered.TruncateTo(7);

        Assert.Equal(5, recovered.Segments[0].ProducerFreeUntil);
        Assert.True(recovered.Append(ProducerStateTests.Batch(7, 0, 1)).Duplicate);
        Assert.False(recovered.Append(ProducerStateTests.Batch(7, 0, 2)).Duplicate);
    }

    private static ErrorCode AppendError(PartitionLog log, System.Buffers.ReadOnlySequence<byte> records)
    {
        try
        {
            log.Append(records);
            return ErrorCode.None;
        }
        catch (LogAppendException e)
        {
            return e.Error;
        }
    }
}
