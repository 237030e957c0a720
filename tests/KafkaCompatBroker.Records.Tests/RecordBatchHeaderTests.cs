using System.Buffers;
using System.Buffers.Binary;

namespace KafkaCompatBroker.Records.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class RecordBatchHeaderTests
{
    [Fact]
    public void TryRead_KafkaPythonBatch_DecodesAllFields()
    {
        var batch = Convert.FromBase64String(TestVectors.BatchNone);
        Assert.True(RecordBatchHeader.TryRead(batch, out var header));

        Assert.Equal(0, header.BaseOffset);
        Assert.Equal(batch.Length, header.TotalSize);
        Assert.Equal(batch.Length - 12, header.BatchLength);
        Assert.Equal(0, header.PartitionLeaderEpoch);
        Assert.Equal(2, header.Magic);
        Assert.Equal(CompressionType.None, header.CompressionType);
        Assert.Equal(TimestampType.CreateTime, header.TimestampType);
        Assert.True(header.IsTransactional);
        Assert.False(header.IsControl);
        Assert.False(header.HasDeleteHorizon);
        Assert.Equal(9, header.LastOffsetDelta);
        Assert.Equal(1700000000000, header.BaseTimestamp);
        Assert.Equal(1700000000090, header.MaxTimestamp);
        Assert.Equal(4242, header.ProducerId);
        Assert.Equal(7, header.ProducerEpoch);
        Assert.Equal(100, header.BaseSequence);
        Assert.Equal(10, header.RecordsCount);
        Assert.Equal(9, header.LastOffset);
        Assert.Equal(10, header.NextOffset);
    }

    [Theory]
    [InlineData(nameof(TestVectors.BatchGzip), CompressionType.Gzip)]
    [InlineData(nameof(TestVectors.BatchSnappy), CompressionType.Snappy)]
    [InlineData(nameof(TestVectors.BatchLz4), CompressionType.Lz4)]
    [InlineData(nameof(TestVectors.BatchZstd), CompressionType.Zstd)]
    public void TryRead_CompressedKafkaPythonBatch_ReportsCompressionType(string vector, CompressionType expected)
    {
        var batch = Vector(vector);
        var header = RecordBatchHeader.Read(batch);
        Assert.Equal(expected, header.CompressionType);
        Assert.False(header.IsTransactional);
        Assert.Equal(-1, header.ProducerId);
    }

    [Fact]
    public void TryRead_MultiSegmentSequence_EqualsSpanDecode()
    {
        var batch = Convert.FromBase64String(TestVectors.BatchNone);
        var sequence = SequenceHelper.Split(batch, 7);
        Assert.True(RecordBatchHeader.TryRead(sequence, out var fromSequence));
        Assert.Equal(RecordBatchHeader.Read(batch).ToString(), fromSequence.ToString());
        Assert.Equal(RecordBatchHeader.Read(batch).Crc, fromSequence.Crc);
    }

    [Fact]
    public void TryRead_FewerThan61Bytes_ReturnsFalse()
    {
        var batch = Convert.FromBase64String(TestVectors.BatchNone);
        Assert.False(RecordBatchHeader.TryRead(batch.AsSpan(0, 60), out _));
        Assert.False(RecordBatchHeader.TryRead(SequenceHelper.Split(batch.AsSpan(0, 60), 10), out _));
        var exception = Assert.Throws<RecordsException>(() => RecordBatchHeader.Read(batch.AsSpan(0, 60)));
        Assert.Equal(RecordBatchError.Truncated, exception.Error);
    }

    [Fact]
    public void Write_ThenTryRead_RoundTrips()
    {
        var attributes = RecordBatchHeader.MakeAttributes(CompressionType.Zstd, TimestampType.LogAppendTime, isTransactional: true, isControl: true, hasDeleteHorizon: true);
        var header = new RecordBatchHeader(1234567890123, 49, 5, 2, 0xDEADBEEF, attributes, 0, 10, 20, 99, 1, 7, 0);
        var bytes = new byte[RecordBatchHeader.Size];
        header.Write(bytes);
        var read = RecordBatchHeader.Read(bytes);
        Assert.Equal(header.ToString(), read.ToString());
        Assert.Equal(CompressionType.Zstd, read.CompressionType);
        Assert.Equal(TimestampType.LogAppendTime, read.TimestampType);
        Assert.True(read.IsTransactional);
        Assert.True(read.IsControl);
        Assert.True(read.HasDeleteHorizon);
        Assert.Equal(0xDEADBEEF, read.Crc);
        Assert.Equal(0x7C, attributes);
    }

