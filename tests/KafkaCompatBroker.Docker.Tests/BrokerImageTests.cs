using Confluent.Kafka;

namespace KafkaCompatBroker.Docker.Tests;

/// <summary>
/// The broker's Docker image as a user runs it (`docker run -p 9092:9092`): Confluent.Kafka 2.15.1 produces and
/// consumes with every codec, the broker runs as a non-root user with its data on the image's volume, and it comes
/// back with every record after a stop and start. Each test writes its own topic.
/// </summary>
[Trait(Categories.Name, Categories.Docker)]
public sealed class BrokerImageTests(BrokerImage broker) : IClassFixture<BrokerImage>
{
    private static readonly string[] Codecs = ["none", "gzip", "snappy", "lz4", "zstd"];

    [Fact]
    public async Task ProduceConsume_EveryCodec_RecordsComeBackWithoutNativeCodecLibraries()
    {
        var expected = await ProduceEveryCodecAsync("codecs");

        Assert.Equal(expected, Consume("codecs", expected.Count));
        // The broker read every batch (it checks each record on produce) with managed codecs only.
        var maps = await broker.ExecAsync("cat", "/proc/1/maps");
        Assert.DoesNotContain("libzstd", maps, StringComparison.Ordinal);
        Assert.DoesNotContain("liblz4", maps, StringComparison.Ordinal);
        Assert.DoesNotContain("libsnappy", maps, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Broker_Running_IsNotRootAndWritesTheVolume()
    {
        await ProduceEveryCodecAsync("volume");

        var uid = (await broker.ExecAsync("id", "-u")).Trim();
        Assert.NotEqual("0", uid);
        var status = await broker.ExecAsync("cat", "/proc/1/status");
        Assert.Contains(status.Split('\n'), line => line.StartsWith("Uid:", StringComparison.Ordinal) && line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == uid);
        // A volume is mounted at the data directory (the Dockerfile's VOLUME) and the topic's segment is in it.
        var mounts = await broker.ExecAsync("cat", "/proc/self/mountinfo");
        Assert.Contains(mounts.Split('\n'), line => line.Split(' ').Length > 4 && line.Split(' ')[4] == BrokerImage.DataDir);
        var segments = await broker.ExecAsync("find", $"{BrokerImage.DataDir}/volume-0", "-name", "*.log", "-size", "+0");
        Assert.NotEmpty(segments.Trim());
    }

    [Fact]
    public async Task StopStart_AfterProduce_EveryRecordIsStillThere()
    {
        var expected = await ProduceEveryCodecAsync("restart");

        await broker.Container.StopAsync();
        await broker.Container.StartAsync();

        Assert.Equal(expected, Consume("restart", expected.Count));
    }

    /// <summary>Three records per codec, acks=all, each codec's batch flushed before the next.</summary>
    private async Task<List<string>> ProduceEveryCodecAsync(string topic)
    {
        var values = new List<string>();
        foreach (var codec in Codecs)
        {
            var config = new ProducerConfig
            {
                BootstrapServers = broker.Bootstrap,
                Acks = Acks.All,
                CompressionType = Enum.Parse<CompressionType>(codec, ignoreCase: true),
                LingerMs = 50,
                MessageTimeoutMs = 30_000,
            };
            using var producer = new ProducerBuilder<Null, string>(config).Build();
            var sends = new List<Task>();
            for (var i = 1; i <= 3; i++)
            {
                var value = $"{codec}-{i}-" + new string((char)('a' + i), 200);
                values.Add(value);
                sends.Add(producer.ProduceAsync(new TopicPartition(topic, 0), new Message<Null, string> { Value = value }));
            }

            await Task.WhenAll(sends);
        }

        return values;
    }

    private List<string> Consume(string topic, int count)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = broker.Bootstrap,
            GroupId = "docker-tests-" + topic,
            EnableAutoCommit = false,
        };
        using var consumer = new ConsumerBuilder<Ignore, string>(config).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var values = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (values.Count < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromSeconds(1)) is { Message: { } message })
            {
                values.Add(message.Value);
            }
        }

        consumer.Close();
        return values;
    }
}
