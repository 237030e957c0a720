using System.Globalization;
using System.Text.Json;

namespace KafkaCompatBroker.CompatTests;

/// <summary>
/// kcat 1.7.1 (librdkafka 2.0.2): produce (-P) and consume (-C, no group) per codec, metadata (-L),
/// start at a timestamp (-o s@ts), consume again after a restart, and a group member (-G) that resumes after its commit. kcat cannot set per-record headers
/// or timestamps: its records carry h1=kcat,codec=&lt;codec&gt; and the time they were produced, and the test
/// computes the checksum of key, value and headers from what kcat prints.
/// </summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class KcatCompatTests(CompatBroker broker) : IClassFixture<CompatBroker>
{
    private static string Topic(string what) => $"compat-kcat-{what}-{Guid.NewGuid().ToString("N")[..8]}";

    private static string ExpectedChecksum(string codec, int count)
    {
        var pad = new string('v', 100);
        ulong sum = 0;
        for (var i = 0; i < count; i++)
        {
            sum += Clients.Digest($"key-{i}\tvalue-{i}-{pad}\th1=kcat,codec={codec}");
        }

        return sum.ToString("x16", CultureInfo.InvariantCulture);
    }

    private async Task ProduceAsync(string topic, string codec, int count)
    {
        var produced = await Clients.KcatAsync("produce", broker.Bootstrap, topic, codec, count.ToString(CultureInfo.InvariantCulture));
        Assert.True(produced.ExitCode == 0 && !produced.StdErr.Contains("ERROR", StringComparison.Ordinal), $"kcat -P failed ({produced.ExitCode}): {produced.StdErr}\n{broker.Problems}");
    }

    /// <summary>Consumes with kcat and checks count, key/value/header checksum and that every timestamp is plausible.</summary>
    private async Task AssertConsumesAsync(string topic, string codec, int count, long earliestTimestamp)
    {
        var consumed = await Clients.KcatAsync("consume", broker.Bootstrap, topic, count.ToString(CultureInfo.InvariantCulture));
        var lines = consumed.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == count, $"kcat -C read {lines.Length} of {count} records (exit {consumed.ExitCode}): {consumed.StdErr}\n{broker.Problems}");
        ulong sum = 0;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        foreach (var line in lines)
        {
            var fields = line.Split('\t');
            Assert.Equal(4, fields.Length);
            var timestamp = long.Parse(fields[2], CultureInfo.InvariantCulture);
            Assert.InRange(timestamp, earliestTimestamp - 1000, now + 1000);
            sum += Clients.Digest($"{fields[0]}\t{fields[1]}\t{fields[3]}");
        }

        Assert.Equal(ExpectedChecksum(codec, count), sum.ToString("x16", CultureInfo.InvariantCulture));
    }

    [Theory]
    [InlineData("none")]
    [InlineData("gzip")]
    [InlineData("snappy")]
    [InlineData("lz4")]
    [InlineData("zstd")]
    public async Task ProduceConsume_Codec_AllRecordsRoundTrip(string codec)
    {
        var topic = Topic(codec);
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

        await ProduceAsync(topic, codec, Clients.RecordCount);

        await AssertConsumesAsync(topic, codec, Clients.RecordCount, start);
    }

    [Fact]
    public async Task Metadata_AutoCreatedTopic_ListsBrokerAndPartition()
    {
        var topic = Topic("meta");
        await ProduceAsync(topic, "none", 10);

        var listed = await Clients.KcatAsync("metadata", broker.Bootstrap, topic);

        Assert.True(listed.ExitCode == 0, listed.StdErr);
        using var json = JsonDocument.Parse(listed.StdOut);
        Assert.NotEmpty(json.RootElement.GetProperty("brokers").EnumerateArray());
        var described = Assert.Single(json.RootElement.GetProperty("topics").EnumerateArray());
        Assert.Equal(topic, described.GetProperty("topic").GetString());
        Assert.Single(described.GetProperty("partitions").EnumerateArray());
    }

    [Fact]
    public async Task StartAtTimestamp_MiddleTimestamp_StartsAtThatRecord()
    {
        // kcat cannot set timestamps, so kafka-python writes the records (base + i) that kcat seeks in.
        var topic = Topic("seek");
        var baseTs = DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds();
        var produced = (await Clients.KafkaPythonAsync("produce", broker.Bootstrap, topic, "none", "1000", baseTs.ToString(CultureInfo.InvariantCulture))).Json(broker);
        Assert.Equal(1000, produced.GetProperty("count").GetInt32());

        var found = await Clients.KcatAsync("seek-ts", broker.Bootstrap, topic, (baseTs + 500).ToString(CultureInfo.InvariantCulture));

        var fields = found.StdOut.Trim().Split('\t');
        Assert.True(fields.Length == 5, $"kcat -o s@ts printed '{found.StdOut}' (exit {found.ExitCode}): {found.StdErr}\n{broker.Problems}");
        Assert.Equal("key-500", fields[0]);
        Assert.Equal(baseTs + 500, long.Parse(fields[2], CultureInfo.InvariantCulture));
        Assert.Equal("500", fields[4]);
    }

    [InProcessFact]
    public async Task Restart_ConsumeAgain_EverythingIsThere()
    {
        var topic = Topic("restart");
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await ProduceAsync(topic, "lz4", Clients.RecordCount);
        await AssertConsumesAsync(topic, "lz4", Clients.RecordCount, start);

        await broker.RestartAsync();

        await AssertConsumesAsync(topic, "lz4", Clients.RecordCount, start);
    }

    [Fact]
    public async Task GroupConsumer_StopsAndRestarts_ResumesAfterCommittedOffset()
    {
        var topic = Topic("group");
        var group = "compat-kcat-group-" + Guid.NewGuid().ToString("N")[..8];
        await ProduceAsync(topic, "none", 300);

        var first = await GroupConsumeAsync(topic, group, 100);
        var second = await GroupConsumeAsync(topic, group, 200);

        // kcat -G joins the group (classic protocol, librdkafka 2.0.2), commits on close; the second member resumes there.
        Assert.Equal(Enumerable.Range(0, 100), first);
        Assert.Equal(Enumerable.Range(100, 200), second);
    }

    private async Task<List<int>> GroupConsumeAsync(string topic, string group, int count)
    {
        var result = await Clients.KcatAsync("group-consume", broker.Bootstrap, topic, group, count.ToString(CultureInfo.InvariantCulture));
        var lines = result.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(result.ExitCode == 0 && lines.Length == count, $"kcat -G read {lines.Length} of {count} records (exit {result.ExitCode}): {result.StdErr}\n{broker.Problems}");
        return [.. lines.Select(l => l.Split('\t')).Select(f => (Partition: int.Parse(f[0], CultureInfo.InvariantCulture), Offset: int.Parse(f[1], CultureInfo.InvariantCulture)))
            .Select(r => r.Partition == 0 ? r.Offset : -1)];
    }
}
