using System.Buffers;
using System.Text;

namespace KafkaCompatBroker.Records.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class RecordBatchBuilderTests
{
    public static TheoryData<CompressionType> AllCodecs() =>
    [
        CompressionType.None,
        CompressionType.Gzip,
        CompressionType.Snappy,
        CompressionType.Lz4,
        CompressionType.Zstd,
    ];

    [Theory]
    [MemberData(nameof(AllCodecs))]
    public void WriteTo_ThenRead_RoundTripsEveryField(CompressionType compression)
    {
        TestSeed.Run((int)compression, random =>
        {
            var expected = new List<(byte[]? Key, byte[]? Value, long Timestamp, RecordHeader[] Headers)>();
            using var builder = new RecordBatchBuilder(compression, producerId: 77, producerEpoch: 2, baseSequence: 40, isTransactional: true);
            for (var i = 0; i < 200; i++)
            {
                byte[]? key = i % 4 == 0 ? null : Encoding.UTF8.GetBytes($"key-{i}");
                byte[]? value = i % 10 == 9 ? null : new byte[random.Next(0, i % 7 == 0 ? 5000 : 100)];
                if (value is not null)
                {
                    // Half random, half repetitive so compressors have something to do.
                    random.NextBytes(value.AsSpan(0, value.Length / 2));
                }

                var headers = new RecordHeader[i % 3];
                for (var j = 0; j < headers.Length; j++)
                {
                    headers[j] = new RecordHeader($"hdr-{j}", j == 1 ? null : [(byte)i, (byte)j]);
                }

                // Out-of-order timestamps give negative deltas.
                var timestamp = TestBatches.BaseTimestamp + ((i * 37) % 101) - 50;
                builder.Append(timestamp, key, value, headers);
                expected.Add((key, value, timestamp, headers));
            }

            var output = new ArrayBufferWriter<byte>();
            var size = builder.WriteTo(output);
            Assert.Equal(output.WrittenCount, size);

            var batch = output.WrittenSpan.ToArray();
            var header = RecordBatch.Validate(batch, RecordBatchValidation.Produce);
            Assert.Equal(compression, header.CompressionType);
            Assert.Equal(200, header.RecordsCount);
            Assert.Equal(199, header.LastOffsetDelta);
            Assert.Equal(77, header.ProducerId);
            Assert.Equal(2, header.ProducerEpoch);
            Assert.Equal(40, header.BaseSequence);
            Assert.True(header.IsTransactional);
            Assert.False(header.IsControl);
            Assert.Equal(-1, header.PartitionLeaderEpoch);
            Assert.Equal(expected[0].Timestamp, header.BaseTimestamp);
            Assert.Equal(expected.Max(e => e.Timestamp), header.MaxTimestamp);

            using var scratch = new PooledBufferWriter();
            var i2 = 0;
            foreach (var record in RecordBatch.ReadRecords(batch, scratch, 10 << 20))
            {
                var (key, value, timestamp, headers) = expected[i2];
                Assert.Equal(i2, record.Offset);
                Assert.Equal(timestamp, record.Timestamp);
                Assert.Equal(key is null, record.IsKeyNull);
                Assert.Equal(key ?? [], record.Key.ToArray());
                Assert.Equal(value is null, record.IsValueNull);
                Assert.Equal(value ?? [], record.Value.ToArray());
                Assert.Equal(headers.Length, record.HeaderCount);
                var j = 0;
                foreach (var h in record.Headers)
                {
                    Assert.Equal(headers[j].Key.ToArray(), h.Key.ToArray());
                    Assert.Equal(headers[j].Value is null, h.IsValueNull);
                    Assert.Equal(headers[j].Value?.ToArray() ?? [], h.Value.ToArray());
                    j++;
                }

                i2++;
            }

            Assert.Equal(200, i2);
        });
    }

