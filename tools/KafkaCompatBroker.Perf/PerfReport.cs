using System.Globalization;
using System.Text;
using System.Text.Json;

namespace KafkaCompatBroker.Perf;

/// <summary>One target's run: the workload's figures and the broker process's cost (null when not measurable).</summary>
internal sealed record TargetResult(string Target, WorkloadResult Workload, double? BrokerCpuSeconds, long? BrokerPeakRssBytes);

/// <summary>Ours divided by the mock cluster's: above 1 means more throughput or more latency than the mock.</summary>
internal sealed record Ratios(
    double ProduceRecordsPerSec,
    double ProduceP50,
    double ProduceP99,
    double ProduceP999,
    double? EndToEndP50,
    double? EndToEndP99,
    double? ConsumeRecordsPerSec)
{
    public static Ratios Of(WorkloadResult ours, WorkloadResult mock)
    {
        static double Div(double a, double b) => b > 0 ? a / b : 0;
        var fullEndToEnd = mock.EndToEnd.Records == ours.EndToEnd.Records;
        return new Ratios(
            Div(ours.Produce.RecordsPerSec, mock.Produce.RecordsPerSec),
            Div(ours.Produce.Latency.P50Ms, mock.Produce.Latency.P50Ms),
            Div(ours.Produce.Latency.P99Ms, mock.Produce.Latency.P99Ms),
            Div(ours.Produce.Latency.P999Ms, mock.Produce.Latency.P999Ms),
            fullEndToEnd ? Div(ours.EndToEnd.Latency.P50Ms, mock.EndToEnd.Latency.P50Ms) : null,
            fullEndToEnd ? Div(ours.EndToEnd.Latency.P99Ms, mock.EndToEnd.Latency.P99Ms) : null,
            // The mock keeps only the last 5 MiB per partition: a partial read back is no comparison.
            mock.Consume.Records == ours.Consume.Records ? Div(ours.Consume.RecordsPerSec, mock.Consume.RecordsPerSec) : null);
    }
}

