using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace KafkaCompatBroker.Perf;

/// <summary>The broker's own startup figure, from its line "Loaded N partition log(s) from D log dir(s) in X ms; M recovered ...".</summary>
internal sealed partial record BrokerLoadLine(int Partitions, long ElapsedMs, int Recovered)
{
    public static BrokerLoadLine? Parse(string? line)
    {
        if (line is null || LoadPattern().Match(line) is not { Success: true } m)
        {
            return null;
        }

        return new BrokerLoadLine(
            int.Parse(m.Groups[1].ValueSpan, CultureInfo.InvariantCulture),
            long.Parse(m.Groups[2].ValueSpan, CultureInfo.InvariantCulture),
            int.Parse(m.Groups[3].ValueSpan, CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"Loaded (\d+) partition log\(s\) from \d+ log dir\(s\) in (\d+) ms; (\d+) recovered")]
    private static partial Regex LoadPattern();
}

/// <summary>A partition whose end offset after the restart is not the acknowledged one (or that did not answer).</summary>
internal sealed record OffsetMismatch(int Partition, long Acknowledged, long? Listed, string? Error);

/// <summary>Acknowledged end offsets per partition, from the delivery reports (the offset after the highest acknowledged record).</summary>
internal sealed class AckedOffsets(int partitions)
{
    private readonly long[] _ends = new long[partitions];

    public int Partitions => _ends.Length;

    public long this[int partition] => Volatile.Read(ref _ends[partition]);

    public long Total => _ends.Sum();

    /// <summary>The partition record <paramref name="index"/> goes to: round robin, so every partition gets its share.</summary>
    public static int PartitionOf(long index, int partitions) => (int)(index % partitions);

