using System.Diagnostics;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace KafkaCompatBroker.Perf;

/// <summary>Latency percentiles in milliseconds.</summary>
internal sealed record LatencySummary(double P50Ms, double P99Ms, double P999Ms, double MaxMs)
{
    /// <summary>Nearest-rank percentiles of <paramref name="ms"/> (sorted in place); zeros when empty.</summary>
    public static LatencySummary Of(double[] ms)
    {
        if (ms.Length == 0)
        {
            return new LatencySummary(0, 0, 0, 0);
        }

        Array.Sort(ms);
        double At(double p) => ms[Math.Clamp((int)Math.Ceiling(p * ms.Length) - 1, 0, ms.Length - 1)];
        return new LatencySummary(At(0.50), At(0.99), At(0.999), ms[^1]);
    }
}

/// <summary>One phase's figures: how many records arrived, how fast, and their latency.</summary>
internal sealed record PhaseResult(long Records, long Bytes, double Seconds, double RecordsPerSec, double MBPerSec, LatencySummary Latency)
{
    public static PhaseResult Of(long records, long bytes, double seconds, double[] latencyMs) => new(
        records,
        bytes,
        seconds,
        seconds > 0 ? records / seconds : 0,
        seconds > 0 ? bytes / 1048576.0 / seconds : 0,
        LatencySummary.Of(latencyMs));
}

/// <summary>CPU seconds used so far by the broker process (null when it cannot be read) and by this client process.</summary>
internal readonly record struct CpuSample(double? Broker, double Client)
{
    public static CpuSample operator -(CpuSample a, CpuSample b) => new(a.Broker - b.Broker, a.Client - b.Client);
}

/// <summary>
/// What the workload measured. Produce: send() to delivery report per record. EndToEnd: a consumer tailing the
/// topic while the producer runs (consume time − send time, carried in the record key, microsecond resolution).
/// Consume: reading every record back from the start after the produce phase (throughput of an already written
/// log, timed from the first record received). ProduceCpu / ConsumeCpu: CPU used during each phase (the produce
/// phase includes serving the tailing consumer).
/// </summary>
internal sealed record WorkloadResult(
    PhaseResult Produce,
    PhaseResult EndToEnd,
    PhaseResult Consume,
    long ProduceErrors,
    string? FirstError,
    CpuSample ProduceCpu = default,
    CpuSample ConsumeCpu = default);

/// <summary>Live counters the progress line reads.</summary>
internal sealed class Progress
{
    private long _produced;
    private long _consumed;

    public string Phase { get; set; } = "setup";

    public long Produced => Interlocked.Read(ref _produced);

    public long Consumed => Interlocked.Read(ref _consumed);

    public void AddProduced() => Interlocked.Increment(ref _produced);

    public void SetConsumed(long value) => Interlocked.Exchange(ref _consumed, value);
}

/// <summary>The live progress line on stderr (\r, once a second): phase, records done, current rate.</summary>
internal sealed class ProgressLine(int records)
{
    private readonly CancellationTokenSource _stop = new();

    public string Target { get; set; } = "";

    public Progress Current { get; set; } = new();

    public async Task ShowAsync()
    {
        var start = Stopwatch.GetTimestamp();
        long last = 0;
        var lastPhase = "";
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var current = Current;
                var phase = current.Phase;
                var done = phase == "consume" ? current.Consumed : current.Produced;
                var rate = phase == lastPhase ? done - last : 0;
                (last, lastPhase) = (done, phase);
                Console.Error.Write($"\r[{Target}] {phase,-8} {done,12:N0}/{records:N0} {rate,10:N0} rec/s {Stopwatch.GetElapsedTime(start).TotalSeconds,6:N0} s  ");
            }
        }
        catch (OperationCanceledException)
        {
        }

        Console.Error.Write("\r" + new string(' ', 80) + "\r");
    }

    public async Task StopAsync(Task showing)
    {
        await _stop.CancelAsync();
        await showing;
        _stop.Dispose();
    }
}