    [Theory]
    [InlineData(nameof(TestVectors.BatchNone))]
    [InlineData(nameof(TestVectors.BatchGzip))]
    [InlineData(nameof(TestVectors.BatchSnappy))]
    [InlineData(nameof(TestVectors.BatchLz4))]
    [InlineData(nameof(TestVectors.BatchZstd))]
    public void Validate_KafkaPythonBatch_IsValidInBothModes(string vector)
    {
        var batch = Vector(vector);
        Assert.Equal(RecordBatchError.None, RecordBatch.TryValidate(batch, out _, out var message, RecordBatchValidation.Produce));
        Assert.Null(message);
        Assert.Equal(RecordBatchError.None, RecordBatch.TryValidate(batch, out _, out _));
        Assert.Equal(RecordBatchError.None, RecordBatch.TryValidate(SequenceHelper.Split(batch, 13), out _, out _, RecordBatchValidation.Produce));
    }

    [Fact]
    public void Validate_OneByteFlippedAnywhereAfterCrc_ReportsCrcMismatch()
    {
        var original = TestBatches.Build(5);
        for (var i = RecordBatchHeader.AttributesOffset; i < original.Length; i++)
        {
            var batch = (byte[])original.Clone();
            batch[i] ^= 0x01;
            var error = RecordBatch.TryValidate(batch, out _, out var message);
            // Flipping a counted field may be caught by an earlier check; it must never pass.
            Assert.NotEqual(RecordBatchError.None, error);
            if (i >= RecordBatchHeader.Size)
            {
                Assert.Equal(RecordBatchError.CrcMismatch, error);
                Assert.Contains("CRC", message, StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public void Validate_CrcMismatch_ThrowsWithCorruptMessageCode()
    {
        var batch = TestBatches.Build(3);
        batch[^1] ^= 0xFF;
        var exception = Assert.Throws<RecordsException>(() => RecordBatch.Validate(batch));
        Assert.Equal(RecordBatchError.CrcMismatch, exception.Error);
        Assert.Equal(2, exception.ErrorCode);
        Assert.Throws<RecordsException>(() => RecordBatch.Validate(SequenceHelper.Split(batch, 5)));
    }

    [Fact]
    public void Validate_TruncatedBatch_ReportsTruncated()
    {
        var batch = TestBatches.Build(3);
        foreach (var length in new[] { 0, 11, 60, 61, batch.Length - 1 })
        {
            var error = RecordBatch.TryValidate(batch.AsSpan(0, length), out _, out var message);
            Assert.Equal(RecordBatchError.Truncated, error);
            Assert.Contains("truncated", message, StringComparison.Ordinal);
            Assert.Equal(RecordBatchError.Truncated, RecordBatch.TryValidate(SequenceHelper.Split(batch.AsSpan(0, length), 4), out _, out _));
        }

        var exception = Assert.Throws<RecordsException>(() => RecordBatch.Validate(batch.AsSpan(0, batch.Length - 1)));
        Assert.Equal(2, exception.ErrorCode);
    }

    [Fact]
    public void Validate_MagicNot2_ReportsUnsupportedMagicAsInvalidRecord()
    {
        var batch = TestBatches.Build(1);
        batch[RecordBatchHeader.MagicOffset] = 1;
        Assert.Equal(RecordBatchError.UnsupportedMagic, RecordBatch.TryValidate(batch, out _, out var message));
        Assert.Contains("magic", message, StringComparison.Ordinal);
        Assert.Equal(87, RecordBatchError.UnsupportedMagic.ToKafkaErrorCode());
    }

    [Fact]
    public void Validate_BatchLengthBelowMinimum_ReportsInvalidBatchLength()
    {
        var batch = TestBatches.Build(1);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.BatchLengthOffset), 48);
        Assert.Equal(RecordBatchError.InvalidBatchLength, RecordBatch.TryValidate(batch, out _, out _));
    }

    [Fact]
    public void Validate_CountInconsistentWithLastOffsetDelta_ProduceModeRejects()
    {
        var batch = TestBatches.Build(3);
        // Pretend compaction removed a record: count 2, lastOffsetDelta 2. Fine for stored data, not from a producer.
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.RecordsCountOffset), 2);
        RecordBatch.WriteCrc(batch);
        Assert.Equal(RecordBatchError.None, RecordBatch.TryValidate(batch, out _, out _));
        Assert.Equal(RecordBatchError.InvalidRecordCount, RecordBatch.TryValidate(batch, out _, out _, RecordBatchValidation.Produce));

        // More records than offsets is never possible.
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.RecordsCountOffset), 4);
        RecordBatch.WriteCrc(batch);
        Assert.Equal(RecordBatchError.InvalidRecordCount, RecordBatch.TryValidate(batch, out _, out _));

        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.RecordsCountOffset), -1);
        RecordBatch.WriteCrc(batch);
        Assert.Equal(RecordBatchError.InvalidRecordCount, RecordBatch.TryValidate(batch, out _, out _));
    }

    [Fact]
    public void Validate_UncompressedCountTooLargeForBytes_ReportsInvalidRecordCount()
    {
        var batch = TestBatches.Build(1);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.LastOffsetDeltaOffset), 999_999);
        BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(RecordBatchHeader.RecordsCountOffset), 1_000_000);
        RecordBatch.WriteCrc(batch);
        Assert.Equal(RecordBatchError.InvalidRecordCount, RecordBatch.TryValidate(batch, out _, out _));
    }

    [Fact]
    public void Validate_UnknownCompressionType_ReportsUnsupportedCompression()
    {
        var batch = TestBatches.Build(1);
        batch[RecordBatchHeader.AttributesOffset + 1] |= 0x05;
        RecordBatch.WriteCrc(batch);
        Assert.Equal(RecordBatchError.UnsupportedCompressionType, RecordBatch.TryValidate(batch, out _, out _));
        Assert.Equal(76, RecordBatchError.UnsupportedCompressionType.ToKafkaErrorCode());
    }

    [Fact]
    public void Validate_ControlBatchInProduceMode_Rejected()
    {
        var output = new ArrayBufferWriter<byte>();
        ControlRecords.WriteEndTransactionBatch(output, ControlRecordType.Commit, 1, 0, 5, TestBatches.BaseTimestamp);
        var batch = output.WrittenSpan.ToArray();
        Assert.Equal(RecordBatchError.None, RecordBatch.TryValidate(batch, out _, out _));
        Assert.Equal(RecordBatchError.InvalidRecord, RecordBatch.TryValidate(batch, out _, out _, RecordBatchValidation.Produce));
    }

    [Fact]
    public void SetBaseOffsetAndLeaderEpoch_InPlace_CrcStillValid()
    {
        var batch = TestBatches.Build(4);
        RecordBatch.SetBaseOffset(batch, 1_000_000);
        RecordBatch.SetPartitionLeaderEpoch(batch, 17);
        var header = RecordBatch.Validate(batch);
        Assert.Equal(1_000_000, header.BaseOffset);
        Assert.Equal(17, header.PartitionLeaderEpoch);
        Assert.Equal(1_000_003, header.LastOffset);
    }

    [Fact]
    public void SetLogAppendTime_InPlace_SetsBitAndMaxTimestampAndRecomputesCrc()
    {
        var batch = TestBatches.Build(4);
        var before = RecordBatchHeader.Read(batch);
        RecordBatch.SetLogAppendTime(batch, 1_800_000_000_000);
        var header = RecordBatch.Validate(batch);
        Assert.Equal(TimestampType.LogAppendTime, header.TimestampType);
        Assert.Equal(1_800_000_000_000, header.MaxTimestamp);
        Assert.Equal(before.BaseTimestamp, header.BaseTimestamp);
        Assert.Equal(before.CompressionType, header.CompressionType);
        Assert.NotEqual(before.Crc, header.Crc);

        using var scratch = new PooledBufferWriter();
        foreach (var record in RecordBatch.ReadRecords(batch, scratch, 1 << 20))
        {
            Assert.Equal(1_800_000_000_000, record.Timestamp);
        }

        RecordBatch.SetMaxTimestamp(batch, TimestampType.CreateTime, before.MaxTimestamp);
        Assert.Equal(before.Crc, RecordBatch.Validate(batch).Crc);
    }

    internal static byte[] Vector(string name) => Convert.FromBase64String(name switch
    {
        nameof(TestVectors.BatchNone) => TestVectors.BatchNone,
        nameof(TestVectors.BatchGzip) => TestVectors.BatchGzip,
        nameof(TestVectors.BatchSnappy) => TestVectors.BatchSnappy,
        nameof(TestVectors.BatchLz4) => TestVectors.BatchLz4,
        nameof(TestVectors.BatchZstd) => TestVectors.BatchZstd,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    });
}
