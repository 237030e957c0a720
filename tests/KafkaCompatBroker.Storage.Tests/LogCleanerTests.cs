using System.Buffers;
using System.Text;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Storage.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class LogCleanerTests : IDisposable
{
    private static readonly TopicPartition Tp = new("compacted", 0);
    private readonly TempDir _dir = new();
    private readonly ListLogger _logger = new();
    private readonly ManualTime _time = new();

    private static readonly LogConfig Compacted = new()
    {
        SegmentBytes = 600,
        IndexIntervalBytes = 100,
        FileDeleteDelayMs = 0,
        CleanupPolicy = CleanupPolicy.Compact,
        DeleteRetentionMs = 10_000,
    };

    private string LogDir => Path.Combine(_dir.Path, Tp.DirectoryName);

    public void Dispose() => _dir.Dispose();

    private PartitionLog Open(LogConfig? config = null, string? dir = null, bool clean = true) =>
        Hosted(PartitionLog.Open(dir ?? LogDir, Tp, config ?? Compacted, default, clean, _logger, _time));

    /// <summary>As the broker's Partition does when it leads the log with one replica: the high watermark moves to the log end.</summary>
    private static PartitionLog Hosted(PartitionLog log)
    {
        log.UpdateHighWatermark(log.LogEndOffset);
        return log;
    }

    // ------------------------------------------------------------------ helpers

    private static byte[] MakeBatch(long timestamp, IEnumerable<(string? Key, string? Value)> records, CompressionType compression = CompressionType.None, long producerId = -1, short epoch = -1, int baseSequence = -1, bool transactional = false)
    {
        using var builder = new RecordBatchBuilder(compression, producerId, epoch, baseSequence, transactional);
        foreach (var (key, value) in records)
        {
            builder.Append(timestamp, key is null ? null : Encoding.UTF8.GetBytes(key), value is null ? null : Encoding.UTF8.GetBytes(value));
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    private long Put(PartitionLog log, string? key, string? value, long? timestamp = null) =>
        log.Append(Batches.Seq(MakeBatch(timestamp ?? _time.NowMs, [(key, value)]))).FirstOffset;

    private void Marker(PartitionLog log, ControlRecordType type, long producerId, short epoch = 0)
    {
        var output = new ArrayBufferWriter<byte>();
        ControlRecords.WriteEndTransactionBatch(output, type, producerId, epoch, coordinatorEpoch: 1, _time.NowMs);
        log.Append(Batches.Seq(output.WrittenSpan.ToArray()), origin: AppendOrigin.Coordinator);
    }

    /// <summary>Rolls so everything written is outside the active segment, and commits it.</summary>
    private static void Seal(PartitionLog log)
    {
        log.Roll();
        log.UpdateHighWatermark(log.LogEndOffset);
    }

    /// <summary>Every batch of the log (headers) and every data record, read through the fetch path segment by segment.</summary>
    private static (List<RecordBatchHeader> Batches, List<(long Offset, string? Key, string? Value)> Records) ReadAll(PartitionLog log)
    {
        var headers = new List<RecordBatchHeader>();
        var records = new List<(long, string?, string?)>();
        var offset = log.LogStartOffset;
        while (offset < log.LogEndOffset)
        {
            var bytes = Batches.Bytes(log.Read(offset, int.MaxValue, log.LogEndOffset, minOneBatch: true));
            if (bytes.Length == 0)
            {
                break;
            }

            for (var position = 0; position < bytes.Length;)
            {
                var header = RecordBatch.Validate(bytes.AsSpan(position));
                headers.Add(header);
                position += header.TotalSize;
                offset = header.NextOffset;
            }

            records.AddRange(Batches.Records(bytes));
        }

        return (headers, records);
    }

    /// <summary>What a consumer positioned at <paramref name="offset"/> receives first: fetch, and move past batches without records.</summary>
    private static long FirstRecordFrom(PartitionLog log, long offset)
    {
        var position = offset;
        while (position < log.LogEndOffset)
        {
            var bytes = Batches.Bytes(log.Read(position, 1, log.LogEndOffset, minOneBatch: true));
            var records = Batches.Records(bytes);
            Assert.DoesNotContain(records, r => r.Offset < offset);
            if (records.Count > 0)
            {
                return records[0].Offset;
            }

            position = RecordBatch.Validate(bytes).NextOffset;
        }

        return -1;
    }

    private static Dictionary<string, string?> Latest(List<(long Offset, string? Key, string? Value)> records) =>
        records.Where(r => r.Key is not null).GroupBy(r => r.Key!).ToDictionary(g => g.Key, g => g.MaxBy(r => r.Offset).Value);

    // ------------------------------------------------------------------ key retention

    [Fact]
    public void CleanCompact_DuplicateKeys_KeepsLatestValuePerKeyAtOriginalOffsets()
    {
        using var log = Open();
        for (var i = 0; i < 40; i++)
        {
            Put(log, $"k{i % 5}", $"v{i}");
        }

        Seal(log);
        Assert.True(log.SegmentCount > 4);

        var cleanedUpTo = new LogCleaner().CleanCompact(log, 0);

        Assert.Equal(40, cleanedUpTo);
        var (batches, records) = ReadAll(log);
        Assert.Equal([35L, 36, 37, 38, 39], records.Select(r => r.Offset));
        Assert.Equal(["k0", "k1", "k2", "k3", "k4"], records.Select(r => r.Key));
        Assert.Equal(["v35", "v36", "v37", "v38", "v39"], records.Select(r => r.Value));
        Assert.Equal(40, log.LogEndOffset);
        Assert.All(batches, b => Assert.True(b.RecordsCount == 0 || b.BaseOffset >= 35));
        Assert.DoesNotContain(Directory.GetFiles(LogDir), f => f.EndsWith(".cleaned", StringComparison.Ordinal) || f.EndsWith(".swap", StringComparison.Ordinal) || f.EndsWith(".deleted", StringComparison.Ordinal));
    }

    [Fact]
    public void CleanCompact_AfterCleaning_FetchFromEveryOffsetAndTimestampLookupsWork()
    {
        using var log = Open();
        var start = _time.NowMs;
        for (var i = 0; i < 30; i++)
        {
            Put(log, i % 3 == 0 ? $"unique{i}" : $"dup{i % 2}", $"v{i}", start + i);
        }

        Seal(log);
        new LogCleaner().CleanCompact(log, 0);
        var survivors = ReadAll(log).Records.Select(r => r.Offset).ToList();
        Assert.Equal(12, survivors.Count); // 10 unique keys + the last dup0 and dup1

        for (var offset = 0L; offset < log.LogEndOffset; offset++)
        {
            // A consumer fetching from a removed offset gets the next surviving record (skipping empty batches).
            Assert.Equal(survivors.First(o => o >= offset), FirstRecordFrom(log, offset));
        }

        for (var i = 0; i < 30; i++)
        {
            var found = log.FindOffsetByTimestamp(start + i);
            var expected = survivors.First(o => o >= i);
            Assert.Equal(expected, found!.Value.Offset);
            Assert.Equal(start + expected, found.Value.Timestamp);
        }
    }

    [Fact]
    public void CleanCompact_KeylessRecords_AreRemoved()
    {
        using var log = Open();
        log.Append(Batches.Seq(MakeBatch(_time.NowMs, [("a", "1"), (null, "keyless"), ("b", "2")])));
        Put(log, "c", "3");
        Seal(log);

        var result = new LogCleaner().Clean(log, 0);

        Assert.Equal([("a", "1"), ("b", "2"), ("c", "3")], ReadAll(log).Records.Select(r => (r.Key!, r.Value!)));
        Assert.Equal(1, result.KeylessRecordsRemoved);
    }

    // ------------------------------------------------------------------ tombstones

    [Fact]
    public void CleanCompact_Tombstone_SurvivesFirstPassWithHorizonThenVanishesAfterDeleteRetention()
    {
        using var log = Open();
        Put(log, "gone", "old");
        Put(log, "kept", "x");
        var tombstoneOffset = Put(log, "gone", null);
        for (var i = 0; i < 10; i++)
        {
            Put(log, $"filler{i}", "f");
        }

        Seal(log);
        var cleaner = new LogCleaner();

        var first = cleaner.Clean(log, 0);

        var (batches, records) = ReadAll(log);
        Assert.DoesNotContain(records, r => r.Value == "old");
        Assert.Contains(records, r => r.Offset == tombstoneOffset && r.Key == "gone" && r.Value is null);
        var tombstoneBatch = batches.Single(b => b.BaseOffset == tombstoneOffset);
        Assert.True(tombstoneBatch.HasDeleteHorizon);
        Assert.Equal(_time.NowMs + Compacted.DeleteRetentionMs, tombstoneBatch.BaseTimestamp);
        Assert.Equal(_time.NowMs + Compacted.DeleteRetentionMs, first.NextDeleteHorizonMs);
        Assert.False(batches.Single(b => b.BaseOffset == 1).HasDeleteHorizon); // no tombstone: untouched

        // Before the horizon a later pass keeps it; nothing is dirty, so the log manager's call does nothing.
        _time.Advance(Compacted.DeleteRetentionMs - 1);
        Assert.Equal(first.CleanedUpTo, cleaner.MaybeClean(log, first.CleanedUpTo));
        cleaner.CleanCompact(log, first.CleanedUpTo);
        Assert.Contains(ReadAll(log).Records, r => r.Offset == tombstoneOffset);

        // Past the horizon the log manager's next call removes it, even without new writes.
        _time.Advance(1);
        cleaner.MaybeClean(log, first.CleanedUpTo);
        records = ReadAll(log).Records;
        Assert.DoesNotContain(records, r => r.Key == "gone");
        Assert.Contains(records, r => r.Key == "kept");
        Assert.Equal(11, records.Count);
    }

    [Fact]
    public void CleanCompact_TombstoneInLaterDirtySection_RemovesOlderValuesFromCleanSection()
    {
        using var log = Open();
        for (var i = 0; i < 12; i++)
        {
            Put(log, $"k{i}", "v1");
        }

        Seal(log);
        var cleaner = new LogCleaner();
        var checkpoint = cleaner.CleanCompact(log, 0);
        Put(log, "k3", null);
        Put(log, "k4", "v2");
        Seal(log);

        checkpoint = cleaner.CleanCompact(log, checkpoint);

        Assert.Equal(log.LogEndOffset, checkpoint);
        var latest = Latest(ReadAll(log).Records);
        Assert.Null(latest["k3"]);
        Assert.Equal("v2", latest["k4"]);
        Assert.Equal(12, ReadAll(log).Records.Count);
    }

    // ------------------------------------------------------------------ what gets cleaned when

    [Fact]
    public void CleanCompact_MinCompactionLag_LeavesYoungSegmentsDirty()
    {
        using var log = Open(Compacted with { MinCompactionLagMs = 60_000 });
        var old = _time.NowMs - 120_000;
        for (var i = 0; i < 10; i++)
        {
            Put(log, $"k{i % 2}", $"old{i}", old);
        }

        log.Roll();
        var firstYoung = log.LogEndOffset;
        for (var i = 0; i < 10; i++)
        {
            Put(log, $"k{i % 2}", $"young{i}");
        }

        Seal(log);

        var cleanedUpTo = new LogCleaner().CleanCompact(log, 0);

        Assert.Equal(firstYoung, cleanedUpTo);
        var records = ReadAll(log).Records;
        Assert.Equal(2, records.Count(r => r.Value!.StartsWith("old", StringComparison.Ordinal)));
        Assert.Equal(10, records.Count(r => r.Value!.StartsWith("young", StringComparison.Ordinal)));
    }

    [Fact]
    public void NeedsCleaning_DirtyRatioAndMaxCompactionLag_GateCleaning()
    {
        using var log = Open(Compacted with { MinCleanableDirtyRatio = 0.5 });
        for (var i = 0; i < 40; i++)
        {
            Put(log, $"k{i % 4}", $"v{i}");
        }

        // Everything in the active segment: nothing is cleanable yet.
        log.UpdateHighWatermark(log.LogEndOffset);
        var active = log.Segments[^1].BaseOffset;
        Assert.Equal(0, LogCleaner.DirtyRatio(log, active));
        Assert.Equal(1.0, LogCleaner.DirtyRatio(log, 0), 3);
        Seal(log);
        Assert.True(LogCleaner.NeedsCleaning(log, 0));

        var cleaner = new LogCleaner();
        var checkpoint = cleaner.MaybeClean(log, 0);
        Assert.Equal(log.LogEndOffset, checkpoint);
        Assert.Equal(0, LogCleaner.DirtyRatio(log, checkpoint));
        Assert.False(LogCleaner.NeedsCleaning(log, checkpoint));
        Assert.Equal(checkpoint, cleaner.MaybeClean(log, checkpoint));

        // A little new dirt (one small segment against a bigger clean part) stays below the ratio...
        for (var i = 0; i < 4; i++)
        {
            Put(log, "x", "y");
        }

        Seal(log);
        var ratio = LogCleaner.DirtyRatio(log, checkpoint);
        Assert.InRange(ratio, 0.01, 0.5);
        Assert.False(LogCleaner.NeedsCleaning(log, checkpoint));
        Assert.Equal(checkpoint, cleaner.MaybeClean(log, checkpoint));

        // ...until it is older than max.compaction.lag.ms.
        log.UpdateConfig(log.Config with { MaxCompactionLagMs = 1_000 });
        Assert.Equal(0, LogCleaner.MaxCompactionDelayMs(log, checkpoint));
        _time.Advance(5_000);
        Assert.True(LogCleaner.MaxCompactionDelayMs(log, checkpoint) > 0);
        Assert.True(LogCleaner.NeedsCleaning(log, checkpoint));
        Assert.Equal(log.LogEndOffset, cleaner.MaybeClean(log, checkpoint));
        Assert.Single(ReadAll(log).Records, r => r.Key == "x");
    }

    [Fact]
    public void NeedsCleaning_DeletePolicy_False()
    {
        using var log = Open(Compacted with { CleanupPolicy = CleanupPolicy.Delete });
        for (var i = 0; i < 20; i++)
        {
            Put(log, "k", $"v{i}");
        }

        Seal(log);
        Assert.False(LogCleaner.NeedsCleaning(log, 0));
        Assert.Equal(0, new LogCleaner().MaybeClean(log, 0));
    }

    [Fact]
    public void CleanCompact_OffsetMapFull_CleansUpToWhereMapFilledThenContinues()
    {
        using var log = Open(Compacted with { SegmentBytes = 100_000 });
        for (var round = 1; round <= 2; round++)
        {
            for (var i = 0; i < 10; i++)
            {
                Put(log, $"k{i}", $"v{round}");
            }
        }

        Seal(log);
        var cleaner = new LogCleaner(new LogCleanerOptions { MaxOffsetMapEntries = 5 });

        var checkpoints = new List<long>();
        var checkpoint = 0L;
        for (var pass = 0; pass < 4; pass++)
        {
            checkpoint = cleaner.CleanCompact(log, checkpoint);
            checkpoints.Add(checkpoint);
        }

        Assert.Equal([5L, 10, 15, 20], checkpoints);
        var records = ReadAll(log).Records;
        Assert.Equal(10, records.Count);
        Assert.All(records, r => Assert.Equal("v2", r.Value));
        Assert.Contains(_logger.Lines, l => l.Message.Contains("offset map", StringComparison.Ordinal) && l.Message.Contains("full", StringComparison.Ordinal));
    }

    // ------------------------------------------------------------------ batch encoding

    [Theory]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Zstd)]
    public void CleanCompact_CompressedBatchLosingRecords_IsReencodedWithSameCodecOffsetsAndLastOffsetDelta(CompressionType compression)
    {
        using var log = Open(Compacted with { SegmentBytes = 100_000 });
        log.Append(Batches.Seq(Batches.Make(10, _time.NowMs, compression: compression, value: i => Encoding.UTF8.GetBytes($"a{i}"))));
        log.Append(Batches.Seq(Batches.Make(5, _time.NowMs, compression: compression, value: i => Encoding.UTF8.GetBytes($"b{i}"))));
        Seal(log);

        new LogCleaner().CleanCompact(log, 0);

        var (batches, records) = ReadAll(log);
        Assert.Equal(2, batches.Count);
        Assert.All(batches, b => Assert.Equal(compression, b.CompressionType));
        Assert.Equal((0L, 9, 5), (batches[0].BaseOffset, batches[0].LastOffsetDelta, batches[0].RecordsCount));
        Assert.Equal([5L, 6, 7, 8, 9, 10, 11, 12, 13, 14], records.Select(r => r.Offset));
        Assert.Equal(["a5", "a6", "a7", "a8", "a9", "b0", "b1", "b2", "b3", "b4"], records.Select(r => r.Value));
        Assert.Equal(15, log.LogEndOffset);
    }

    [Fact]
    public void CleanCompact_FullySurvivingBatch_IsByteIdentical()
    {
        using var log = Open();
        Put(log, "dup", "1");
        var untouched = log.Append(Batches.Seq(Batches.Make(3, _time.NowMs, compression: CompressionType.Gzip, keyPrefix: "unique"))).FirstOffset;
        Put(log, "dup", "2");
        Seal(log);
        var before = Batches.Bytes(log.Read(untouched, 1, log.LogEndOffset, minOneBatch: true));

        new LogCleaner().CleanCompact(log, 0);

        var after = Batches.Bytes(log.Read(untouched, 1, log.LogEndOffset, minOneBatch: true));
        Assert.Equal(before, after);
        Assert.DoesNotContain(ReadAll(log).Records, r => r.Value == "1");
    }

    [Fact]
    public void CleanCompact_IdempotentBatchLosingRecords_KeepsProducerFieldsAndLastOffset()
    {
        using var log = Open(Compacted with { SegmentBytes = 100_000 });
        var baseOffset = log.Append(Batches.Seq(MakeBatch(_time.NowMs, [("a", "1"), ("b", "1"), ("c", "1")], producerId: 42, epoch: 3, baseSequence: 10))).FirstOffset;
        log.Append(Batches.Seq(MakeBatch(_time.NowMs, [("b", "2")], producerId: 42, epoch: 3, baseSequence: 13)));
        Seal(log);

        new LogCleaner().CleanCompact(log, 0);

        var (batches, records) = ReadAll(log);
        var first = batches[0];
        Assert.Equal((baseOffset, 2, 2), (first.BaseOffset, first.LastOffsetDelta, first.RecordsCount));
        Assert.Equal((42L, (short)3, 10), (first.ProducerId, first.ProducerEpoch, first.BaseSequence));
        Assert.Equal([(0L, "a"), (2L, "c"), (3L, "b")], records.Select(r => (r.Offset, r.Key!)));
    }

    [Fact]
    public void CleanCompact_LastBatchOfActiveProducer_KeptEmptyUntilProducerExpires()
    {
        using var log = Open();
        var producerBatch = log.Append(Batches.Seq(MakeBatch(_time.NowMs, [("k", "from-producer")], producerId: 7, epoch: 1, baseSequence: 99))).FirstOffset;
        for (var i = 0; i < 8; i++)
        {
            Put(log, i == 0 ? "k" : $"other{i}", "plain");
        }

        Seal(log);
        var cleaner = new LogCleaner(new LogCleanerOptions { ProducerIdExpirationMs = 60_000 });

        var checkpoint = cleaner.CleanCompact(log, 0);

        var empty = ReadAll(log).Batches.Single(b => b.BaseOffset == producerBatch);
        Assert.Equal((0, 7L, (short)1, 99), (empty.RecordsCount, empty.ProducerId, empty.ProducerEpoch, empty.BaseSequence));
        Assert.DoesNotContain(ReadAll(log).Records, r => r.Value == "from-producer");

        _time.Advance(60_000);
        cleaner.CleanCompact(log, checkpoint);
        Assert.DoesNotContain(ReadAll(log).Batches, b => b.ProducerId == 7);
    }

    // ------------------------------------------------------------------ transactions

    [Fact]
    public void CleanCompact_Transactions_AbortedRecordsRemovedCommittedKeptMarkersKeptWhileNeeded()
    {
        const long aborter = 1000, committer = 2000;
        using var log = Open();
        Put(log, "k0", "plain-old");                                                                                       // 0
        Put(log, "k1", "plain-old");                                                                                       // 1
        log.Append(Batches.Seq(MakeBatch(_time.NowMs, [("k0", "aborted")], producerId: aborter, epoch: 0, baseSequence: 0, transactional: true)));      // 2
        log.Append(Batches.Seq(MakeBatch(_time.NowMs, [("k1", "committed")], producerId: committer, epoch: 0, baseSequence: 0, transactional: true))); // 3
        Marker(log, ControlRecordType.Abort, aborter);                                                                     // 4
        Marker(log, ControlRecordType.Commit, committer);                                                                  // 5
        for (var i = 0; i < 8; i++)
        {
            Put(log, $"f{i}", "filler");
        }

        Seal(log);
        var cleaner = new LogCleaner(new LogCleanerOptions { ProducerIdExpirationMs = 5_000 });

        var checkpoint = cleaner.CleanCompact(log, 0);

        var (batches, records) = ReadAll(log);
        Assert.Equal("plain-old", Latest(records)["k0"]); // the aborted value never counts
        Assert.Equal("committed", Latest(records)["k1"]);
        Assert.DoesNotContain(records, r => r.Value == "aborted");
        Assert.DoesNotContain(records, r => r.Offset == 1);
        Assert.Equal(0, batches.Single(b => b.BaseOffset == 2).RecordsCount); // the producer's last batch, kept empty
        Assert.Contains(batches, b => b.BaseOffset == 4 && b.IsControl && b.RecordsCount == 1 && !b.HasDeleteHorizon);
        Assert.Contains(batches, b => b.BaseOffset == 5 && b.IsControl && b.RecordsCount == 1);

        // The aborting producer expires: its empty batch goes, so its marker gets a delete horizon...
        _time.Advance(10_000);
        cleaner.CleanCompact(log, checkpoint);
        batches = ReadAll(log).Batches;
        Assert.DoesNotContain(batches, b => b.BaseOffset == 2);
        var abortMarker = batches.Single(b => b.BaseOffset == 4);
        Assert.True(abortMarker.HasDeleteHorizon);
        Assert.Equal(_time.NowMs + Compacted.DeleteRetentionMs, abortMarker.BaseTimestamp);

        // ...and after it the marker goes. The commit marker stays: its transaction's record is still there.
        _time.Advance(Compacted.DeleteRetentionMs);
        cleaner.CleanCompact(log, checkpoint);
        (batches, records) = ReadAll(log);
        Assert.DoesNotContain(batches, b => b.BaseOffset == 4);
        Assert.Contains(batches, b => b.BaseOffset == 5 && b.IsControl && b.RecordsCount == 1);
        Assert.Equal("committed", Latest(records)["k1"]);
    }

    [Fact]
    public void CleanCompact_OpenTransaction_NotCleanedPastItsFirstOffset()
    {
        using var log = Open();
        for (var i = 0; i < 10; i++)
        {
            Put(log, "k", $"before{i}");
        }

        log.Roll();
        var open = log.Append(Batches.Seq(MakeBatch(_time.NowMs, [("t", "pending")], producerId: 5, epoch: 0, baseSequence: 0, transactional: true))).FirstOffset;
        log.Roll();
        for (var i = 0; i < 10; i++)
        {
            Put(log, "k", $"after{i}");
        }

        Seal(log);

        var checkpoint = new LogCleaner().CleanCompact(log, 0);

        Assert.Equal(open, checkpoint);
        var records = ReadAll(log).Records;
        Assert.Equal(["before9"], records.Where(r => r.Value!.StartsWith("before", StringComparison.Ordinal)).Select(r => r.Value));
        Assert.Equal(10, records.Count(r => r.Value!.StartsWith("after", StringComparison.Ordinal)));
    }

    // ------------------------------------------------------------------ durability and concurrency

    [Fact]
    public void Reopen_AfterCompaction_HasSameContent()
    {
        List<(long, string?, string?)> expected;
        long end;
        using (var log = Open())
        {
            for (var i = 0; i < 50; i++)
            {
                Put(log, i % 7 == 0 ? $"t{i % 3}" : $"k{i % 6}", i % 11 == 0 ? null : $"v{i}");
            }

            Seal(log);
            new LogCleaner().CleanCompact(log, 0);
            expected = ReadAll(log).Records;
            end = log.LogEndOffset;
        }

        foreach (var cleanShutdown in new[] { true, false })
        {
            using var reopened = Open(clean: cleanShutdown);
            Assert.Equal(end, reopened.LogEndOffset);
            Assert.Equal(expected, ReadAll(reopened).Records);
            Assert.Empty(_logger.Warnings);
        }
    }

    [Fact]
    public void Open_InterruptedSwap_CompletesIt()
    {
        var pristine = Path.Combine(_dir.Path, "pristine");
        List<(long Offset, string? Key, string? Value)> original;
        using (var log = Open())
        {
            for (var i = 0; i < 60; i++)
            {
                Put(log, $"k{i % 4}", $"v{i}");
            }

            Seal(log);
            original = ReadAll(log).Records;
        }

        CopyDirectory(LogDir, pristine);

        // Clean the log to get the swap segment a crash could leave behind: the first cleaned group. The
        // second pass groups the segments the first one shrank, so its first group replaces several segments.
        long groupEnd;
        List<(long Offset, string? Key, string? Value)> cleaned;
        using (var log = Open())
        {
            var cleaner = new LogCleaner();
            cleaner.CleanCompact(log, cleaner.CleanCompact(log, 0));
            groupEnd = log.Segments[0].NextOffset;
            cleaned = ReadAll(log).Records;
        }

        var firstBase = LogSegment.FilePath(LogDir, 0, "");
        foreach (var suffix in new[] { LogSegment.LogSuffix, LogSegment.IndexSuffix, LogSegment.TimeIndexSuffix })
        {
            File.Copy(firstBase + suffix, Path.Combine(pristine, Path.GetFileName(firstBase + suffix) + ".swap"));
        }

        // The crash: ".swap" written and renamed, old segments not yet deleted.
        var segmentsBefore = Directory.GetFiles(pristine, "*.log").Select(f => long.Parse(Path.GetFileNameWithoutExtension(f), System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var replaced = segmentsBefore.Count(b => b < groupEnd);
        Assert.True(replaced > 1);
        using (var recovered = Open(dir: pristine, clean: false))
        {
            Assert.Empty(Directory.GetFiles(pristine, "*.swap"));
            Assert.Equal(segmentsBefore.Count - replaced + 1, Directory.GetFiles(pristine, "*.log").Length);
            var records = ReadAll(recovered).Records;
            Assert.Equal(cleaned.Where(r => r.Offset < groupEnd), records.Where(r => r.Offset < groupEnd)); // no old values came back
            Assert.Equal(original.Where(r => r.Offset >= groupEnd), records.Where(r => r.Offset >= groupEnd));
            Assert.Equal(60, recovered.LogEndOffset);
        }

        Assert.Contains(_logger.Lines, l => l.Message.Contains("interrupted compaction swap", StringComparison.Ordinal));
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }

    [Fact]
    public async Task CleanCompact_ConcurrentAppends_ContinueAndAreKept()
    {
        using var log = Open();
        for (var i = 0; i < 60; i++)
        {
            Put(log, $"k{i % 5}", $"v{i}");
        }

        Seal(log);
        using var stop = new CancellationTokenSource();
        var appended = new List<string>();
        var writer = Task.Run(() =>
        {
            for (var i = 0; i < 300; i++)
            {
                Put(log, $"new{i}", "x");
                log.UpdateHighWatermark(log.LogEndOffset);
                appended.Add($"new{i}");
            }
        });

        var cleaner = new LogCleaner();
        var checkpoint = 0L;
        while (!writer.IsCompleted)
        {
            checkpoint = Math.Max(checkpoint, cleaner.CleanCompact(log, checkpoint));
        }

        await writer;
        Seal(log);
        checkpoint = cleaner.CleanCompact(log, checkpoint);

        Assert.Equal(log.LogEndOffset, checkpoint);
        var latest = Latest(ReadAll(log).Records);
        Assert.All(appended, key => Assert.Equal("x", latest[key]));
        Assert.Equal(305, ReadAll(log).Records.Count);
    }
}
