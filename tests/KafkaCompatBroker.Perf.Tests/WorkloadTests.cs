using System.Text.Json;

namespace KafkaCompatBroker.Perf.Tests;

/// <summary>
/// The perf tool's workload end to end at a small size: against an in-process broker on a real port and against
/// librdkafka's mock cluster. Checks counts and that every reported figure is present; no timing assertions.
/// </summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class WorkloadTests : IAsyncLifetime
{
    private const int Records = 2000;
    private TestCluster? _cluster;

    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync();

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    [Fact]
    public async Task RunAsync_OurBroker_EveryRecordProducedTailedAndConsumed()
    {
        var options = PerfOptions.Parse(["--bootstrap", $"127.0.0.1:{_cluster!.Port(0)}", "--records", $"{Records}", "--record-size", "100", "--partitions", "3", "--compression", "lz4"]);

        var result = await Workload.RunAsync(options.Bootstrap!, options, new Progress());

        Assert.Equal(0, result.ProduceErrors);
        Assert.Null(result.FirstError);
        foreach (var phase in new[] { result.Produce, result.EndToEnd, result.Consume })
        {
            Assert.Equal(Records, phase.Records);
            Assert.Equal(Records * 100L, phase.Bytes);
            Assert.True(phase.Seconds > 0);
            Assert.True(phase.RecordsPerSec > 0);
            Assert.True(phase.Latency.P50Ms <= phase.Latency.P99Ms && phase.Latency.P99Ms <= phase.Latency.P999Ms && phase.Latency.P999Ms <= phase.Latency.MaxMs);
        }

        Assert.True(result.Produce.Latency.MaxMs > 0);
        Assert.True(result.ProduceCpu.Client > 0);
        Assert.Null(result.ProduceCpu.Broker);
    }

    [Fact]
    public async Task RunAsync_NoEndToEnd_ProducesAndConsumesWithoutTail()
    {
        var options = PerfOptions.Parse(["--bootstrap", $"127.0.0.1:{_cluster!.Port(0)}", "--records", $"{Records}", "--record-size", "100", "--no-end-to-end"]);
        var cpu = 0.0;

        var result = await Workload.RunAsync(options.Bootstrap!, options, new Progress(), sampleCpu: () => new CpuSample(cpu += 1, 0));

        Assert.Equal(Records, result.Produce.Records);
        Assert.Equal(0, result.EndToEnd.Records);
        Assert.Equal(Records, result.Consume.Records);
        // Sampled once before producing, once after, once after the read-back.
        Assert.Equal(1.0, result.ProduceCpu.Broker);
        Assert.Equal(1.0, result.ConsumeCpu.Broker);
    }

    [Fact]
    public async Task RunAsync_TopicConfigs_TopicCreatedWithThem()
    {
        var options = PerfOptions.Parse([
            "--bootstrap", $"127.0.0.1:{_cluster!.Port(0)}", "--records", "200", "--record-size", "100", "--acks", "all",
            "--topic-config", "flush.messages=1", "--topic-config", "retention.ms=3600000",
        ]);

        var result = await Workload.RunAsync(options.Bootstrap!, options, new Progress());

        Assert.Equal(0, result.ProduceErrors);
        Assert.Equal(200, result.Consume.Records);
        var config = _cluster!.Broker.Context.Replicas.ConfigFor(options.Topic);
        Assert.Equal(1, config.FlushMessages);
        Assert.Equal(3_600_000, config.RetentionMs);
    }

    [Fact]
    public async Task RunAsync_MockCluster_EveryRecordProducedAndReportHasEveryField()
    {
        var options = PerfOptions.Parse(["--mock", "--records", $"{Records}", "--record-size", "100", "--partitions", "2"]);
        using var cluster = new MockCluster(options.Topic, options.Partitions);

        var mock = await Workload.RunAsync(cluster.Bootstrap, options, new Progress(), createTopic: false);

        // 2000 x 100 B stays inside the mock's 5 MiB per-partition retention: everything reads back.
        Assert.Equal(Records, mock.Produce.Records);
        Assert.Equal(Records, mock.Consume.Records);
        var ours = new TargetResult("ours", mock, 1.5, 1024);
        var report = PerfReport.For(options, ours, new TargetResult("mock", mock, null, null), new MachineLimits(1, 2, "/tmp"));
        using var json = JsonDocument.Parse(report.ToJson());
        var root = json.RootElement;
        foreach (var name in new[] { "records", "recordSize", "partitions", "acks", "lingerMs", "batchSize", "compression", "ours", "mock", "versusMock", "limits" })
        {
            Assert.True(root.TryGetProperty(name, out _), name);
        }

        foreach (var phase in new[] { "produce", "endToEnd", "consume" })
        {
            var figures = root.GetProperty("ours").GetProperty("workload").GetProperty(phase);
            foreach (var name in new[] { "records", "bytes", "seconds", "recordsPerSec", "mbPerSec" })
            {
                Assert.True(figures.TryGetProperty(name, out _), $"{phase}.{name}");
            }

            foreach (var name in new[] { "p50Ms", "p99Ms", "p999Ms", "maxMs" })
            {
                Assert.True(figures.GetProperty("latency").TryGetProperty(name, out _), $"{phase}.latency.{name}");
            }
        }

        Assert.Equal(1.0, root.GetProperty("versusMock").GetProperty("produceRecordsPerSec").GetDouble(), 6);
        Assert.Equal(1.5, root.GetProperty("ours").GetProperty("brokerCpuSeconds").GetDouble());
        Assert.True(root.GetProperty("ours").GetProperty("workload").GetProperty("produceCpu").GetProperty("client").GetDouble() > 0);
        Assert.Equal(2.0, root.GetProperty("limits").GetProperty("diskWriteMBPerSec").GetDouble());
        Assert.Contains("produce latency p99.9 ms", report.ToTable(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MachineLimits_Probes_MeasureSomething()
    {
        Assert.True(await MachineLimits.LoopbackTcpAsync(TimeSpan.FromMilliseconds(200)) > 0);
        Assert.True(MachineLimits.DiskWrite(_cluster!.DataDir(0)) > 0);
        Assert.Empty(Directory.GetFiles(_cluster.DataDir(0), "kcb-perf-disk-*"));
    }

    [Fact]
    public void Parse_BadArguments_Throws()
    {
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--records", "10"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--mock", "--acks", "2"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--mock", "--compression", "brotli"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--mock", "--compare"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--mock", "--records"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--mock", "--warmup", "-5"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--start-broker", "--topic-config", "flush.messages"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--start-broker", "--topic-config", "=1"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--mock", "--topic-config", "flush.messages=1"]));
    }

    [Fact]
    public void Parse_WarmupAndNoEndToEnd_Set()
    {
        var options = PerfOptions.Parse(["--mock", "--warmup", "5000", "--no-end-to-end"]);

        Assert.Equal(5000, options.Warmup);
        Assert.False(options.EndToEnd);
        Assert.True(PerfOptions.Parse(["--mock"]).EndToEnd);
    }

    [Fact]
    public void Parse_TopicConfigRepeated_KeepsEachAndTheLastValueOfAKey()
    {
        var options = PerfOptions.Parse(["--start-broker", "--topic-config", "flush.messages=1", "--topic-config", "segment.bytes=1048576", "--topic-config", "flush.messages=2"]);

        Assert.Equal(new Dictionary<string, string> { ["flush.messages"] = "2", ["segment.bytes"] = "1048576" }, options.TopicConfigs);
        Assert.Contains("topic configs flush.messages=2,segment.bytes=1048576", PerfReport.For(options, null, null, null).ToTable(), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Values_TextSetRandomByDefaultOthersRefused()
    {
        Assert.Equal("text", PerfOptions.Parse(["--mock", "--values", "text"]).Values);
        Assert.Equal("random", PerfOptions.Parse(["--mock"]).Values);
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--mock", "--values", "zeros"]));
        Assert.Contains("values=text", PerfReport.For(PerfOptions.Parse(["--mock", "--values", "text"]), null, null, null).ToTable(), StringComparison.Ordinal);
    }

    [Fact]
    public void TextValues_CreatePool_DistinctValuesOfTheSizeSameForASeed()
    {
        var pool = TextValues.CreatePool(100, 1024, seed: 7);

        Assert.All(pool, value => Assert.Equal(1024, value.Length));
        Assert.Equal(100, pool.Select(Convert.ToBase64String).Distinct().Count());
        Assert.Equal(pool[99], TextValues.CreatePool(100, 1024, seed: 7)[99]);
        Assert.NotEqual(pool[0], TextValues.CreatePool(1, 1024, seed: 8)[0]);
    }
}
