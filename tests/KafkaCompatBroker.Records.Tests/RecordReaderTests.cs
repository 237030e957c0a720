using System.Text;

namespace KafkaCompatBroker.Records.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class RecordReaderTests
{
    [Theory]
    [InlineData(nameof(TestVectors.BatchNone))]
    [InlineData(nameof(TestVectors.BatchGzip))]
    [InlineData(nameof(TestVectors.BatchSnappy))]
    [InlineData(nameof(TestVectors.BatchLz4))]
    [InlineData(nameof(TestVectors.BatchZstd))]
    public void MoveNext_KafkaPythonBatch_YieldsExpectedRecords(string vector)
    {
        var batch = RecordBatchHeaderTests.Vector(vector);
        RecordBatch.SetBaseOffset(batch, 500);
        using var scratch = new PooledBufferWriter();
        var i = 0;
        foreach (var record in RecordBatch.ReadRecords(batch, scratch, 1 << 20))
        {
            var expected = TestVectors.ExpectedRecord(i);
            Assert.Equal(500 + i, record.Offset);
            Assert.Equal(i, record.OffsetDelta);
            Assert.Equal(expected.Timestamp, record.Timestamp);
            Assert.Equal(i * 10, record.TimestampDelta);
            Assert.Equal(0, record.Attributes);
            AssertNullable(expected.Key, record.Key, record.IsKeyNull);
            AssertNullable(expected.Value, record.Value, record.IsValueNull);
            Assert.Equal(expected.Headers.Length, record.HeaderCount);
            var j = 0;
            foreach (var header in record.Headers)
            {
                Assert.Equal(expected.Headers[j].Key, Encoding.UTF8.GetString(header.Key));
                AssertNullable(expected.Headers[j].Value, header.Value, header.IsValueNull);
                j++;
            }

            Assert.Equal(expected.Headers.Length, j);
            i++;
        }

        Assert.Equal(TestVectors.ExpectedRecords, i);
    }

    [Fact]
    public void MoveNext_EmptyKeyVersusNullKey_Distinguished()
    {
        using var builder = new RecordBatchBuilder();
        builder.Append(1, [], [], default, isKeyNull: false, isValueNull: false);
        builder.Append(2, [], [], default, isKeyNull: true, isValueNull: true);
        var output = new System.Buffers.ArrayBufferWriter<byte>();
        builder.WriteTo(output);

        var reader = RecordBatch.ReadRecords(output.WrittenSpan, new PooledBufferWriter(), 1024);
        Assert.True(reader.MoveNext());
        Assert.False(reader.Current.IsKeyNull);
        Assert.False(reader.Current.IsValueNull);
        Assert.True(reader.Current.Key.IsEmpty);
        Assert.True(reader.MoveNext());
        Assert.True(reader.Current.IsKeyNull);
        Assert.True(reader.Current.IsValueNull);
        Assert.False(reader.MoveNext());
    }

    [Fact]
    public void MoveNext_ThousandRecords_DoesNotAllocate()
    {
        var batch = TestBatches.Build(1000);
        var header = RecordBatch.Validate(batch);
        var records = batch.AsSpan(RecordBatchHeader.Size);

        // Warm up (JIT, tiering) before measuring.
        for (var i = 0; i < 3; i++)
        {
            SumRecords(header, records);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        var (sum, count) = SumRecords(header, records);
        var after = GC.GetAllocatedBytesForCurrentThread();

        Assert.Equal(before, after);
        Assert.Equal(1000, count);
        Assert.True(sum > 0);
    }

    private static (long Sum, int Count) SumRecords(in RecordBatchHeader header, ReadOnlySpan<byte> records)
    {
        long sum = 0;
        var count = 0;
        foreach (var record in new RecordReader(header, records))
        {
            sum += record.Offset + record.Key.Length + record.Value.Length;
            foreach (var h in record.Headers)
            {
                sum += h.Key.Length + h.Value.Length;
            }

            count++;
        }

        return (sum, count);
    }

    [Fact]
    public void MoveNext_FewerRecordsThanDeclared_ThrowsInvalidRecord()
    {
        var batch = TestBatches.Build(3);
        var header = RecordBatchHeader.Read(batch);
        var exception = Assert.Throws<RecordsException>(() =>
        {
            var reader = new RecordReader(batch.AsSpan(RecordBatchHeader.Size), 4, header.BaseOffset, header.BaseTimestamp);
            while (reader.MoveNext())
            {
            }
        });
        Assert.Equal(87, exception.ErrorCode);
    }

    [Fact]
    public void MoveNext_TrailingBytesAfterDeclaredRecords_ThrowsInvalidRecord()
    {
        var batch = TestBatches.Build(3);
        var exception = Assert.Throws<RecordsException>(() =>
        {
            var reader = new RecordReader(batch.AsSpan(RecordBatchHeader.Size), 2, 0, 0);
            while (reader.MoveNext())
            {
            }
        });
        Assert.Contains("remain after the declared records", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MoveNext_EveryTruncationOfRecords_ThrowsRecordsExceptionNeverIndexError()
    {
        var batch = TestBatches.Build(5);
        var records = batch.AsSpan(RecordBatchHeader.Size).ToArray();
        for (var length = 0; length < records.Length; length++)
        {
            var truncated = records.AsSpan(0, length).ToArray();
            Assert.Throws<RecordsException>(() =>
            {
                var reader = new RecordReader(truncated, 5, 0, 0);
                while (reader.MoveNext())
                {
                }
            });
        }
    }

    [Fact]
    public void MoveNext_RandomCorruption_ThrowsOnlyRecordsException()
    {
        var batch = TestBatches.Build(20);
        var original = batch.AsSpan(RecordBatchHeader.Size).ToArray();
        TestSeed.Run(99, random =>
        {
            for (var round = 0; round < 2000; round++)
            {
                var records = (byte[])original.Clone();
                for (var k = 0; k < 3; k++)
                {
                    records[random.Next(records.Length)] = (byte)random.Next(256);
                }

                try
                {
                    var reader = new RecordReader(records, 20, 0, 0);
                    while (reader.MoveNext())
                    {
                        foreach (var header in reader.Current.Headers)
                        {
                            _ = header.Key.Length;
                        }
                    }
                }
                catch (RecordsException)
                {
                    // Expected for most corruptions; anything else fails the test.
                }
            }
        });
    }

    [Fact]
    public void MoveNext_NegativeKeyLengthOtherThanMinusOne_ThrowsInvalidRecord()
    {
        // length 7, attributes 0, tsDelta 0, offsetDelta 0, keyLength -2 (zigzag 3), ...
        byte[] record = [14, 0, 0, 0, 3, 0, 0, 0];
        var exception = Assert.Throws<RecordsException>(() =>
        {
            var reader = new RecordReader(record, 1, 0, 0);
            reader.MoveNext();
        });
        Assert.Contains("invalid length -2", exception.Message, StringComparison.Ordinal);
    }

    private static void AssertNullable(byte[]? expected, ReadOnlySpan<byte> actual, bool isNull)
    {
        if (expected is null)
        {
            Assert.True(isNull);
            Assert.True(actual.IsEmpty);
        }
        else
        {
            Assert.False(isNull);
            Assert.Equal(expected, actual.ToArray());
        }
    }
}
