using System.Buffers;
using System.Text;

namespace KafkaCompatBroker.Records.Tests;

/// <summary>The builder features compaction uses: copying records with their offset deltas, a kept lastOffsetDelta, a delete horizon.</summary>
[Trait(Categories.Name, Categories.Unit)]
public class RecordBatchBuilderCompactionTests
{
    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Zstd)]
    public void AppendRecord_SurvivorsWithOverriddenLastOffsetDelta_KeepOffsetsHeadersAndTimestamps(CompressionType compression)
    {
        var original = TestBatches.Build(10, compression);
        var originalHeader = RecordBatch.Validate(original);
        using var scratch = new PooledBufferWriter();
        using var builder = new RecordBatchBuilder(compression, originalHeader.ProducerId, originalHeader.ProducerEpoch, originalHeader.BaseSequence)
        {
            BaseOffset = 500,
            LastOffsetDeltaOverride = originalHeader.LastOffsetDelta,
        };
        var expected = new List<(long Offset, long Timestamp, string? Key, int Headers)>();
        foreach (var record in RecordBatch.ReadRecords(original, scratch, int.MaxValue))
        {
            if (record.OffsetDelta % 3 == 1)
            {
                builder.AppendRecord(record, originalHeader.BaseTimestamp + record.TimestampDelta);
                expected.Add((500 + record.OffsetDelta, record.Timestamp, Key(record), record.HeaderCount));
            }
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        var batch = output.WrittenSpan.ToArray();

        var header = RecordBatch.Validate(batch);
        Assert.Equal(9, header.LastOffsetDelta);
        Assert.Equal(3, header.RecordsCount);
        Assert.Equal(509, header.LastOffset);
        Assert.Equal((1000L, (short)3, 0), (header.ProducerId, header.ProducerEpoch, header.BaseSequence));
        var actual = new List<(long, long, string?, int)>();
        foreach (var record in RecordBatch.ReadRecords(batch, scratch, int.MaxValue))
        {
            actual.Add((record.Offset, record.Timestamp, Key(record), record.HeaderCount));
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void WriteTo_DeleteHorizon_SetsAttributeAndBaseTimestampButKeepsRecordTimestamps()
    {
        const long horizon = TestBatches.BaseTimestamp + 86_400_000;
        using var builder = new RecordBatchBuilder { DeleteHorizonMs = horizon };
        builder.Append(TestBatches.BaseTimestamp + 5, Encoding.UTF8.GetBytes("k"), null);
        builder.Append(TestBatches.BaseTimestamp + 9, Encoding.UTF8.GetBytes("j"), Encoding.UTF8.GetBytes("v"));
        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);

        var header = RecordBatch.Validate(output.WrittenSpan);
        Assert.True(header.HasDeleteHorizon);
        Assert.Equal(horizon, header.BaseTimestamp);
        Assert.Equal(TestBatches.BaseTimestamp + 9, header.MaxTimestamp);
        using var scratch = new PooledBufferWriter();
        var timestamps = new List<long>();
        foreach (var record in RecordBatch.ReadRecords(output.WrittenSpan, scratch, int.MaxValue))
        {
            timestamps.Add(record.Timestamp);
        }

        Assert.Equal([TestBatches.BaseTimestamp + 5, TestBatches.BaseTimestamp + 9], timestamps);
        Assert.Throws<InvalidOperationException>(() => builder.DeleteHorizonMs = null);
    }

    [Fact]
    public void AppendRecord_OffsetDeltaNotIncreasing_Throws()
    {
        var original = TestBatches.Build(3);
        using var scratch = new PooledBufferWriter();
        using var builder = new RecordBatchBuilder();
        var reader = RecordBatch.ReadRecords(original, scratch, int.MaxValue);
        Assert.True(reader.MoveNext());
        builder.AppendRecord(reader.Current, reader.Current.Timestamp);
        var threw = false;
        try
        {
            builder.AppendRecord(reader.Current, reader.Current.Timestamp);
        }
        catch (ArgumentException)
        {
            threw = true;
        }

        Assert.True(threw);
    }

    private static string? Key(in Record record) => record.IsKeyNull ? null : Encoding.UTF8.GetString(record.Key);
}
