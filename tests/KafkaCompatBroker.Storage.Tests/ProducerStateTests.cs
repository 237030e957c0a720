using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Storage.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class ProducerStateTests : IDisposable
{
    private static readonly TopicPartition Tp = new("orders", 0);
    private readonly TempDir _dir = new();
    private readonly ManualTime _time = new();

    public void Dispose() => _dir.Dispose();

    private string LogDir => Path.Combine(_dir.Path, Tp.DirectoryName);

    private PartitionLog Open(LogConfig? config = null, bool cleanShutdown = true, PartitionLogCheckpoint checkpoint = default) =>
        Hosted(PartitionLog.Open(LogDir, Tp, config ?? new LogConfig(), checkpoint, cleanShutdown, new ListLogger(), _time));

    /// <summary>As the broker's Partition does when it leads the log with one replica: the high watermark moves to the log end.</summary>
    private static PartitionLog Hosted(PartitionLog log)
    {
        log.UpdateHighWatermark(log.LogEndOffset);
        return log;
    }

    /// <summary>An idempotent (or transactional) batch of <paramref name="count"/> records.</summary>
    internal static ReadOnlySequence<byte> Batch(long producerId, short epoch, int baseSequence, int count = 1, bool transactional = false, long timestamp = 1_700_000_000_000)
    {
        using var builder = new RecordBatchBuilder(CompressionType.None, producerId, epoch, baseSequence, transactional);
        for (var i = 0; i < count; i++)
        {
            builder.Append(timestamp + i, "k"u8, "v"u8);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return new ReadOnlySequence<byte>(output.WrittenMemory);
    }

    internal static ReadOnlySequence<byte> Marker(long producerId, short epoch, bool commit, int coordinatorEpoch = 0, long timestamp = 1_700_000_000_000)
    {
        var output = new ArrayBufferWriter<byte>();
        ControlRecords.WriteEndTransactionBatch(output, commit ? ControlRecordType.Commit : ControlRecordType.Abort, producerId, epoch, coordinatorEpoch, timestamp);
        return new ReadOnlySequence<byte>(output.WrittenMemory);
    }

    private static ErrorCode AppendError(PartitionLog log, ReadOnlySequence<byte> records, AppendOrigin origin = AppendOrigin.Client)
    {
        try
        {
            log.Append(records, origin: origin);
            return ErrorCode.None;
        }
        catch (LogAppendException e)
        {
            return e.Error;
        }
    }

    public static TheoryData<short, int, short, int, ErrorCode> SequenceCases => new()
    {
        // first batch (epoch, seq, 3 records), second batch (epoch, seq) → error
        { 0, 0, 0, 3, ErrorCode.None },
        { 0, 0, 0, 4, ErrorCode.OutOfOrderSequenceNumber },
        { 0, 0, 0, 2, ErrorCode.OutOfOrderSequenceNumber },
        { 0, 0, 1, 0, ErrorCode.None },
        { 0, 0, 1, 5, ErrorCode.OutOfOrderSequenceNumber },
        { 1, 0, 0, 3, ErrorCode.InvalidProducerEpoch },
        { 0, 7, 0, 10, ErrorCode.None }, // an unknown producer may start at any sequence (Kafka 4)
        { 0, int.MaxValue - 2, 0, 0, ErrorCode.None }, // wrap-around at int max
        { 0, int.MaxValue - 2, 0, 1, ErrorCode.OutOfOrderSequenceNumber },
    };

    [Theory]
    [MemberData(nameof(SequenceCases))]
    public void Append_SequenceRules_AsKafka(short firstEpoch, int firstSequence, short secondEpoch, int secondSequence, ErrorCode expected)
    {
        using var log = Open();
        log.Append(Batch(1000, firstEpoch, firstSequence, count: 3));
        var end = log.LogEndOffset;

        Assert.Equal(expected, AppendError(log, Batch(1000, secondEpoch, secondSequence)));
        Assert.Equal(expected == ErrorCode.None ? end + 1 : end, log.LogEndOffset);
    }

    [Fact]
    public void Append_RetryOfOneOfLastFiveBatches_ReturnsOriginalOffsetsAndWritesNothing()
    {
        using var log = Open();
        log.Append(Batch(7, 0, 0, count: 1));
        var second = log.Append(Batch(7, 0, 1, count: 2));
        for (var seq = 3; seq < 7; seq++)
        {
            log.Append(Batch(7, 0, seq));
        }

        var end = log.LogEndOffset;
        var retry = log.Append(Batch(7, 0, 1, count: 2));

        Assert.True(retry.Duplicate);
        Assert.Equal(second.FirstOffset, retry.FirstOffset);
        Assert.Equal(second.LastOffset, retry.LastOffset);
        Assert.Equal(end, log.LogEndOffset);

        // The very first batch is no longer among the last five: it is out of order, not a duplicate.
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, AppendError(log, Batch(7, 0, 0)));
    }

    [Fact]
    public void Append_RefusedBatchInRecordSet_WritesNothing()
    {
        using var log = Open();
        log.Append(Batch(5, 0, 0));
        var good = Batch(6, 0, 0).ToArray();
        var bad = Batch(5, 0, 9).ToArray();

        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, AppendError(log, new ReadOnlySequence<byte>([.. good, .. bad])));
        Assert.Equal(ErrorCode.InvalidProducerEpoch, AppendError(log, new ReadOnlySequence<byte>([.. good, .. Batch(5, -1, 1).ToArray()]), AppendOrigin.Coordinator));
        Assert.Equal(1, log.LogEndOffset);

        // Producer 6's state did not keep the refused attempt: its sequence 0 is still new.
        Assert.False(log.Append(new ReadOnlySequence<byte>(good)).Duplicate);
    }

    [Fact]
    public void Append_PlainBatchInsideOpenTransaction_IsInvalidTxnState()
    {
        using var log = Open();
        log.Append(Batch(9, 0, 0, transactional: true));

        Assert.Equal(ErrorCode.InvalidTxnState, AppendError(log, Batch(9, 0, 1)));
    }

    [Fact]
    public void LastStableOffset_OpenTransaction_HoldsItBackUntilTheMarker()
    {
        using var log = Open();
        log.Append(Batch(-1, -1, -1, count: 2));
        log.UpdateHighWatermark(log.LogEndOffset);
        log.Append(Batch(9, 0, 0, count: 3, transactional: true));
        log.Append(Batch(10, 0, 0, count: 1));
        log.UpdateHighWatermark(log.LogEndOffset);
        Assert.Equal(2, log.LastStableOffset);

        log.Append(Marker(9, 0, commit: true), origin: AppendOrigin.Coordinator);
        log.UpdateHighWatermark(log.LogEndOffset);

        Assert.Equal(log.LogEndOffset, log.LastStableOffset);
        Assert.Empty(log.CollectAbortedTransactions(0, log.LogEndOffset));
    }

    [Fact]
    public void Abort_WritesTxnIndexEntryInKafkaFormat_AndCollectFindsIt()
    {
        using var log = Open();
        log.Append(Batch(9, 0, 0, count: 2, transactional: true));      // 0-1
        log.Append(Batch(11, 0, 0, count: 1, transactional: true));     // 2
        log.Append(Marker(9, 0, commit: false, coordinatorEpoch: 3), origin: AppendOrigin.Coordinator); // 3
        log.UpdateHighWatermark(log.LogEndOffset);

        // Producer 11's transaction is still open at offset 2: the entry records LSO 2, and the LSO stays there.
        Assert.Equal(2, log.LastStableOffset);
        var aborted = Assert.Single(log.CollectAbortedTransactions(0, 10));
        Assert.Equal(new AbortedTxn(9, 0, 3, 2), aborted);
        Assert.Empty(log.CollectAbortedTransactions(4, 10));

        var bytes = File.ReadAllBytes(Path.Combine(LogDir, "00000000000000000000.txnindex"));
        Assert.Equal(AbortedTxn.Size, bytes.Length);
        Assert.Equal(0, BinaryPrimitives.ReadInt16BigEndian(bytes));
        Assert.Equal(9, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(2)));
        Assert.Equal(0, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(10)));
        Assert.Equal(3, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(18)));
        Assert.Equal(2, BinaryPrimitives.ReadInt64BigEndian(bytes.AsSpan(26)));
    }

    [Fact]
    public void Marker_OlderEpochOrCoordinatorEpoch_IsRefused_NewerEpochIsAdopted()
    {
        using var log = Open();
        log.Append(Batch(9, 2, 0, transactional: true));

        Assert.Equal(ErrorCode.InvalidProducerEpoch, AppendError(log, Marker(9, 1, commit: true, coordinatorEpoch: 5), AppendOrigin.Coordinator));
        log.Append(Marker(9, 3, commit: true, coordinatorEpoch: 5), origin: AppendOrigin.Coordinator);
        Assert.Equal(ErrorCode.TransactionCoordinatorFenced, AppendError(log, Marker(9, 3, commit: true, coordinatorEpoch: 4), AppendOrigin.Coordinator));

        var producer = Assert.Single(log.ActiveProducers());
        Assert.Equal(3, producer.ProducerEpoch);
        Assert.Equal(5, producer.CoordinatorEpoch);
        Assert.Equal(-1, producer.CurrentTxnFirstOffset);

        // The new epoch starts at sequence 0.
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, AppendError(log, Batch(9, 3, 1)));
        Assert.Equal(ErrorCode.None, AppendError(log, Batch(9, 3, 0)));
    }

    [Fact]
    public void CoordinatorTransactionalBatch_NoSequenceCheck_OpensTransaction()
    {
        using var log = Open();
        log.Append(Batch(-1, -1, -1));
        log.Append(Batch(12, 0, -1, transactional: true), origin: AppendOrigin.Coordinator);
        log.UpdateHighWatermark(log.LogEndOffset);

        Assert.Equal(1, log.LastStableOffset);
        Assert.Equal(1, Assert.Single(log.ActiveProducers()).CurrentTxnFirstOffset);
    }

    [Fact]
    public void Reopen_AfterCleanClose_RestoresDuplicatesAndOpenTransaction()
    {
        long firstOffset;
        using (var log = Open())
        {
            firstOffset = log.Append(Batch(7, 0, 0, count: 2)).FirstOffset;
            log.Append(Batch(8, 0, 0, transactional: true));
            log.UpdateHighWatermark(log.LogEndOffset);
        }

        Assert.NotEmpty(Directory.GetFiles(LogDir, "*.snapshot"));
        using var reopened = Open();
        var retry = reopened.Append(Batch(7, 0, 0, count: 2));
        Assert.True(retry.Duplicate);
        Assert.Equal(firstOffset, retry.FirstOffset);
        Assert.Equal(2, reopened.LastStableOffset);
    }

    [Fact]
    public void Reopen_AfterCrashWithoutSnapshot_ReplaysLogAndRebuildsTxnIndex()
    {
        using (var log = Open())
        {
            log.Append(Batch(7, 0, 0, count: 2));
            log.Append(Batch(8, 0, 0, transactional: true));
            log.Append(Marker(8, 0, commit: false), origin: AppendOrigin.Coordinator);
            log.Append(Batch(9, 0, 0, transactional: true));
            log.Flush();
        }

        foreach (var file in Directory.GetFiles(LogDir, "*.snapshot").Concat(Directory.GetFiles(LogDir, "*.txnindex")))
        {
            File.Delete(file);
        }

        using var reopened = Open(cleanShutdown: false);
        Assert.True(reopened.Append(Batch(7, 0, 0, count: 2)).Duplicate);
        Assert.Equal(4, reopened.LastStableOffset);
        Assert.Equal(new AbortedTxn(8, 2, 3, 4), Assert.Single(reopened.CollectAbortedTransactions(0, 10)));
        Assert.Equal(ErrorCode.OutOfOrderSequenceNumber, AppendError(reopened, Batch(7, 0, 5)));
    }

    [Fact]
    public void Roll_WritesSnapshotAtNewSegmentBase_AndReplayStartsThere()
    {
        using (var log = Open(new LogConfig { SegmentBytes = 200 }))
        {
            for (var seq = 0; seq < 6; seq++)
            {
                log.Append(Batch(7, 0, seq));
            }

            Assert.True(log.SegmentCount > 1);
            Assert.Contains(log.Segments[^1].BaseOffset, log.ProducerSnapshots.Offsets());
        }

        using var reopened = Open(new LogConfig { SegmentBytes = 200 }, cleanShutdown: false);
        Assert.Equal(ErrorCode.None, AppendError(reopened, Batch(7, 0, 6)));
    }

    [Fact]
    public void TruncateTo_ReloadsStateAndDropsTxnIndexEntriesPastTheEnd()
    {
        using var log = Open();
        log.Append(Batch(8, 0, 0, transactional: true));
        log.Append(Marker(8, 0, commit: false), origin: AppendOrigin.Coordinator);
        log.Append(Batch(7, 0, 0));
        log.Append(Batch(7, 0, 1));

        log.TruncateTo(3);
        Assert.Equal(ErrorCode.None, AppendError(log, Batch(7, 0, 1)));

        log.TruncateTo(1);
        Assert.Empty(log.CollectAbortedTransactions(0, 10));
        log.UpdateHighWatermark(log.LogEndOffset);
        Assert.Equal(0, log.LastStableOffset);
    }

    [Fact]
    public void RemoveExpiredProducers_IdleWithoutTransaction_AreForgotten()
    {
        using var log = Open();
        var now = _time.NowMs;
        log.Append(Batch(1, 0, 0, timestamp: now));
        log.Append(Batch(2, 0, 0, transactional: true, timestamp: now));
        _time.Advance(1000);

        Assert.Equal(0, log.RemoveExpiredProducers(1001));
        Assert.Equal(1, log.RemoveExpiredProducers(1000));
        Assert.Equal(2, Assert.Single(log.ActiveProducers()).ProducerId);
    }

    [Fact]
    public void CleanCompact_SwapKeepsTheTxnIndexEntriesOfTheCleanedRange()
    {
        using var log = Open(new LogConfig { CleanupPolicy = CleanupPolicy.Compact, SegmentBytes = 300, MinCleanableDirtyRatio = 0, FileDeleteDelayMs = 0 });
        log.Append(Batch(1000, 0, 0, transactional: true));  // 0
        log.Append(Batch(2000, 0, 0, transactional: true));  // 1
        log.Append(Marker(1000, 0, commit: false), origin: AppendOrigin.Coordinator); // 2
        log.Append(Marker(2000, 0, commit: true), origin: AppendOrigin.Coordinator);  // 3
        for (var i = 0; i < 6; i++)
        {
            log.Append(Batch(-1, -1, -1));
        }

        log.Roll();
        log.UpdateHighWatermark(log.LogEndOffset);
        var expected = new AbortedTxn(1000, 0, 2, 1);
        Assert.Equal(expected, Assert.Single(log.CollectAbortedTransactions(0, log.LogEndOffset)));

        Assert.True(new LogCleaner().CleanCompact(log, 0) > 0);

        Assert.Equal(expected, Assert.Single(log.CollectAbortedTransactions(0, log.LogEndOffset)));
        Assert.Equal(log.LogEndOffset, log.LastStableOffset);
    }

    [Fact]
    public void SequenceArithmetic_WrapsAtIntMax()
    {
        Assert.Equal(1, ProducerStateEntry.IncrementSequence(int.MaxValue, 2));
        Assert.Equal(int.MaxValue, ProducerStateEntry.DecrementSequence(1, 2));
        Assert.Equal(5, ProducerStateEntry.IncrementSequence(3, 2));
    }
}