/// <summary>The Confluent.Kafka workload: create the topic, produce N records of S bytes, consume them back.</summary>
internal static class Workload
{
    /// <summary>How long a consumer may see nothing new before it gives up (the counts then show the shortfall).</summary>
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Runs against <paramref name="bootstrap"/>; creates the topic with the asked-for partitions unless
    /// <paramref name="createTopic"/> is false (the mock cluster, whose topic <see cref="MockCluster"/> creates).
    /// <paramref name="sampleCpu"/> is read at the phase boundaries.
    /// </summary>
    public static async Task<WorkloadResult> RunAsync(string bootstrap, PerfOptions options, Progress progress, bool createTopic = true, Func<CpuSample>? sampleCpu = null, CancellationToken cancellationToken = default)
    {
        sampleCpu ??= () => new CpuSample(null, Environment.CpuUsage.TotalTime.TotalSeconds);
        var producerConfig = new ProducerConfig
        {
            BootstrapServers = bootstrap,
            Acks = options.Acks switch { "0" => Acks.None, "1" => Acks.Leader, _ => Acks.All },
            LingerMs = options.LingerMs,
            BatchSize = options.BatchSize,
            CompressionType = Enum.Parse<CompressionType>(options.Compression, ignoreCase: true),
            EnableIdempotence = false,
        };
        using var producer = new ProducerBuilder<byte[], byte[]>(producerConfig).Build();
        if (createTopic)
        {
            using var admin = new DependentAdminClientBuilder(producer.Handle).Build();
            await admin.CreateTopicsAsync([new TopicSpecification
            {
                Name = options.Topic,
                NumPartitions = options.Partitions,
                ReplicationFactor = 1,
                Configs = new Dictionary<string, string>(options.TopicConfigs),
            }]);
        }

        // The tailing consumer is assigned before the first record is sent, so it sees each record as it arrives.
        progress.Phase = "produce";
        using var produced = new CancellationTokenSource();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tail = options.EndToEnd
            ? StartConsumer(bootstrap, options, progress, produced.Token, endToEnd: true, cancellationToken, ready)
            : Task.FromResult(PhaseResult.Of(0, 0, 0, []));
        if (options.EndToEnd)
        {
            await ready.Task;
        }

        var atStart = sampleCpu();
        var (produce, errors, firstError) = await Task.Run(() => Produce(producer, options, progress), cancellationToken);
        await produced.CancelAsync();
        var endToEnd = await tail;
        var atProduced = sampleCpu();

        progress.Phase = "consume";
        progress.SetConsumed(0);
        var consume = await StartConsumer(bootstrap, options, progress, produced.Token, endToEnd: false, cancellationToken);
        var atEnd = sampleCpu();
        return new WorkloadResult(produce, endToEnd, consume, errors, firstError, atProduced - atStart, atEnd - atProduced);
    }

    private static (PhaseResult Result, long Errors, string? FirstError) Produce(IProducer<byte[], byte[]> producer, PerfOptions options, Progress progress)
    {
        var n = options.Records;
        var sentAt = new long[n];
        var latencyMs = new double[n];
        long delivered = 0;
        long errors = 0;
        string? firstError = null;
        // The key carries the send time for the end-to-end latency; Produce copies key and value into
        // librdkafka, so one key array is rewritten per record.
        var message = new Message<byte[], byte[]> { Key = new byte[sizeof(long)], Value = new byte[options.RecordSize] };
        Random.Shared.NextBytes(message.Value);
        var textValues = options.Values == "text" ? TextValues.CreatePool(4096, options.RecordSize, seed: 42) : null;

        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++)
        {
            if (options.Rate is { } rate)
            {
                // Pace by schedule, not by gaps, so a slow moment is caught up rather than lost.
                var due = start + (long)(i * (double)Stopwatch.Frequency / rate);
                while (Stopwatch.GetTimestamp() < due)
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                    Thread.Sleep(wait > TimeSpan.FromMilliseconds(2) ? wait - TimeSpan.FromMilliseconds(1) : TimeSpan.Zero);
                }
            }