    public void Acknowledge(int partition, long offset)
    {
        var end = offset + 1;
        var current = Volatile.Read(ref _ends[partition]);
        while (end > current)
        {
            var seen = Interlocked.CompareExchange(ref _ends[partition], end, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>
    /// The partitions whose listed end offset differs from the acknowledged one. Below it means acknowledged
    /// records were lost; above it is allowed only when some sends failed (a record the client gave up on may
    /// still have been written).
    /// </summary>
    public List<OffsetMismatch> Verify(IReadOnlyDictionary<int, (long Offset, string? Error)> listed, bool allowExtra)
    {
        var mismatches = new List<OffsetMismatch>();
        for (var p = 0; p < _ends.Length; p++)
        {
            var acked = this[p];
            if (!listed.TryGetValue(p, out var answer))
            {
                mismatches.Add(new OffsetMismatch(p, acked, null, "no answer"));
            }
            else if (answer.Error is not null)
            {
                mismatches.Add(new OffsetMismatch(p, acked, null, answer.Error));
            }
            else if (answer.Offset < acked || (answer.Offset > acked && !allowExtra))
            {
                mismatches.Add(new OffsetMismatch(p, acked, answer.Offset, answer.Offset < acked ? "acknowledged records lost" : "more records than acknowledged"));
            }
        }

        return mismatches;
    }
}

/// <summary>Everything one --recovery run measured (times in ms from the restarted process's start; bytes).</summary>
internal sealed record RecoveryReport(
    int Partitions,
    int Records,
    int RecordSize,
    long? SegmentBytes,
    IReadOnlyList<string> BrokerConfig,
    long? EmptyIdleRssBytes,
    long ProducedRecords,
    long ProduceErrors,
    string? FirstProduceError,
    double ProduceSeconds,
    long AcknowledgedRecords,
    long DataDirBytes,
    int SegmentFiles,
    long? RssBeforeKillBytes,
    bool CleanShutdownMarkerAbsent,
    double ListeningMs,
    double MetadataReadyMs,
    double UsableMs,
    double? StartupCpuSeconds,
    BrokerLoadLine? BrokerLoad,
    long? RecoveredIdleRssBytes,
    int IdleSeconds,
    IReadOnlyList<OffsetMismatch> Mismatches)
{
    /// <summary>Issue 7's targets.</summary>
    public const double TargetRecoveryMs = 10_000;

    public const long TargetIdleRssBytes = 150L * 1024 * 1024;

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    /// <summary>Every acknowledged record is there again and the broker really was killed (no clean-shutdown marker).</summary>
    public bool Recovered => CleanShutdownMarkerAbsent && Mismatches.Count == 0 && AcknowledgedRecords > 0;

    public bool RecoveryTargetMet => Recovered && UsableMs <= TargetRecoveryMs;

    public bool IdleRssTargetMet => EmptyIdleRssBytes <= TargetIdleRssBytes && RecoveredIdleRssBytes <= TargetIdleRssBytes;

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public string ToTable()
    {
        var c = CultureInfo.InvariantCulture;
        static string MiB(long? bytes) => bytes is { } b ? (b / 1048576.0).ToString("N1", CultureInfo.InvariantCulture) : "-";
        var s = new StringBuilder();
        s.AppendLine(c, $"recovery: {Records:N0} records x {RecordSize} B over {Partitions:N0} partition(s), log.segment.bytes={(SegmentBytes is { } sb ? sb.ToString("N0", c) : "default")}{(BrokerConfig.Count > 0 ? ", " + string.Join(", ", BrokerConfig) : "")}");
        void Row(string name, string value) => s.AppendLine(c, $"  {name,-42}{value,16}");
        Row("empty broker idle RSS MiB", MiB(EmptyIdleRssBytes));
        Row("produced (acknowledged) records", AcknowledgedRecords.ToString("N0", c));
        Row("produce errors", ProduceErrors.ToString("N0", c));
        Row("produce s", ProduceSeconds.ToString("N1", c));
        Row("data dir MiB / segment files", $"{MiB(DataDirBytes)} / {SegmentFiles:N0}");
        Row("RSS before kill -9 MiB", MiB(RssBeforeKillBytes));
        Row("clean-shutdown marker absent", CleanShutdownMarkerAbsent ? "yes" : "NO");
        Row("restart: listening ms", ListeningMs.ToString("N0", c));
        Row("restart: metadata has every leader ms", MetadataReadyMs.ToString("N0", c));
        Row("restart: usable (offsets verified) ms", UsableMs.ToString("N0", c));
        Row("restart: broker CPU s until usable", StartupCpuSeconds is { } cpu ? cpu.ToString("N2", c) : "-");
        Row("broker: logs loaded / recovered", BrokerLoad is { } b ? $"{b.Partitions:N0} / {b.Recovered:N0}" : "-");
        Row("broker: log load ms (its own figure)", BrokerLoad is { } l ? l.ElapsedMs.ToString("N0", c) : "-");
        Row($"recovered broker idle RSS MiB (after {IdleSeconds} s)", MiB(RecoveredIdleRssBytes));
        Row("target: usable <= 10 s", RecoveryTargetMet ? "met" : "MISSED");
        Row("target: idle RSS <= 150 MB", IdleRssTargetMet ? "met" : "MISSED");
        if (FirstProduceError is not null)
        {
            s.AppendLine(c, $"first produce error: {FirstProduceError}");
        }

        foreach (var m in Mismatches.Take(20))
        {
            s.AppendLine(c, $"LOST/WRONG: partition {m.Partition}: acknowledged end offset {m.Acknowledged}, after restart {(m.Listed is { } o ? o.ToString(c) : "-")} ({m.Error})");
        }

        if (Mismatches.Count > 20)
        {
            s.AppendLine(c, $"... and {Mismatches.Count - 20} more partition(s)");
        }

        s.AppendLine("(MB = MiB; times from the restarted process's start, including .NET startup; listening = TCP accept, after the logs are loaded)");
        return s.ToString();
    }
}

/// <summary>
/// The --recovery run: an empty broker idles (RSS), gets a topic and acks=1 data, is killed with SIGKILL, and is
/// started again on the same data dir; the restart is timed until Metadata shows every partition with a leader
/// and ListOffsets(latest) answers every acknowledged end offset.
/// </summary>
internal static class Recovery
{
    private static readonly TimeSpan UsableTimeout = TimeSpan.FromMinutes(5);

    public static async Task<RecoveryReport> RunAsync(PerfOptions options, Progress progress)
    {
        var home = await BrokerHome.CreateAsync(options.BrokerProperties);
        try
        {
            var acked = new AckedOffsets(options.Partitions);
            long? emptyRss;
            long? rssBeforeKill;
            (long Delivered, long Errors, string? FirstError, double Seconds) produce;
            await using (var first = await BrokerProcess.StartAsync(home))
            {
                progress.Phase = "idle";
                await Task.Delay(TimeSpan.FromSeconds(options.IdleSeconds));
                emptyRss = ProcStats.RssBytes(first.Pid);

                progress.Phase = "produce";
                produce = await Task.Run(() => Produce(first.Bootstrap, options, acked, progress));
                rssBeforeKill = ProcStats.RssBytes(first.Pid);
                progress.Phase = "kill -9";
                await first.KillAsync();
            }

            var (dataBytes, segmentFiles) = DataDirSize(home.LogDir);
            var markerAbsent = !File.Exists(Path.Combine(home.LogDir, ".kafka_cleanshutdown"));
            if (!markerAbsent)
            {
                throw new InvalidOperationException($"the killed broker left a clean-shutdown marker in {home.LogDir}: this would not measure recovery");
            }

            progress.Phase = "restart";
            await using var second = await BrokerProcess.StartAsync(home);
            var (metadataReady, usable, mismatches) = await WaitUntilUsableAsync(second, options, acked, produce.Errors > 0);
            var startupCpu = ProcStats.CpuSeconds(second.Pid);
            // The load line may still be in the pipe when the port answers.
            for (var i = 0; i < 50 && second.LoadLine is null; i++)
            {
                await Task.Delay(20);
            }

            progress.Phase = "idle";
            await Task.Delay(TimeSpan.FromSeconds(options.IdleSeconds));
            var recoveredRss = ProcStats.RssBytes(second.Pid);

            return new RecoveryReport(
                options.Partitions,
                options.Records,
                options.RecordSize,
                options.SegmentBytes,
                options.BrokerConfig,
                emptyRss,
                produce.Delivered,
                produce.Errors,
                produce.FirstError,
                produce.Seconds,
                acked.Total,
                dataBytes,
                segmentFiles,
                rssBeforeKill,
                markerAbsent,
                second.ListeningAfter.TotalMilliseconds,
                metadataReady.TotalMilliseconds,
                usable.TotalMilliseconds,
                startupCpu,
                BrokerLoadLine.Parse(second.LoadLine),
                recoveredRss,
                options.IdleSeconds,
                mismatches);
        }
        finally
        {
            if (options.KeepData)
            {
                Console.Error.WriteLine($"kept the broker's dir: {home.Dir}");
            }
            else
            {
                home.Delete();
            }
        }
    }

    /// <summary>Creates the topic and produces the records round robin over its partitions; the delivery reports fill <paramref name="acked"/>.</summary>
    private static async Task<(long Delivered, long Errors, string? FirstError, double Seconds)> Produce(string bootstrap, PerfOptions options, AckedOffsets acked, Progress progress)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrap,
            Acks = options.Acks == "1" ? Acks.Leader : Acks.All,
            LingerMs = options.LingerMs,
            BatchSize = options.BatchSize,
            CompressionType = Enum.Parse<CompressionType>(options.Compression, ignoreCase: true),
            EnableIdempotence = false,
        };
        using var producer = new ProducerBuilder<Null, byte[]>(config).Build();
        using (var admin = new DependentAdminClientBuilder(producer.Handle).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = options.Topic, NumPartitions = options.Partitions, ReplicationFactor = 1 }]);
        }

