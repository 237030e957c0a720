using System.Text.Json;

namespace KafkaCompatBroker.Perf.Tests;

/// <summary>The --recovery mode: option parsing, the pure logic (offset verification, log line, /proc parsing), the report, and one small real run.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class RecoveryTests
{
    [Fact]
    public void Parse_Recovery_DefaultsTo1000PartitionsAnd1GiB()
    {
        var o = PerfOptions.Parse(["--recovery"]);

        Assert.True(o.Recovery);
        Assert.Equal(1000, o.Partitions);
        Assert.Equal(1L << 30, o.TotalBytes);
        Assert.Equal(1 << 20, o.Records); // 1 GiB of 1 KiB values
        Assert.Equal(5, o.IdleSeconds);
        Assert.Empty(o.BrokerProperties);
    }

    [Fact]
    public void Parse_RecoveryWithSizes_ComputesRecordsAndBrokerProperties()
    {
        var o = PerfOptions.Parse(["--recovery", "--partitions", "10", "--total-bytes", "10M", "--record-size", "1000", "--segment-bytes", "1MiB", "--broker-config", "num.recovery.threads.per.data.dir=4", "--idle-seconds", "0", "--keep-data"]);

        Assert.Equal(10, o.Partitions);
        Assert.Equal(10_486, o.Records); // 10 MiB / 1000 B, rounded up
        Assert.Equal(new[] { "log.segment.bytes=1048576", "num.recovery.threads.per.data.dir=4" }, o.BrokerProperties);
        Assert.Equal(0, o.IdleSeconds);
        Assert.True(o.KeepData);
    }

    [Fact]
    public void Parse_RecoveryWithRecords_KeepsThemAndAllowsAnyPartitionCount()
    {
        var o = PerfOptions.Parse(["--recovery", "--records", "500", "--partitions", "3"]);

        Assert.Equal(500, o.Records);
        Assert.Null(o.TotalBytes);
        Assert.Equal(3, o.Partitions);
    }

    [Fact]
    public void Parse_RecoveryBadCombinations_Throw()
    {
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--recovery", "--start-broker"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--recovery", "--compare"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--recovery", "--acks", "0"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--recovery", "--records", "10", "--total-bytes", "1M"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--recovery", "--total-bytes", "1T"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--recovery", "--segment-bytes", "0"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--recovery", "--broker-config", "novalue"]));
        Assert.Throws<ArgumentException>(() => PerfOptions.Parse(["--recovery", "--total-bytes", "4096G"]));
    }

    [Theory]
    [InlineData("1048576", 1048576L)]
    [InlineData("1k", 1024L)]
    [InlineData("512MB", 512L << 20)]
    [InlineData("1GiB", 1L << 30)]
    [InlineData(" 2G ", 2L << 30)]
    [InlineData("7b", 7L)]
    [InlineData("", null)]
    [InlineData("G", null)]
    [InlineData("1.5G", null)]
    [InlineData("-1", null)]
    [InlineData("99999999999999999999", null)]
    [InlineData("9999999999999G", null)]
    public void ParseBytes_Forms_AsDocumented(string text, long? expected)
    {
        Assert.Equal(expected, PerfOptions.ParseBytes(text));
    }

    [Fact]
    public void BrokerLoadLine_Parse_ReadsTheLogManagersLine()
    {
        var line = "2026-11-22 02:47:18.645 info: KafkaCompatBroker.Storage.LogManager[0] Loaded 1000 partition log(s) from 1 log dir(s) in 8257 ms; 998 recovered after an unclean shutdown";

        Assert.Equal(new BrokerLoadLine(1000, 8257, 998), BrokerLoadLine.Parse(line));
        Assert.Null(BrokerLoadLine.Parse("Loaded cluster metadata: snapshot none"));
        Assert.Null(BrokerLoadLine.Parse(null));
    }

    [Fact]
    public void AckedOffsets_Acknowledge_KeepsTheHighestEndPerPartition()
    {
        var acked = new AckedOffsets(3);

        acked.Acknowledge(0, 4);
        acked.Acknowledge(0, 2); // delivery reports of different batches may arrive out of order
        acked.Acknowledge(2, 0);

        Assert.Equal(new[] { 5L, 0L, 1L }, new[] { acked[0], acked[1], acked[2] });
        Assert.Equal(6, acked.Total);
        Assert.Equal(new[] { 0, 1, 2, 0, 1 }, Enumerable.Range(0, 5).Select(i => AckedOffsets.PartitionOf(i, 3)));
    }

    [Fact]
    public void AckedOffsets_Verify_FlagsLostMissingErroredAndUnexpectedExtra()
    {
        var acked = new AckedOffsets(5);
        for (var p = 0; p < 5; p++)
        {
            acked.Acknowledge(p, 9); // end offset 10 everywhere
        }

        var listed = new Dictionary<int, (long, string?)>
        {
            [0] = (10, null),
            [1] = (9, null),
            [2] = (11, null),
            [3] = (-1, "Broker: Not leader for partition"),
        };

        var strict = acked.Verify(listed, allowExtra: false);
        Assert.Equal(
            new[]
            {
                new OffsetMismatch(1, 10, 9, "acknowledged records lost"),
                new OffsetMismatch(2, 10, 11, "more records than acknowledged"),
                new OffsetMismatch(3, 10, null, "Broker: Not leader for partition"),
                new OffsetMismatch(4, 10, null, "no answer"),
            },
            strict);
        Assert.DoesNotContain(acked.Verify(listed, allowExtra: true), m => m.Partition == 2);
    }

    [Fact]
    public void ProcStats_StatusField_ReadsKilobytesAsBytes()
    {
        string[] status = ["Name:\tdotnet", "VmHWM:\t  204800 kB", "VmRSS:\t   65536 kB"];

        Assert.Equal(64L << 20, ProcStats.StatusField(status, "VmRSS:"));
        Assert.Equal(200L << 20, ProcStats.StatusField(status, "VmHWM:"));
        Assert.Null(ProcStats.StatusField(status, "VmSwap:"));
        Assert.NotNull(ProcStats.RssBytes(Environment.ProcessId));
    }

    [Fact]
    public void BrokerHome_Properties_ExtraLineReplacesTheDefaultOfItsKey()
    {
        var lines = BrokerHome.Properties(9092, "/tmp/x", ["num.partitions=3", "log.segment.bytes=1048576"]);

        Assert.Single(lines, l => l.StartsWith("num.partitions=", StringComparison.Ordinal));
        Assert.Contains("num.partitions=3", lines);
        Assert.Contains("log.segment.bytes=1048576", lines);
        Assert.Contains("listeners=PLAINTEXT://127.0.0.1:9092", lines);
        Assert.Contains("log.dirs=/tmp/x", lines);
    }

    [Fact]
    public void RecoveryReport_TableAndJson_ShowVerdictsAndMismatches()
    {
        var report = Report(usableMs: 12_000, recoveredRss: 100L << 20, [new OffsetMismatch(7, 10, 9, "acknowledged records lost")]);

        Assert.False(report.Recovered);
        Assert.False(report.RecoveryTargetMet);
        Assert.True(report.IdleRssTargetMet);
        var table = report.ToTable();
        Assert.Contains("LOST/WRONG: partition 7: acknowledged end offset 10, after restart 9", table, StringComparison.Ordinal);
        Assert.Contains("MISSED", table, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(report.ToJson());
        foreach (var name in new[] { "partitions", "records", "emptyIdleRssBytes", "listeningMs", "metadataReadyMs", "usableMs", "brokerLoad", "recoveredIdleRssBytes", "mismatches", "recovered", "recoveryTargetMet", "idleRssTargetMet" })
        {
            Assert.True(json.RootElement.TryGetProperty(name, out _), name);
        }

        Assert.Equal(1000, json.RootElement.GetProperty("brokerLoad").GetProperty("partitions").GetInt32());

        var good = Report(usableMs: 1_400, recoveredRss: 151L << 20, []);
        Assert.True(good.Recovered);
        Assert.True(good.RecoveryTargetMet);
        Assert.False(good.IdleRssTargetMet);
    }

    private static RecoveryReport Report(double usableMs, long recoveredRss, List<OffsetMismatch> mismatches) => new(
        1000, 1 << 20, 1024, null, [], 60L << 20, 1 << 20, 0, null, 10, 1 << 20, 1L << 30, 1001, 160L << 20, true,
        900, 1000, usableMs, 1.0, new BrokerLoadLine(1000, 800, 1000), recoveredRss, 5, mismatches);
}

/// <summary>One small real --recovery run: the perf tool produces with librdkafka (Confluent.Kafka), kills the broker process and checks it comes back.</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class RecoveryRunTests
{
    [Fact]
    public async Task RunAsync_SmallTopic_KilledBrokerComesBackWithEveryAcknowledgedRecord()
    {
        var options = PerfOptions.Parse(["--recovery", "--partitions", "8", "--total-bytes", "2M", "--segment-bytes", "256K", "--idle-seconds", "0"]);

        var report = await Recovery.RunAsync(options, new Progress());

        Assert.Empty(report.Mismatches);
        Assert.True(report.CleanShutdownMarkerAbsent);
        Assert.Equal(options.Records, report.AcknowledgedRecords);
        Assert.Equal(0, report.ProduceErrors);
        Assert.True(report.SegmentFiles > 8); // 256 KiB segments: the partitions rolled
        Assert.NotNull(report.BrokerLoad);
        Assert.True(report.BrokerLoad.Partitions >= 8);
        Assert.Equal(report.BrokerLoad.Partitions, report.BrokerLoad.Recovered);
        Assert.True(report.ListeningMs > 0 && report.ListeningMs <= report.MetadataReadyMs && report.MetadataReadyMs <= report.UsableMs);
        Assert.NotNull(report.EmptyIdleRssBytes);
        Assert.NotNull(report.RecoveredIdleRssBytes);
    }
}