            var index = i;
            sentAt[i] = Stopwatch.GetTimestamp();
            BitConverter.TryWriteBytes(message.Key, sentAt[i]);
            if (textValues is not null)
            {
                message.Value = textValues[i % textValues.Length];
            }

            while (true)
            {
                try
                {
                    producer.Produce(options.Topic, message, report =>
                    {
                        if (report.Error.IsError)
                        {
                            Interlocked.Increment(ref errors);
                            Interlocked.CompareExchange(ref firstError, report.Error.ToString(), null);
                            return;
                        }

                        latencyMs[Interlocked.Increment(ref delivered) - 1] = Stopwatch.GetElapsedTime(sentAt[index]).TotalMilliseconds;
                        progress.AddProduced();
                    });
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(5));
                }
            }
        }

        // Whatever is still queued after two minutes is counted as not delivered (the counts then show it).
        producer.Flush(TimeSpan.FromMinutes(2));

        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var count = Interlocked.Read(ref delivered);
        return (PhaseResult.Of(count, count * options.RecordSize, seconds, latencyMs[..(int)count]), Interlocked.Read(ref errors), firstError);
    }

    /// <summary>
    /// Reads from the start of every partition until it has all records, or every partition is at its end once
    /// <paramref name="produced"/> is set (the mock keeps only the tail of each partition), or nothing new came for
    /// <see cref="IdleTimeout"/>.
    /// </summary>
    private static Task<PhaseResult> StartConsumer(string bootstrap, PerfOptions options, Progress progress, CancellationToken produced, bool endToEnd, CancellationToken cancellationToken, TaskCompletionSource? ready = null)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "kcb-perf-unused",
            EnableAutoCommit = false,
            EnablePartitionEof = true,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
        consumer.Assign(Enumerable.Range(0, options.Partitions).Select(p => new TopicPartitionOffset(options.Topic, p, Offset.Beginning)));
        return Task.Run(
            () =>
            {
                using (consumer)
                {
                    var latencyMs = new List<double>(endToEnd ? options.Records : 0);
                    var atEnd = new bool[options.Partitions];
                    long count = 0;
                    long bytes = 0;
                    // The tailing consumer first reaches the end of the empty topic (fetch positions known,
                    // connections up), so latency counts from a consumer that is already waiting.
                    if (ready is not null)
                    {
                        var readyBy = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
                        while (!atEnd.All(e => e) && Stopwatch.GetTimestamp() < readyBy)
                        {
                            if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { IsPartitionEOF: true } eof)
                            {
                                atEnd[eof.Partition.Value] = true;
                            }
                        }

                        Array.Clear(atEnd);
                        ready.TrySetResult();
                    }

                    var start = Stopwatch.GetTimestamp();
                    var lastProgress = start;
                    while (count < options.Records && !cancellationToken.IsCancellationRequested)
                    {
                        var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
                        if (result is null || result.IsPartitionEOF)
                        {
                            if (result is not null)
                            {
                                atEnd[result.Partition.Value] = true;
                            }

                            if ((produced.IsCancellationRequested && atEnd.All(e => e)) || Stopwatch.GetElapsedTime(lastProgress) > IdleTimeout)
                            {
                                break;
                            }

                            continue;
                        }

                        lastProgress = Stopwatch.GetTimestamp();
                        if (count == 0 && !endToEnd)
                        {
                            // Read-back throughput counts from the first record: connecting and the offset
                            // lookup are a fixed cost that would dominate short runs.
                            start = lastProgress;
                        }

                        atEnd[result.Partition.Value] = false;
                        count++;
                        bytes += result.Message.Value?.Length ?? 0;
                        if (endToEnd && result.Message.Key is { Length: sizeof(long) } key)
                        {
                            latencyMs.Add(Stopwatch.GetElapsedTime(BitConverter.ToInt64(key)).TotalMilliseconds);
                        }
                        else
                        {
                            progress.SetConsumed(count);
                        }
                    }

                    var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                    consumer.Close();
                    return PhaseResult.Of(count, bytes, seconds, [.. latencyMs]);
                }
            },
            cancellationToken);
    }
}
