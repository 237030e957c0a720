using System.Buffers;
using BenchmarkDotNet.Attributes;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Benchmarks;

/// <summary>
/// flush.messages=1 with <see cref="Appenders"/> concurrent appenders (in-flight produce requests) writing
/// <see cref="Appends"/> one-record 1 KiB batches to one log, each acknowledged only once on disk.
/// FsyncPerAppend is the behaviour before group commit (every append fsyncs while holding the log, so appends
/// queue behind each other's fsyncs); GroupCommit waits for <see cref="PartitionLog.WaitForFlushAsync"/>, which
/// shares one fsync among the appends that arrived while the previous one ran. Real fsyncs: the figures depend on the disk.
/// Run: dotnet run -c Release --project tools/KafkaCompatBroker.Benchmarks -- --filter '*GroupCommit*' --job short
/// </summary>
[MemoryDiagnoser]
public class GroupCommitBenchmarks
{
    private const int Appends = 1024;
    private readonly object _serial = new();
    private byte[] _batch = [];
    private string _root = "";
    private PartitionLog? _log;

    [Params(1, 8, 64)]
    public int Appenders { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        using var builder = new RecordBatchBuilder(CompressionType.None);
        builder.Append(1_700_000_000_000, new byte[16], new byte[1024]);
        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        _batch = output.WrittenSpan.ToArray();
        _root = Path.Combine(Path.GetTempPath(), "kcb-bench-groupcommit-" + Guid.NewGuid().ToString("N"));
        _log = PartitionLog.Open(Path.Combine(_root, "bench-0"), new TopicPartition("bench", 0), new LogConfig { FlushMessages = 1 }, default, cleanShutdown: true, NullLogger.Instance);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _log?.Close();
        Directory.Delete(_root, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public Task FsyncPerAppend() => RunAsync(() =>
    {
        lock (_serial)
        {
            _log!.Append(new ReadOnlySequence<byte>(_batch));
        }

        return ValueTask.CompletedTask;
    });

    [Benchmark]
    public Task GroupCommit() => RunAsync(() =>
    {
        var result = _log!.AppendWithoutFlush(new ReadOnlySequence<byte>(_batch));
        return result.FlushRequired ? _log.WaitForFlushAsync(result.LastOffset + 1) : ValueTask.CompletedTask;
    });

    private Task RunAsync(Func<ValueTask> append)
    {
        var remaining = Appends;
        var appenders = new Task[Appenders];
        for (var i = 0; i < appenders.Length; i++)
        {
            appenders[i] = Task.Run(async () =>
            {
                while (Interlocked.Decrement(ref remaining) >= 0)
                {
                    await append();
                }
            });
        }

        return Task.WhenAll(appenders);
    }
}