/// <summary>Everything one run measured: the human table (stdout) and the JSON for scripts.</summary>
internal sealed record PerfReport(
    int Records,
    int RecordSize,
    int Partitions,
    string Acks,
    int LingerMs,
    int BatchSize,
    string Compression,
    string Values,
    int? Rate,
    IReadOnlyDictionary<string, string> TopicConfigs,
    TargetResult? Ours,
    TargetResult? Mock,
    Ratios? VersusMock,
    MachineLimits? Limits)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static PerfReport For(PerfOptions o, TargetResult? ours, TargetResult? mock, MachineLimits? limits) => new(
        o.Records, o.RecordSize, o.Partitions, o.Acks, o.LingerMs, o.BatchSize, o.Compression, o.Values, o.Rate, o.TopicConfigs,
        ours, mock, ours is not null && mock is not null ? Ratios.Of(ours.Workload, mock.Workload) : null, limits);

    private static double ProducedGiB(TargetResult t) => t.Workload.Produce.Bytes / (1024.0 * 1024 * 1024);

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    /// <summary>The topic's configs for the workload line; the mock cluster runs without them.</summary>
    private string TopicConfigText() => TopicConfigs.Count == 0
        ? ""
        : $", topic configs {string.Join(",", TopicConfigs.Select(kv => $"{kv.Key}={kv.Value}"))}{(Mock is null ? "" : " (not on the mock)")}";

    public string ToTable()
    {
        var c = CultureInfo.InvariantCulture;
        var s = new StringBuilder();
        s.AppendLine(c, $"workload: {Records:N0} records x {RecordSize} B, {Partitions} partition(s), acks={Acks}, linger.ms={LingerMs}, batch.size={BatchSize}, compression={Compression}, values={Values}{(Rate is { } r ? $", rate {r:N0}/s" : "")}{TopicConfigText()}");
        var targets = new[] { Ours, Mock }.OfType<TargetResult>().ToList();
        s.AppendLine(c, $"{"",-28}{string.Concat(targets.Select(t => $"{t.Target,16}"))}{(VersusMock is null ? "" : $"{"ours/mock",12}")}");
        void Row(string name, Func<TargetResult, double?> value, string format, double? ratio = null)
        {
            s.Append(c, $"{name,-28}");
            foreach (var t in targets)
            {
                var v = value(t);
                s.Append(c, $"{(v is { } x ? x.ToString(format, c) : "-"),16}");
            }

            if (ratio is { } q)
            {
                s.Append(c, $"{q.ToString("0.00", c) + "x",12}");
            }

            s.AppendLine();
        }

        var ratios = VersusMock;
        Row("produce records", t => t.Workload.Produce.Records, "N0");
        Row("produce records/s", t => t.Workload.Produce.RecordsPerSec, "N0", ratios?.ProduceRecordsPerSec);
        Row("produce MB/s", t => t.Workload.Produce.MBPerSec, "N1");
        Row("produce latency p50 ms", t => t.Workload.Produce.Latency.P50Ms, "N2", ratios?.ProduceP50);
        Row("produce latency p99 ms", t => t.Workload.Produce.Latency.P99Ms, "N2", ratios?.ProduceP99);
        Row("produce latency p99.9 ms", t => t.Workload.Produce.Latency.P999Ms, "N2", ratios?.ProduceP999);
        Row("produce latency max ms", t => t.Workload.Produce.Latency.MaxMs, "N2");
        Row("produce errors", t => t.Workload.ProduceErrors, "N0");
        Row("end-to-end records", t => t.Workload.EndToEnd.Records, "N0");
        Row("end-to-end p50 ms", t => t.Workload.EndToEnd.Latency.P50Ms, "N2", ratios?.EndToEndP50);
        Row("end-to-end p99 ms", t => t.Workload.EndToEnd.Latency.P99Ms, "N2", ratios?.EndToEndP99);
        Row("end-to-end p99.9 ms", t => t.Workload.EndToEnd.Latency.P999Ms, "N2");
        Row("end-to-end max ms", t => t.Workload.EndToEnd.Latency.MaxMs, "N2");
        Row("consume records", t => t.Workload.Consume.Records, "N0");
        Row("consume records/s", t => t.Workload.Consume.RecordsPerSec, "N0", ratios?.ConsumeRecordsPerSec);
        Row("consume MB/s", t => t.Workload.Consume.MBPerSec, "N1");
        Row("broker CPU s", t => t.BrokerCpuSeconds, "N2");
        Row("broker CPU s produce phase", t => t.Workload.ProduceCpu.Broker, "N2");
        Row("broker CPU s read-back", t => t.Workload.ConsumeCpu.Broker, "N2");
        Row("broker CPU s / GB produced", t => t.Workload.ProduceCpu.Broker / ProducedGiB(t), "N2");
        Row("client CPU s produce phase", t => t.Workload.ProduceCpu.Client, "N2");
        Row("client+broker CPU s / GB", t => (t.Workload.ProduceCpu.Client + (t.Workload.ProduceCpu.Broker ?? 0)) / ProducedGiB(t), "N2");
        Row("broker peak RSS MiB", t => t.BrokerPeakRssBytes / 1048576.0, "N1");
        foreach (var t in targets.Where(t => t.Workload.FirstError is not null))
        {
            s.AppendLine(c, $"{t.Target}: first produce error: {t.Workload.FirstError}");
        }

        if (Limits is { } l)
        {
            s.AppendLine(c, $"machine: loopback TCP {l.LoopbackTcpMBPerSec:N0} MB/s, sequential disk write+fsync {l.DiskWriteMBPerSec:N0} MB/s ({l.DiskDir})");
        }

        s.AppendLine("(MB = MiB, GB = GiB; mock = librdkafka's in-process mock cluster, whose cost is inside the client process;");
        s.AppendLine(" the produce phase's CPU includes serving the tailing end-to-end consumer unless --no-end-to-end)");
        return s.ToString();
    }
}
