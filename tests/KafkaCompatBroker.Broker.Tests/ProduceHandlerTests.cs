using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>Sends requests through a <see cref="TestBroker"/>'s dispatcher and decodes the responses (data-path handler tests).</summary>
internal static class DataPath
{

    public static KafkaUuid CreateTopic(TestBroker broker, string name, int partitions = 1, params (string Key, string Value)[] configs)
    {
        var result = broker.Metadata.CreateTopic(name, partitions, 1, configs: configs.Select(c => new KeyValuePair<string, string?>(c.Key, c.Value)));
        Assert.True(result.IsSuccess, result.ErrorMessage);
        return result.TopicId;
    }

    /// <summary>A v2 batch of <paramref name="count"/> records "k{i}" → "v{i}" (keyless when <paramref name="keyless"/>).</summary>
    public static byte[] Batch(int count, long timestamp = 1_700_000_000_000, CompressionType compression = CompressionType.None, bool keyless = false, int valueSize = 2, string prefix = "v")
    {
        using var builder = new RecordBatchBuilder(compression);
        for (var i = 0; i < count; i++)
        {
            builder.Append(timestamp + i, keyless ? default : Encoding.UTF8.GetBytes($"k{i}"), Encoding.UTF8.GetBytes($"{prefix}{i}".PadRight(valueSize, 'x')), isKeyNull: keyless);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    public static ProduceRequest Produce(string topic, int partition, byte[]? records, short acks = -1, KafkaUuid topicId = default)
    {
        var request = new ProduceRequest { Acks = acks, TimeoutMs = 1000 };
        request.TopicData.Add(new ProduceRequest.TopicProduceData
        {
            Name = topic,
            TopicId = topicId,
            PartitionData = [new ProduceRequest.PartitionProduceData { Index = partition, Records = records is null ? null : new ReadOnlySequence<byte>(records) }],
        });
        return request;
    }

    public static async Task<ProduceResponse.PartitionProduceResponse> ProduceAsync(TestBroker broker, string topic, byte[] records, short version = 9, int partition = 0)
    {
        var response = await BrokerExchange.SendAsync<ProduceResponse>(broker, ApiKey.Produce, version, Produce(topic, partition, records));
        return Assert.Single(Assert.Single(response.Responses).PartitionResponses);
    }

    /// <summary>The base offsets and record counts of the batches in <paramref name="records"/>.</summary>
    public static List<(long BaseOffset, int Count)> Batches(ReadOnlySequence<byte>? records)
    {
        var list = new List<(long, int)>();
        if (records is { } r)
        {
            foreach (var slice in RecordBatches.Enumerate(r))
            {
                list.Add((slice.Header.BaseOffset, slice.Header.RecordsCount));
            }
        }

        return list;
    }
}

[Trait(Categories.Name, Categories.Unit)]
public sealed class ProduceHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(9)]
    [InlineData(12)]
    public async Task Produce_ByName_AppendsAndReturnsBaseOffset(short version)
    {
        DataPath.CreateTopic(_broker, "t");

        var first = await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(3), version);
        var second = await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2), version);

        Assert.Equal(0, first.ErrorCode);
        Assert.Equal(0, first.BaseOffset);
        Assert.Equal(3, second.BaseOffset);
        Assert.Equal(-1, second.LogAppendTimeMs);
        Assert.Equal(version >= 5 ? 0 : -1, second.LogStartOffset);
        Assert.Equal(5, _broker.Replicas.GetLog("t", 0)!.LogEndOffset);
    }

    [Fact]
    public async Task Produce_V13ByTopicId_AppendsAndEchoesId()
    {
        var id = DataPath.CreateTopic(_broker, "ids");

        var response = await BrokerExchange.SendAsync<ProduceResponse>(_broker, ApiKey.Produce, 13, DataPath.Produce("", 0, DataPath.Batch(1), topicId: id));

        var topic = Assert.Single(response.Responses);
        Assert.Equal(id, topic.TopicId);
        Assert.Equal(0, Assert.Single(topic.PartitionResponses).ErrorCode);
        Assert.Equal(1, _broker.Replicas.GetLog("ids", 0)!.LogEndOffset);
    }

    [Fact]
    public async Task Produce_V13UnknownTopicId_UnknownTopicId()
    {
        var response = await BrokerExchange.SendAsync<ProduceResponse>(_broker, ApiKey.Produce, 13, DataPath.Produce("", 0, DataPath.Batch(1), topicId: KafkaUuid.NewRandom()));

        Assert.Equal((short)ErrorCode.UnknownTopicId, Assert.Single(Assert.Single(response.Responses).PartitionResponses).ErrorCode);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task Produce_MessageFormatV0V1Versions_UnsupportedVersionWithoutAppending(short version)
    {
        DataPath.CreateTopic(_broker, "old");

        var result = await DataPath.ProduceAsync(_broker, "old", DataPath.Batch(1), version);

        Assert.Equal((short)ErrorCode.UnsupportedVersion, result.ErrorCode);
        Assert.Equal(-1, result.BaseOffset);
        Assert.Equal(0, _broker.Replicas.GetLog("old", 0)!.LogEndOffset);
    }

    [Fact]
    public async Task Produce_AcksZero_NoResponseButAppended()
    {
        DataPath.CreateTopic(_broker, "t");

        var bytes = await BrokerExchange.SendRawAsync(_broker, ApiKey.Produce, 9, DataPath.Produce("t", 0, DataPath.Batch(2), acks: 0));

        Assert.Empty(bytes);
        Assert.Equal(2, _broker.Replicas.GetLog("t", 0)!.LogEndOffset);
    }

    [Fact]
    public async Task Produce_AcksZeroToUnknownTopic_ClosesConnectionWithoutResponse()
    {
        var frame = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)ApiKey.Produce, RequestApiVersion = 9, CorrelationId = 7, ClientId = "test" }
            .Write(frame, KafkaApis.RequestHeaderVersion(ApiKey.Produce, 9));
        DataPath.Produce("missing", 0, DataPath.Batch(1), acks: 0).Write(frame, 9);
        var pipe = new Pipe();

        var outcome = await _broker.Dispatcher.ProcessAsync(_broker.Connection, new ReadOnlySequence<byte>(frame.WrittenMemory), pipe.Writer, CancellationToken.None);

        Assert.Equal(RequestOutcome.Close, outcome);
        await pipe.Writer.CompleteAsync();
        var result = await pipe.Reader.ReadAsync();
        Assert.True(result.Buffer.IsEmpty);
    }

    [Fact]
    public async Task Produce_InvalidAcks_InvalidRequiredAcks()
    {
        DataPath.CreateTopic(_broker, "t");

        var response = await BrokerExchange.SendAsync<ProduceResponse>(_broker, ApiKey.Produce, 9, DataPath.Produce("t", 0, DataPath.Batch(1), acks: 2));

        Assert.Equal((short)ErrorCode.InvalidRequiredAcks, Assert.Single(Assert.Single(response.Responses).PartitionResponses).ErrorCode);
    }

    [Fact]
    public async Task Produce_UnknownTopicOrPartition_PerPartitionError()
    {
        DataPath.CreateTopic(_broker, "t");

        var unknownTopic = await DataPath.ProduceAsync(_broker, "nope", DataPath.Batch(1));
        var unknownPartition = await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1), partition: 5);

        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, unknownTopic.ErrorCode);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, unknownPartition.ErrorCode);
        Assert.Equal(-1, unknownPartition.BaseOffset);
    }

    [Fact]
    public async Task Produce_TwoBatchesInOnePartition_InvalidRecord()
    {
        DataPath.CreateTopic(_broker, "t");

        var result = await DataPath.ProduceAsync(_broker, "t", [.. DataPath.Batch(1), .. DataPath.Batch(1)]);

        Assert.Equal((short)ErrorCode.InvalidRecord, result.ErrorCode);
        Assert.Equal(0, _broker.Replicas.GetLog("t", 0)!.LogEndOffset);
    }

    [Fact]
    public async Task Produce_ZstdBelowV7_UnsupportedCompressionType()
    {
        DataPath.CreateTopic(_broker, "t");

        var old = await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2, compression: CompressionType.Zstd), version: 6);
        var current = await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2, compression: CompressionType.Zstd), version: 7);

        Assert.Equal((short)ErrorCode.UnsupportedCompressionType, old.ErrorCode);
        Assert.Equal(0, current.ErrorCode);
        Assert.Equal(0, current.BaseOffset);
    }

    [Theory]
    [InlineData(CompressionType.None)]
    [InlineData(CompressionType.Gzip)]
    [InlineData(CompressionType.Lz4)]
    public async Task Produce_KeylessOnCompactedTopic_InvalidRecordWithRecordErrors(CompressionType compression)
    {
        DataPath.CreateTopic(_broker, "compacted", 1, ("cleanup.policy", "compact"));

        var result = await DataPath.ProduceAsync(_broker, "compacted", DataPath.Batch(2, compression: compression, keyless: true), version: 9);
        var keyed = await DataPath.ProduceAsync(_broker, "compacted", DataPath.Batch(2, compression: compression), version: 9);

        Assert.Equal((short)ErrorCode.InvalidRecord, result.ErrorCode);
        Assert.Equal([0, 1], result.RecordErrors.Select(e => e.BatchIndex));
        Assert.Equal("Compacted topic cannot accept message without key in topic partition compacted-0.", result.RecordErrors[0].BatchIndexErrorMessage);
        Assert.StartsWith("One or more records have been rejected due to 2 record errors", result.ErrorMessage);
        Assert.Equal(0, keyed.ErrorCode);
        Assert.Equal(0, keyed.BaseOffset);
    }

    [Fact]
    public async Task Produce_BatchOverMaxMessageBytes_MessageTooLargeWithMessage()
    {
        DataPath.CreateTopic(_broker, "small", 1, ("max.message.bytes", "200"));

        var result = await DataPath.ProduceAsync(_broker, "small", DataPath.Batch(1, valueSize: 500), version: 9);

        Assert.Equal((short)ErrorCode.MessageTooLarge, result.ErrorCode);
        Assert.NotNull(result.ErrorMessage);
    }

    [Fact]
    public async Task Produce_CorruptCrc_CorruptMessage()
    {
        DataPath.CreateTopic(_broker, "t");
        var batch = DataPath.Batch(1);
        batch[^1] ^= 0xFF;

        var result = await DataPath.ProduceAsync(_broker, "t", batch, version: 9);

        Assert.Equal((short)ErrorCode.CorruptMessage, result.ErrorCode);
        Assert.NotNull(result.ErrorMessage);
    }

    [Fact]
    public async Task Produce_LogAppendTimeTopic_ReturnsAppendTime()
    {
        DataPath.CreateTopic(_broker, "lat", 1, ("message.timestamp.type", "LogAppendTime"));
        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        var result = await DataPath.ProduceAsync(_broker, "lat", DataPath.Batch(1), version: 9);

        Assert.InRange(result.LogAppendTimeMs, before, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }
}
