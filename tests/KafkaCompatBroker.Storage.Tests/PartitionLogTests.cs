using System.Buffers.Binary;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Storage.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class PartitionLogTests : IDisposable
{
    private static readonly TopicPartition Tp = new("orders", 3);
    private readonly TempDir _dir = new();
    private readonly ListLogger _logger = new();
    private readonly ManualTime _time = new();

    private string LogDir => Path.Combine(_dir.Path, Tp.DirectoryName);

    private PartitionLog Open(LogConfig? config = null, bool clean = true, PartitionLogCheckpoint checkpoint = default) =>
        PartitionLog.Open(LogDir, Tp, config ?? new LogConfig { FileDeleteDelayMs = 0 }, checkpoint, clean, _logger, _time);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Append_AssignsOffsetsAndStoresBatchBytesAsReceived()
    {
        using var log = Open();
        var first = Batches.Make(3);
        var second = Batches.Make(2, compression: CompressionType.Gzip);

        var r1 = log.Append(Batches.Seq(first), leaderEpoch: 7);
        var r2 = log.Append(Batches.Seq(second), leaderEpoch: 7);

        Assert.Equal((0, 2), (r1.FirstOffset, r1.LastOffset));
        Assert.Equal((3, 4), (r2.FirstOffset, r2.LastOffset));
        Assert.Equal(5, log.LogEndOffset);

        var stored = Batches.Bytes(log.Read(0, int.MaxValue, log.LogEndOffset, minOneBatch: true));
        var expected = Patch(first, 0, 7).Concat(Patch(second, 3, 7)).ToArray();
        Assert.Equal(expected, stored);
        RecordBatch.Validate(stored.AsSpan(0, first.Length)); // the CRC still holds: base offset and epoch are outside it
        Assert.Equal(["k0", "k1", "k2", "k0", "k1"], Batches.Records(stored).Select(r => r.Key));
        Assert.Equal([0L, 1, 2, 3, 4], Batches.Records(stored).Select(r => r.Offset));
    }

    private static byte[] Patch(byte[] batch, long baseOffset, int epoch)
    {
        var copy = (byte[])batch.Clone();
        BinaryPrimitives.WriteInt64BigEndian(copy, baseOffset);
        BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(12), epoch);
        return copy;
    }

    [Fact]
    public void Append_RollsAtSegmentBytesWithKafkaFileNames()
    {
        using var log = Open(new LogConfig { SegmentBytes = 1024, IndexIntervalBytes = 100 });
        for (var i = 0; i < 20; i++)
        {
            log.Append(Batches.Seq(Batches.Make(2, valueSize: 100)));
        }

        Assert.True(log.SegmentCount > 5);
        var logs = Directory.GetFiles(LogDir, "*.log").Select(p => Path.GetFileName(p)).Order().ToList();
        Assert.Equal("00000000000000000000.log", logs[0]);
        Assert.All(logs, name => Assert.Matches("^[0-9]{20}\\.log$", name));
        Assert.All(logs, name => Assert.True(File.Exists(Path.Combine(LogDir, Path.ChangeExtension(name, ".index")))));
        Assert.All(logs, name => Assert.True(File.Exists(Path.Combine(LogDir, Path.ChangeExtension(name!, ".timeindex")))));
        Assert.All(log.Segments.SkipLast(1), s => Assert.True(s.Size <= 1024));
        // Every offset is readable after the rolls, from any segment.
        for (var offset = 0L; offset < log.LogEndOffset; offset++)
        {
            var records = Batches.Records(Batches.Bytes(log.Read(offset, 1, log.LogEndOffset, minOneBatch: true)));
            Assert.Contains(records, r => r.Offset == offset);
        }
    }

    [Fact]
    public void Append_WritesSparseIndexEntriesEveryIndexInterval()
    {
        using var log = Open(new LogConfig { IndexIntervalBytes = 200 });
        for (var i = 0; i < 30; i++)
        {
            log.Append(Batches.Seq(Batches.Make(1, valueSize: 100)));
        }

        var segment = log.Segments[0];
        Assert.InRange(segment.Index.Count, 5, 20);
        log.Flush(); // index entries reach the file in batches, at the latest when it is flushed
        Assert.True(new FileInfo(segment.Index.Path).Length == segment.Index.Count * 8);
        Assert.True(segment.TimeIndex.Count > 0);
    }

    [Fact]
    public void Read_OffsetInsideBatch_ReturnsWholeBatch()
    {
        using var log = Open();
        log.Append(Batches.Seq(Batches.Make(5)));
        log.Append(Batches.Seq(Batches.Make(5)));

        var result = log.Read(7, int.MaxValue, log.LogEndOffset, minOneBatch: true);

        Assert.Equal(5, result.FirstBatchBaseOffset);
        Assert.Equal([5L, 6, 7, 8, 9], Batches.Records(Batches.Bytes(result)).Select(r => r.Offset));
    }

    [Fact]
    public void Read_LimitsByMaxBytesButReturnsWholeFirstBatchWhenAsked()
    {
        using var log = Open();
        var batch = Batches.Make(5, valueSize: 100);
        log.Append(Batches.Seq(batch));
        log.Append(Batches.Seq(batch));

        Assert.Equal(batch.Length, log.Read(0, 10, log.LogEndOffset, minOneBatch: true).Region!.Value.Length);
        Assert.Equal(10, log.Read(0, 10, log.LogEndOffset, minOneBatch: false).Region!.Value.Length);
        Assert.Equal(batch.Length + 10, log.Read(0, batch.Length + 10, log.LogEndOffset, minOneBatch: true).Region!.Value.Length);
    }

    [Fact]
    public void Read_StopsBeforeBatchHoldingMaxOffset()
    {
        using var log = Open();
        log.Append(Batches.Seq(Batches.Make(3)));
        log.Append(Batches.Seq(Batches.Make(3)));

        var result = log.Read(0, int.MaxValue, maxOffset: 3, minOneBatch: true);

        Assert.Equal([0L, 1, 2], Batches.Records(Batches.Bytes(result)).Select(r => r.Offset));
        Assert.Null(log.Read(3, int.MaxValue, maxOffset: 3, minOneBatch: true).Region);
    }

    [Fact]
    public void Read_OutsideLog_ThrowsOffsetOutOfRange_AndAtEndIsEmpty()
    {
        using var log = Open();
        log.Append(Batches.Seq(Batches.Make(3)));

        Assert.Throws<OffsetOutOfRangeException>(() => log.Read(4, 100, 10, true));
        Assert.Throws<OffsetOutOfRangeException>(() => log.Read(-1, 100, 10, true));
        Assert.Null(log.Read(3, 100, 10, true).Region);
    }

    [Fact]
    public void FindOffsetByTimestamp_FindsFirstRecordAtOrAfterTimestamp()
    {
        using var log = Open(new LogConfig { SegmentBytes = 300 });
        for (var i = 0; i < 10; i++)
        {
            log.Append(Batches.Seq(Batches.Make(4, timestamp: 1000 + (i * 10)))); // record j of batch i: 1000 + 10i + j
        }

        Assert.True(log.SegmentCount > 2);
        Assert.Equal(new TimestampAndOffset(1000, 0), log.FindOffsetByTimestamp(0));
        Assert.Equal(new TimestampAndOffset(1052, 22), log.FindOffsetByTimestamp(1052));
        Assert.Equal(new TimestampAndOffset(1060, 24), log.FindOffsetByTimestamp(1054)); // between batches
        Assert.Null(log.FindOffsetByTimestamp(2000));
        Assert.Equal(new TimestampAndOffset(1093, 39), log.MaxTimestampAndOffset());
    }

    [Fact]
    public void Append_LogAppendTime_StampsBrokerTimeAndKeepsCrcValid()
    {
        using var log = Open(new LogConfig { MessageTimestampType = TimestampType.LogAppendTime });
        var result = log.Append(Batches.Seq(Batches.Make(3, timestamp: 5)));

        Assert.Equal(_time.NowMs, result.LogAppendTime);
        var stored = Batches.Bytes(log.Read(0, int.MaxValue, 10, true));
        var header = RecordBatch.Validate(stored);
        Assert.Equal(TimestampType.LogAppendTime, header.TimestampType);
        Assert.Equal(_time.NowMs, header.MaxTimestamp);
        Assert.Equal(new TimestampAndOffset(_time.NowMs, 0), log.FindOffsetByTimestamp(_time.NowMs));
    }

    [Theory]
    [InlineData(CompressionType.Lz4, 70, "CorruptMessage")] // inside the compressed records: LZ4's frame header
    [InlineData(CompressionType.Gzip, 75, "CorruptMessage")]
    [InlineData(CompressionType.None, 61, "InvalidRecord")] // the first record's length
    public void Append_BatchWithValidCrcButCorruptRecords_IsRefusedAndNotStored(CompressionType compression, int at, string error)
    {
        // Found by the protocol fuzzer: such a batch was stored, and ListOffsets by timestamp then failed
        // decompressing it. Kafka's LogValidator reads every record of a client's batch before appending.
        using var log = Open();
        var batch = Batches.Make(3, compression: compression);
        batch[at] ^= 0x5a;
        RecordBatch.WriteCrc(batch);

        var refused = Assert.Throws<LogAppendException>(() => log.Append(Batches.Seq(batch)));

        Assert.Equal(Enum.Parse<ErrorCode>(error), refused.Error);
        Assert.Equal(0, log.LogEndOffset);
        Assert.Null(log.FindOffsetByTimestamp(0));
    }

    [Fact]
    public void Append_UncompressedBatchSplitAcrossBuffersAnywhere_RecordsCheckedInPlace()
    {
        // A batch spanning receive buffers has its records read where they lie (one straddling record copied):
        // every split point must accept the valid batch and refuse the same corruption a contiguous batch gets.
        using var log = Open();
        var valid = Batches.Make(4, valueSize: 20);
        var corrupt = (byte[])valid.Clone();
        corrupt[RecordBatchHeader.Size] ^= 0x5a; // the first record's length
        RecordBatch.WriteCrc(corrupt);
        var contiguousError = Assert.Throws<LogAppendException>(() => log.Append(Batches.Seq(corrupt))).Error;

        var appended = 0L;
        for (var at = 1; at < valid.Length; at++)
        {
            log.Append(Batches.Split(valid, at));
            appended += 4;
            Assert.Equal(contiguousError, Assert.Throws<LogAppendException>(() => log.Append(Batches.Split(corrupt, at))).Error);
        }

        Assert.Equal(appended, log.LogEndOffset);
        Assert.Equal(ErrorCode.InvalidRecord, contiguousError);
    }

    [Fact]
    public void Append_InvalidInput_IsRefusedWithKafkaErrorAndNothingWritten()
    {
        using var log = Open(new LogConfig { MaxMessageBytes = 500 });
        var corrupt = Batches.Make(3);
        corrupt[^1] ^= 0xff;
        var big = Batches.Make(10, valueSize: 100);
        var control = new System.Buffers.ArrayBufferWriter<byte>();
        ControlRecords.WriteEndTransactionBatch(control, ControlRecordType.Commit, 1, 0, 0, 0, 0, 0);

        Assert.Equal(ErrorCode.CorruptMessage, Assert.Throws<LogAppendException>(() => log.Append(Batches.Seq(corrupt))).Error);
        Assert.Equal(ErrorCode.MessageTooLarge, Assert.Throws<LogAppendException>(() => log.Append(Batches.Seq(big))).Error);
        Assert.Throws<LogAppendException>(() => log.Append(Batches.Seq(control.WrittenSpan.ToArray())));
        Assert.Throws<LogAppendException>(() => log.Append(Batches.Seq(Batches.Make(2)[..30])));
        Assert.Equal(0, log.LogEndOffset);

        // The coordinator may write control batches.
        log.Append(Batches.Seq(control.WrittenSpan.ToArray()), origin: AppendOrigin.Coordinator);
        Assert.Equal(1, log.LogEndOffset);
    }

    [Fact]
    public void DeleteRecordsBefore_AdvancesStartAndDropsWholeSegments()
    {
        using var log = Open(new LogConfig { SegmentBytes = 300, FileDeleteDelayMs = 0 });
        for (var i = 0; i < 10; i++)
        {
            log.Append(Batches.Seq(Batches.Make(2)));
        }

        log.UpdateHighWatermark(log.LogEndOffset);
        var segmentsBefore = log.SegmentCount;
        Assert.Equal(11, log.DeleteRecordsBefore(11));

        Assert.Equal(11, log.LogStartOffset);
        Assert.True(log.SegmentCount < segmentsBefore);
        Assert.True(log.Segments[0].BaseOffset <= 11);
        Assert.Throws<OffsetOutOfRangeException>(() => log.Read(10, 100, 20, true));
        Assert.Contains(Batches.Records(Batches.Bytes(log.Read(11, int.MaxValue, 20, true))), r => r.Offset == 11);
        Assert.Throws<OffsetOutOfRangeException>(() => log.DeleteRecordsBefore(21));
        Assert.False(File.Exists(LogSegment.FilePath(LogDir, 0, ".log")));
    }

    [Fact]
    public void TruncateTo_RemovesBatchHoldingOffsetAndLater()
    {
        using var log = Open(new LogConfig { SegmentBytes = 300, FileDeleteDelayMs = 0 });
        for (var i = 0; i < 10; i++)
        {
            log.Append(Batches.Seq(Batches.Make(2)));
        }

        log.UpdateHighWatermark(log.LogEndOffset);
        Assert.Equal(8, log.TruncateTo(9)); // batch [8, 9] goes
        Assert.Equal(8, log.LogEndOffset);
        Assert.Equal(8, log.HighWatermark);
        log.Append(Batches.Seq(Batches.Make(1)));
        Assert.Equal(9, log.LogEndOffset);
        Assert.Equal(Enumerable.Range(0, 9).Select(i => (long)i), Batches.Records(ReadAll(log)).Select(r => r.Offset));
    }

    [Fact]
    public void Reopen_AfterCleanClose_KeepsEverything()
    {
        byte[] before;
        using (var log = Open(new LogConfig { SegmentBytes = 500 }))
        {
            for (var i = 0; i < 20; i++)
            {
                log.Append(Batches.Seq(Batches.Make(3)));
            }

            before = ReadAll(log);
            log.Close();
        }

        using var reopened = Open(new LogConfig { SegmentBytes = 500 });
        Assert.Equal(60, reopened.LogEndOffset);
        Assert.Equal(before, ReadAll(reopened));
        Assert.Equal(60, reopened.Append(Batches.Seq(Batches.Make(1))).FirstOffset);
    }

    [Fact]
    public void Reopen_AfterCrash_RecoversEveryCompleteBatch()
    {
        var crashed = Path.Combine(_dir.Path, "crashed", Tp.DirectoryName);
        byte[] before;
        using (var log = Open(new LogConfig { SegmentBytes = 500 }))
        {
            for (var i = 0; i < 20; i++)
            {
                log.Append(Batches.Seq(Batches.Make(3)));
            }

            before = ReadAll(log);
            CopyDirectory(LogDir, crashed); // the files as a killed process leaves them: no clean close
        }

        using var recovered = PartitionLog.Open(crashed, Tp, new LogConfig { SegmentBytes = 500 }, default, cleanShutdown: false, _logger, _time);
        Assert.Equal(60, recovered.LogEndOffset);
        Assert.Equal(before, ReadAll(recovered));
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public void Recovery_FlippedByteInMiddleOfSegment_TruncatesFromThatBatchAndNamesLostOffsets()
    {
        using (var log = Open())
        {
            for (var i = 0; i < 10; i++)
            {
                log.Append(Batches.Seq(Batches.Make(5)));
            }
        }

        // Corrupt a byte inside the 5th batch (offsets 20..24).
        var path = LogSegment.FilePath(LogDir, 0, ".log");
        var bytes = File.ReadAllBytes(path);
        var batchSize = bytes.Length / 10;
        bytes[(4 * batchSize) + 70] ^= 0x5a;
        File.WriteAllBytes(path, bytes);

        using var recovered = Open(clean: false);
        Assert.Equal(20, recovered.LogEndOffset);
        Assert.Equal(4 * batchSize, new FileInfo(path).Length);
        var warning = Assert.Single(_logger.Warnings);
        Assert.Contains("offsets 20 to 49", warning);
        Assert.Equal(20, recovered.Append(Batches.Seq(Batches.Make(1))).FirstOffset);
    }

    [Fact]
    public void Recovery_TornTail_IsCutAndLaterSegmentsDropped()
    {
        using (var log = Open(new LogConfig { SegmentBytes = 400 }))
        {
            for (var i = 0; i < 10; i++)
            {
                log.Append(Batches.Seq(Batches.Make(2)));
            }
        }

        var first = LogSegment.FilePath(LogDir, 0, ".log");
        var length = new FileInfo(first).Length;
        using (var f = File.OpenWrite(first))
        {
            f.SetLength(length - 7);
        }

        using var recovered = Open(new LogConfig { SegmentBytes = 400 }, clean: false);
        Assert.Single(recovered.Segments);
        Assert.True(recovered.LogEndOffset < 10);
        Assert.Contains(_logger.Warnings, w => w.Contains("torn", StringComparison.Ordinal));
    }

    [Fact]
    public void Open_CorruptIndexAfterCleanShutdown_IsRebuilt()
    {
        using (var log = Open(new LogConfig { IndexIntervalBytes = 100 }))
        {
            for (var i = 0; i < 20; i++)
            {
                log.Append(Batches.Seq(Batches.Make(2)));
            }
        }

        var index = LogSegment.FilePath(LogDir, 0, ".index");
        var garbage = new byte[24];
        new Random(3).NextBytes(garbage);
        File.WriteAllBytes(index, garbage);

        using var reopened = Open(new LogConfig { IndexIntervalBytes = 100 });
        Assert.Contains(_logger.Warnings, w => w.Contains("Rebuilding the indexes", StringComparison.Ordinal));
        Assert.Equal(40, reopened.LogEndOffset);
        for (var offset = 0L; offset < 40; offset++)
        {
            Assert.Contains(Batches.Records(Batches.Bytes(reopened.Read(offset, 1, 40, true))), r => r.Offset == offset);
        }
    }

    [Fact]
    public async Task Reads_RunConcurrentlyWithAppends()
    {
        using var log = Open(new LogConfig { SegmentBytes = 4096 });
        using var stop = new CancellationTokenSource();
        var errors = 0;
        var reader = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                var end = log.LogEndOffset;
                if (end == 0)
                {
                    continue;
                }

                var offset = Random.Shared.NextInt64(0, end);
                var records = Batches.Records(Batches.Bytes(log.Read(offset, 1, end, true)));
                if (!records.Any(r => r.Offset == offset))
                {
                    Interlocked.Increment(ref errors);
                }
            }
        });
        for (var i = 0; i < 2000; i++)
        {
            log.Append(Batches.Seq(Batches.Make(3)));
        }

        stop.Cancel();
        await reader;
        Assert.Equal(0, errors);
        Assert.True(log.SegmentCount > 10);
    }

    internal static byte[] ReadAll(PartitionLog log)
    {
        var all = new List<byte>();
        var offset = log.LogStartOffset;
        while (offset < log.LogEndOffset)
        {
            var result = log.Read(offset, int.MaxValue, log.LogEndOffset, true);
            var bytes = Batches.Bytes(result);
            all.AddRange(bytes);
            var records = Batches.Records(bytes);
            offset = records.Count > 0 ? records[^1].Offset + 1 : offset + 1;
        }

        return [.. all];
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
