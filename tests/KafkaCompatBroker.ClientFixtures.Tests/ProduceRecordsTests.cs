using System.Buffers;
using System.Text;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.ClientFixtures.Tests;

/// <summary>The record batches in the captured Produce requests hold exactly what the capture scripts sent.</summary>
[Trait(Categories.Name, Categories.Unit)]
public class ProduceRecordsTests
{
    private const int MaxDecompressedBytes = 1 << 20;

    public static TheoryData<string> AllCaptures() => [.. Fixtures.Captures()];

    [Fact]
    public void Fixtures_CoverEveryCapturedClientAndCodec()
    {
        var missing = Fixtures.ExpectedCaptures
            .Where(c => !Fixtures.FramesOf(c, nameof(ApiKey.Produce)).Any() || !Fixtures.FramesOf(c, nameof(ApiKey.ApiVersions)).Any())
            .ToList();
        Assert.True(missing.Count == 0, $"no ApiVersions or Produce fixture for: {string.Join(", ", missing)} (run compat-tests/capture/capture-all.sh)");

        var unexpected = Fixtures.Captures().Except(Fixtures.ExpectedCaptures).ToList();
        Assert.True(unexpected.Count == 0, $"fixtures not listed in Fixtures.ExpectedCaptures: {string.Join(", ", unexpected)}");
    }

    [Theory]
    [MemberData(nameof(AllCaptures))]
    public void ProduceRequests_Capture_HoldTheScriptedRecords(string capture)
    {
        var client = capture[..capture.IndexOf('/')];
        var variant = capture[(capture.IndexOf('/') + 1)..];
        var idempotent = variant.EndsWith("-idempotent", StringComparison.Ordinal);
        var codec = Enum.Parse<CompressionType>(variant.Split('-')[0], ignoreCase: true);

        var actual = new List<string>();
        var frames = Fixtures.FramesOf(capture, nameof(ApiKey.Produce)).ToList();
        Assert.NotEmpty(frames);
        foreach (var fixture in frames)
        {
            var request = ReadProduceRequest(Fixtures.Read(fixture));
            Assert.Null(request.TransactionalId);
            Assert.Equal(idempotent ? (short)-1 : (short)1, request.Acks);
            var topic = Assert.Single(request.TopicData);
            Assert.Equal("fixtures", topic.Name);
            var partition = Assert.Single(topic.PartitionData);
            Assert.Equal(0, partition.Index);
            Assert.NotNull(partition.Records);

            var batches = new RecordBatchEnumerator(partition.Records.Value);
            while (batches.MoveNext())
            {
                CheckBatch(batches.Current, codec, idempotent, actual, client);
            }

            Assert.Equal(RecordBatchSequenceStatus.Complete, batches.Status);
        }

        Assert.Equal(ExpectedRecords.For(client), actual);
    }

    private static ProduceRequest ReadProduceRequest(byte[] frame)
    {
        var (_, version) = Fixtures.PeekApi(frame);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
        new RequestHeader().Read(ref reader, KafkaApis.RequestHeaderVersion(ApiKey.Produce, version));
        var request = new ProduceRequest();
        request.Read(ref reader, version);
        return request;
    }

    private static void CheckBatch(RecordBatchSlice slice, CompressionType codec, bool idempotent, List<string> actual, string client)
    {
        var error = slice.TryValidate(out var message, RecordBatchValidation.Produce);
        Assert.True(error == RecordBatchError.None, $"{error}: {message}");

        var bytes = slice.Bytes.ToArray();
        var header = slice.Header;
        Assert.Equal(header.Crc, Crc32C.Compute(bytes.AsSpan(21)));
        Assert.Equal(RecordBatchHeader.CurrentMagic, (byte)header.Magic);
        Assert.Equal(codec, header.CompressionType);
        Assert.Equal(TimestampType.CreateTime, header.TimestampType);
        Assert.False(header.IsTransactional);
        Assert.False(header.IsControl);
        if (idempotent)
        {
            Assert.Equal(1000, header.ProducerId); // what the recorder's InitProducerId answered
            Assert.Equal(0, header.ProducerEpoch);
            Assert.Equal(actual.Count, header.BaseSequence);
        }
        else
        {
            Assert.Equal(-1, header.ProducerId);
        }

        using var scratch = new PooledBufferWriter();
        var records = RecordBatch.ReadRecords(bytes, scratch, MaxDecompressedBytes);
        if (codec != CompressionType.None)
        {
            // The codec did shrink the records (the values are repetitive).
            Assert.True(header.RecordsSize < scratch.WrittenCount, $"{codec}: {header.RecordsSize} compressed bytes, {scratch.WrittenCount} decompressed");
        }

        var expectedDelta = 0;
        var minTimestamp = long.MaxValue;
        var maxTimestamp = long.MinValue;
        foreach (var record in records)
        {
            Assert.Equal(expectedDelta++, record.OffsetDelta);
            var headers = new List<(string, string?)>();
            foreach (var h in record.Headers)
            {
                headers.Add((Encoding.UTF8.GetString(h.Key), h.IsValueNull ? null : Encoding.UTF8.GetString(h.Value)));
            }

            minTimestamp = Math.Min(minTimestamp, record.Timestamp);
            maxTimestamp = Math.Max(maxTimestamp, record.Timestamp);
            actual.Add(ExpectedRecords.Describe(
                record.IsKeyNull ? null : Encoding.UTF8.GetString(record.Key),
                record.IsValueNull ? null : Encoding.UTF8.GetString(record.Value),
                headers,
                ExpectedRecords.HasExplicitTimestamps(client) ? record.Timestamp : null));
        }

        Assert.Equal(header.RecordsCount, expectedDelta);
        Assert.Equal(header.LastOffsetDelta + 1, expectedDelta);
        Assert.Equal(maxTimestamp, header.MaxTimestamp);
        Assert.Equal(minTimestamp, header.BaseTimestamp);
        // Clients that cannot set timestamps stamp "now".
        Assert.True(minTimestamp >= ExpectedRecords.BaseTimestamp, $"timestamp {minTimestamp}");
    }
}