        long delivered = 0;
        long errors = 0;
        string? firstError = null;
        var message = new Message<Null, byte[]> { Value = new byte[options.RecordSize] };
        Random.Shared.NextBytes(message.Value);
        void OnDelivery(DeliveryReport<Null, byte[]> report)
        {
            if (report.Error.IsError)
            {
                Interlocked.Increment(ref errors);
                Interlocked.CompareExchange(ref firstError, report.Error.ToString(), null);
                return;
            }

            acked.Acknowledge(report.Partition.Value, report.Offset.Value);
            Interlocked.Increment(ref delivered);
            progress.AddProduced();
        }

        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < options.Records; i++)
        {
            var partition = new TopicPartition(options.Topic, AckedOffsets.PartitionOf(i, options.Partitions));
            while (true)
            {
                try
                {
                    producer.Produce(partition, message, OnDelivery);
                    break;
                }
                catch (ProduceException<Null, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(5));
                }
            }
        }

        producer.Flush(TimeSpan.FromMinutes(5));
        return (Interlocked.Read(ref delivered), Interlocked.Read(ref errors), firstError, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>
    /// Polls the restarted broker: Metadata until every partition has a leader, then ListOffsets(latest) until every
    /// partition answers without an error. Times are from the process start; the mismatches are the verdict.
    /// </summary>
    private static async Task<(TimeSpan MetadataReady, TimeSpan Usable, List<OffsetMismatch> Mismatches)> WaitUntilUsableAsync(
        BrokerProcess broker, PerfOptions options, AckedOffsets acked, bool allowExtra)
    {
        var config = new AdminClientConfig
        {
            BootstrapServers = broker.Bootstrap,
            // The broker is already listening: keep librdkafka's reconnect backoff from adding to the figure.
            ReconnectBackoffMs = 10,
            ReconnectBackoffMaxMs = 100,
        };
        using var admin = new AdminClientBuilder(config).Build();
        var deadline = broker.StartTimestamp + (long)(UsableTimeout.TotalSeconds * Stopwatch.Frequency);

        TimeSpan metadataReady;
        while (true)
        {
            try
            {
                var topic = admin.GetMetadata(options.Topic, TimeSpan.FromSeconds(5)).Topics.SingleOrDefault();
                if (topic is { Error.IsError: false } && topic.Partitions.Count == options.Partitions && topic.Partitions.All(p => p.Leader >= 0 && !p.Error.IsError))
                {
                    metadataReady = Stopwatch.GetElapsedTime(broker.StartTimestamp);
                    break;
                }
            }
            catch (KafkaException) when (Stopwatch.GetTimestamp() < deadline)
            {
            }

            if (Stopwatch.GetTimestamp() >= deadline)
            {
                throw new InvalidOperationException($"the restarted broker did not show every partition of {options.Topic} with a leader within {UsableTimeout}:\n{broker.Tail}");
            }

            await Task.Delay(10);
        }

        var specs = Enumerable.Range(0, options.Partitions)
            .Select(p => new TopicPartitionOffsetSpec { TopicPartition = new TopicPartition(options.Topic, p), OffsetSpec = OffsetSpec.Latest() })
            .ToList();
        var listOptions = new ListOffsetsOptions { RequestTimeout = TimeSpan.FromSeconds(30) };
        while (true)
        {
            IEnumerable<ListOffsetsResultInfo> infos;
            try
            {
                infos = (await admin.ListOffsetsAsync(specs, listOptions)).ResultInfos;
            }
            catch (ListOffsetsException e)
            {
                infos = e.Result.ResultInfos;
            }
            catch (KafkaException) when (Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(10);
                continue;
            }

            var listed = infos.ToDictionary(
                i => i.TopicPartitionOffsetError.Partition.Value,
                i => (i.TopicPartitionOffsetError.Offset.Value, i.TopicPartitionOffsetError.Error.IsError ? i.TopicPartitionOffsetError.Error.ToString() : null));
            var usable = Stopwatch.GetElapsedTime(broker.StartTimestamp);
            var mismatches = acked.Verify(listed, allowExtra);
            // An error answer (e.g. not ready yet) is retried; a wrong offset is the verdict: the logs are loaded before the port opens.
            if (mismatches.All(m => m.Listed is not null) || Stopwatch.GetTimestamp() >= deadline)
            {
                return (metadataReady, usable, mismatches);
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Bytes of the segment files (*.log) under the log dir and how many there are.</summary>
    private static (long Bytes, int Files) DataDirSize(string logDir)
    {
        var logs = new DirectoryInfo(logDir).EnumerateFiles("*.log", SearchOption.AllDirectories).ToList();
        return (logs.Sum(f => f.Length), logs.Count);
    }
}
