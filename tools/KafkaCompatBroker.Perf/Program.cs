using KafkaCompatBroker.Perf;

// Perf tool (issue 7): see PerfOptions.Usage.
PerfOptions options;
try
{
    options = PerfOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(PerfOptions.Usage);
    return 2;
}

var progressLine = new ProgressLine(options.Records);
var showing = options.Quiet ? Task.CompletedTask : progressLine.ShowAsync();

if (options.Recovery)
{
    progressLine.Target = "recovery";
    progressLine.Current = new Progress();
    var recovery = await Recovery.RunAsync(options, progressLine.Current);
    await progressLine.StopAsync(showing);
    Console.Write(recovery.ToTable());
    if (options.JsonFile is { } recoveryJson)
    {
        await File.WriteAllTextAsync(recoveryJson, recovery.ToJson());
    }

    // Exit 3 when an acknowledged record is missing after the restart (the table lists the partitions).
    return recovery.Recovered ? 0 : 3;
}

TargetResult? ours = null;
TargetResult? mock = null;
MachineLimits? limits = null;
if (options.StartBroker)
{
    await using var broker = await BrokerProcess.StartAsync(extraProperties: options.BrokerProperties);
    ours = await RunMeasuredAsync("ours", broker.Bootstrap, broker.Pid);
    limits = await MeasureLimitsAsync(options.DataDir ?? broker.DataDir);
}
else if (options.Bootstrap is { } bootstrap)
{
    ours = await RunMeasuredAsync("ours", bootstrap, options.BrokerPid);
}

if (options.Mock || options.Compare)
{
    using var cluster = new MockCluster(options.Topic, options.Partitions);
    if (options.Warmup > 0)
    {
        cluster.CreateTopic(WarmupOptions().Topic, options.Partitions);
    }

    mock = await RunMeasuredAsync("mock", cluster.Bootstrap, null, createTopic: false);
}

limits ??= await MeasureLimitsAsync(options.DataDir ?? Path.GetTempPath());

await progressLine.StopAsync(showing);

var report = PerfReport.For(options, ours, mock, limits);
Console.Write(report.ToTable());
if (options.JsonFile is { } json)
{
    await File.WriteAllTextAsync(json, report.ToJson());
}

// Exit 3 when records went missing (the mock's consume-back is short by design: it keeps only the last 5 MiB).
var complete = new[] { ours, mock }.OfType<TargetResult>()
    .All(t => t.Workload.Produce.Records == options.Records && (t == mock || t.Workload.Consume.Records == options.Records));
return complete ? 0 : 3;

async Task<TargetResult> RunMeasuredAsync(string target, string bootstrap, int? pid, bool createTopic = true)
{
    progressLine.Target = target;
    if (options.Warmup > 0)
    {
        // Unmeasured: the broker's JIT tiers up and the client's code paths run once before the figures count.
        progressLine.Current = new Progress { Phase = "warmup" };
        await Workload.RunAsync(bootstrap, WarmupOptions(), progressLine.Current, createTopic);
    }

    var progress = new Progress();
    progressLine.Current = progress;
    CpuSample Sample() => new(pid is { } p ? ProcStats.CpuSeconds(p) : null, Environment.CpuUsage.TotalTime.TotalSeconds);
    var before = Sample();
    var workload = await Workload.RunAsync(bootstrap, options, progress, createTopic, Sample);
    var used = Sample() - before;
    return new TargetResult(target, workload, used.Broker, pid is { } r ? ProcStats.PeakRssBytes(r) : null);
}

PerfOptions WarmupOptions() => options with { Records = options.Warmup, Topic = options.Topic + "-warmup", Rate = null };

async Task<MachineLimits?> MeasureLimitsAsync(string diskDir)
{
    if (options.SkipLimits)
    {
        return null;
    }

    progressLine.Current = new Progress { Phase = "limits" };
    return new MachineLimits(await MachineLimits.LoopbackTcpAsync(TimeSpan.FromSeconds(1)), MachineLimits.DiskWrite(diskDir), diskDir);
}
