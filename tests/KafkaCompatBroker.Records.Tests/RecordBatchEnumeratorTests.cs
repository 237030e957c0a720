using System.Buffers;
using System.Buffers.Binary;

namespace KafkaCompatBroker.Records.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class RecordBatchEnumeratorTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(64)]
    [InlineData(100_000)]
    public void MoveNext_ThreeConcatenatedBatches_YieldsEachThenComplete(int segmentSize)
    {
        var first = TestBatches.Build(3);
        var second = TestBatches.Build(10, CompressionType.Gzip);
        var third = Convert.FromBase64String(TestVectors.BatchZstd);
        var records = SequenceHelper.Split(TestBatches.Concat(first, second, third), segmentSize);

        var enumerator = RecordBatches.Enumerate(records);
        var sizes = new List<int>();
        var positions = new List<long>();
        while (enumerator.MoveNext())
        {
            var batch = enumerator.Current;
            sizes.Add(batch.Header.TotalSize);
            positions.Add(batch.Position);
            Assert.Equal(batch.Header.TotalSize, batch.Bytes.Length);
            Assert.Equal(RecordBatchError.None, batch.TryValidate(out _, RecordBatchValidation.Produce));
        }

        Assert.Equal(RecordBatchSequenceStatus.Complete, enumerator.Status);
        Assert.Equal([first.Length, second.Length, third.Length], sizes);
        Assert.Equal([0L, first.Length, first.Length + second.Length], positions);
        Assert.Equal(0, enumerator.Remaining.Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(61)]
    public void MoveNext_TrailingPartialBatch_ReportedDistinctly(int partialLength)
    {
        var complete = TestBatches.Build(2);
        var next = TestBatches.Build(2);
        var records = new ReadOnlySequence<byte>(TestBatches.Concat(complete, next.AsSpan(0, partialLength).ToArray()));

        var enumerator = new RecordBatchEnumerator(records);
        Assert.True(enumerator.MoveNext());
        Assert.False(enumerator.MoveNext());
        Assert.Equal(RecordBatchSequenceStatus.PartialBatch, enumerator.Status);
        Assert.Equal(partialLength, enumerator.Remaining.Length);
        Assert.Equal(complete.Length, enumerator.Position);

        // Fetch (stored) tolerates it; Produce does not.
        Assert.Equal(RecordBatchError.None, RecordBatches.TryValidateAll(records, RecordBatchValidation.Stored, out var count, out _));
        Assert.Equal(1, count);
        Assert.Equal(RecordBatchError.Truncated, RecordBatches.TryValidateAll(records, RecordBatchValidation.Produce, out _, out var message));
        Assert.Contains("partial batch", message, StringComparison.Ordinal);
    }

    [Fact]
    public void MoveNext_BatchLengthBelowMinimum_ReportsInvalidBatchLength()
    {
        var batch = TestBatches.Build(2);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.BatchLengthOffset), 10);
        var enumerator = new RecordBatchEnumerator(new ReadOnlySequence<byte>(batch));
        Assert.False(enumerator.MoveNext());
        Assert.Equal(RecordBatchSequenceStatus.InvalidBatchLength, enumerator.Status);
        Assert.Equal(RecordBatchError.InvalidBatchLength, RecordBatches.TryValidateAll(new ReadOnlySequence<byte>(batch), RecordBatchValidation.Stored, out _, out _));
    }

    [Fact]
    public void MoveNext_Empty_CompleteWithoutBatches()
    {
        var enumerator = new RecordBatchEnumerator(ReadOnlySequence<byte>.Empty);
        Assert.False(enumerator.MoveNext());
        Assert.Equal(RecordBatchSequenceStatus.Complete, enumerator.Status);
        Assert.Equal(RecordBatchError.InvalidRecordCount, RecordBatches.TryValidateAll(ReadOnlySequence<byte>.Empty, RecordBatchValidation.Produce, out _, out _));
    }

    [Fact]
    public void TryValidateAll_CorruptSecondBatch_ReportsItsPosition()
    {
        var first = TestBatches.Build(2);
        var second = TestBatches.Build(2);
        second[^1] ^= 1;
        var error = RecordBatches.TryValidateAll(new ReadOnlySequence<byte>(TestBatches.Concat(first, second)), RecordBatchValidation.Stored, out var count, out var message);
        Assert.Equal(RecordBatchError.CrcMismatch, error);
        Assert.Equal(1, count);
        Assert.StartsWith($"batch at byte {first.Length}:", message, StringComparison.Ordinal);
    }

    [Fact]
    public void Foreach_OverEnumerator_Works()
    {
        var records = new ReadOnlySequence<byte>(TestBatches.Concat(TestBatches.Build(1), TestBatches.Build(2)));
        var total = 0;
        foreach (var batch in RecordBatches.Enumerate(records))
        {
            total += batch.Header.RecordsCount;
        }

        Assert.Equal(3, total);
    }

    [Fact]
    public void MoveNext_ManyBatches_DoesNotAllocate()
    {
        var records = new ReadOnlySequence<byte>(TestBatches.Concat(TestBatches.Build(1), TestBatches.Build(2), TestBatches.Build(3)));
        CountBatches(records);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var count = 0;
        for (var i = 0; i < 100; i++)
        {
            count += CountBatches(records);
        }

        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
        Assert.Equal(300, count);
    }

    private static int CountBatches(in ReadOnlySequence<byte> records)
    {
        var count = 0;
        var enumerator = new RecordBatchEnumerator(records);
        while (enumerator.MoveNext())
        {
            count++;
        }

        return count;
    }
}