    [Fact]
    public void WriteTo_UncompressedSameInputAsKafkaPython_ProducesIdenticalBytes()
    {
        // kafka-python wrote TestVectors.BatchNone from these records; our encoding must match byte for byte.
        using var builder = new RecordBatchBuilder(CompressionType.None, producerId: 4242, producerEpoch: 7, baseSequence: 100, isTransactional: true)
        {
            PartitionLeaderEpoch = 0,
        };
        for (var i = 0; i < TestVectors.ExpectedRecords; i++)
        {
            var (key, value, timestamp, headers) = TestVectors.ExpectedRecord(i);
            var recordHeaders = new RecordHeader[headers.Length];
            for (var j = 0; j < headers.Length; j++)
            {
                recordHeaders[j] = new RecordHeader(headers[j].Key, headers[j].Value);
            }

            builder.Append(timestamp, key, value, recordHeaders);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        Assert.Equal(Convert.FromBase64String(TestVectors.BatchNone), output.WrittenSpan.ToArray());
    }

    [Fact]
    public void WriteTo_NoRecords_Throws()
    {
        using var builder = new RecordBatchBuilder();
        Assert.Throws<InvalidOperationException>(() => builder.WriteTo(new ArrayBufferWriter<byte>()));
    }

    [Fact]
    public void Reset_ThenAppend_StartsNewBatch()
    {
        using var builder = new RecordBatchBuilder(CompressionType.Lz4);
        builder.Append(5, null, new byte[] { 1 });
        builder.Reset();
        builder.Append(9, null, new byte[] { 2 });
        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        var header = RecordBatch.Validate(output.WrittenSpan);
        Assert.Equal(1, header.RecordsCount);
        Assert.Equal(9, header.BaseTimestamp);
    }

    [Theory]
    [InlineData(ControlRecordType.Commit)]
    [InlineData(ControlRecordType.Abort)]
    public void WriteEndTransactionBatch_ThenRead_RoundTripsMarker(ControlRecordType type)
    {
        var output = new ArrayBufferWriter<byte>();
        ControlRecords.WriteEndTransactionBatch(output, type, producerId: 9000, producerEpoch: 4, coordinatorEpoch: 12, timestamp: TestBatches.BaseTimestamp, baseOffset: 55, partitionLeaderEpoch: 3);
        var batch = output.WrittenSpan.ToArray();

        var header = RecordBatch.Validate(batch);
        Assert.True(header.IsControl);
        Assert.True(header.IsTransactional);
        Assert.Equal(9000, header.ProducerId);
        Assert.Equal(4, header.ProducerEpoch);
        Assert.Equal(-1, header.BaseSequence);
        Assert.Equal(55, header.BaseOffset);
        Assert.Equal(3, header.PartitionLeaderEpoch);
        Assert.Equal(1, header.RecordsCount);

        var reader = RecordBatch.ReadRecords(batch, new PooledBufferWriter(), 1024);
        Assert.True(reader.MoveNext());
        var record = reader.Current;
        Assert.Equal(new byte[] { 0, 0, 0, (byte)type }, record.Key.ToArray());
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0, 12 }, record.Value.ToArray());
        Assert.Equal(type, ControlRecords.ReadType(record.Key));
        Assert.Equal(new EndTransactionMarker(type, 12), ControlRecords.ReadEndTransactionMarker(record));
        Assert.False(reader.MoveNext());
    }

    [Fact]
    public void ReadType_ShortKeyOrNegativeVersion_ThrowsInvalidRecord()
    {
        Assert.Throws<RecordsException>(() => ControlRecords.ReadType([0, 0, 0]));
        Assert.Throws<RecordsException>(() => ControlRecords.ReadType([0xFF, 0xFF, 0, 1]));
        Assert.Equal(ControlRecordType.LeaderChange, ControlRecords.ReadType([0, 0, 0, 2]));
    }

    [Fact]
    public void WriteEndTransactionBatch_NotCommitOrAbort_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            ControlRecords.WriteEndTransactionBatch(new ArrayBufferWriter<byte>(), ControlRecordType.LeaderChange, 1, 1, 1, 1));
    }
}
