using System.Buffers;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Benchmarks;

/// <summary>
/// The partition log against a plain <see cref="FileStream"/> moving the same bytes: appending
/// <see cref="BatchCount"/> batches of 16 × 1 KiB records (~132 MiB per operation) to a fresh log/file,
/// and reading them back sequentially in 1 MiB fetches. The log runs with its default flush policy
/// (no fsync), the same durability as the FileStream; unlike the FileStream it checks every batch's
/// CRC32C, so it reads each batch twice. <see cref="SourceBatches"/> is how many distinct batches the
/// appends cycle through: 64 (1 MiB, cache-resident, like a produce request just received) or
/// <see cref="BatchCount"/> (every batch comes from DRAM). Ratio = log time / FileStream time, so the
/// append target "≥ 80% of FileStream's rate" is Ratio ≤ 1.25; the MB/s column is bytes / median time
/// (the median resists the noise of a shared machine better than the mean).
/// Run: dotnet run -c Release --project tools/KafkaCompatBroker.Benchmarks -- --filter '*StorageBenchmarks*' --job short
/// </summary>
[MemoryDiagnoser]
[Config(typeof(ThroughputConfig))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class StorageBenchmarks
{
    public const int BatchCount = 8192;
    private const int RecordsPerBatch = 16;
    private const int RecordSize = 1024;
    private const int FetchBytes = 1024 * 1024;
    private static readonly TopicPartition Partition = new("bench", 0);

    private byte[][] _batches = [];
    private byte[][] _sources = [];
    private byte[] _readBuffer = [];
    private string _root = "";
    private string _appendDirectory = "";
    private string _readFile = "";
    private PartitionLog? _readLog;
    private FileStream? _appendFile;
    private PartitionLog? _appendLog;

    /// <summary>Bytes one operation appends or reads (every batch has the same size).</summary>
    public static long BytesPerOperation { get; } = (long)MakeBatch(new Random(0)).Length * BatchCount;

    private static byte[] MakeBatch(Random random)
    {
        using var builder = new RecordBatchBuilder(CompressionType.None, producerId: 1000, producerEpoch: 0, baseSequence: 0);
        var key = new byte[16];
        var value = new byte[RecordSize];
        for (var i = 0; i < RecordsPerBatch; i++)
        {
            random.NextBytes(key);
            random.NextBytes(value);
            builder.Append(1_700_000_000_000 + i, key, value);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    [Params(64, BatchCount)]
    public int SourceBatches { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _sources = new byte[SourceBatches][];
        for (var i = 0; i < SourceBatches; i++)
        {
            _sources[i] = MakeBatch(random);
        }

        _batches = new byte[BatchCount][];
        for (var i = 0; i < BatchCount; i++)
        {
            _batches[i] = _sources[i % SourceBatches];
        }

        _readBuffer = new byte[FetchBytes];
        _root = Path.Combine(Path.GetTempPath(), "kcb-storage-bench-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_root);

        // The read side: the same batches once in a plain file and once in a log.
        _readFile = Path.Combine(_root, "plain.bin");
        using (var file = new FileStream(_readFile, FileMode.CreateNew, FileAccess.Write))
        {
            foreach (var batch in _batches)
            {
                file.Write(batch);
            }
        }

        _readLog = PartitionLog.Open(Path.Combine(_root, "read", Partition.DirectoryName), Partition, LogConfig.Default, default, cleanShutdown: true, NullLogger.Instance);
        foreach (var batch in _batches)
        {
            _readLog.Append(new ReadOnlySequence<byte>(batch));
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _readLog?.DeleteFromDisk();
        Directory.Delete(_root, recursive: true);
    }

    // ------------------------------------------------------------------ append

    [IterationSetup(Target = nameof(FileStreamAppend))]
    public void SetupFileStreamAppend()
    {
        _appendDirectory = NewDirectory();
        _appendFile = new FileStream(Path.Combine(_appendDirectory, "plain.bin"), FileMode.CreateNew, FileAccess.Write);
    }

    [IterationSetup(Target = nameof(PartitionLogAppend))]
    public void SetupPartitionLogAppend()
    {
        _appendDirectory = NewDirectory();
        _appendLog = PartitionLog.Open(Path.Combine(_appendDirectory, Partition.DirectoryName), Partition, LogConfig.Default, default, cleanShutdown: true, NullLogger.Instance);
    }

    [IterationCleanup(Targets = [nameof(FileStreamAppend), nameof(PartitionLogAppend)])]
    public void CleanupAppend()
    {
        _appendFile?.Dispose();
        _appendFile = null;
        _appendLog?.DeleteFromDisk(); // closes without the fsync of a clean shutdown
        _appendLog = null;
        Directory.Delete(_appendDirectory, recursive: true);
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Append")]
    public long FileStreamAppend()
    {
        var file = _appendFile!;
        foreach (var batch in _batches)
        {
            file.Write(batch);
        }

        file.Flush(); // into the page cache, like the log's writes
        return file.Position;
    }

    [Benchmark]
    [BenchmarkCategory("Append")]
    public long PartitionLogAppend()
    {
        var log = _appendLog!;
        foreach (var batch in _batches)
        {
            log.Append(new ReadOnlySequence<byte>(batch));
        }

        return log.LogEndOffset;
    }

    // ------------------------------------------------------------------ sequential read

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Read")]
    public long FileStreamRead()
    {
        using var file = new FileStream(_readFile, FileMode.Open, FileAccess.Read);
        long total = 0;
        int n;
        while ((n = file.Read(_readBuffer)) > 0)
        {
            total += n;
        }

        return total;
    }

    /// <summary>Consumer-style: fetches of up to 1 MiB from the next offset, each region copied into the buffer.</summary>
    [Benchmark]
    [BenchmarkCategory("Read")]
    public long PartitionLogRead()
    {
        var log = _readLog!;
        var end = log.LogEndOffset;
        var offset = 0L;
        long total = 0;
        while (offset < end)
        {
            var region = log.Read(offset, FetchBytes, end, minOneBatch: true).Region!.Value;
            var bytes = _readBuffer.AsSpan(0, region.Length);
            region.CopyTo(bytes);
            total += region.Length;
            offset = NextOffsetAfterWholeBatches(bytes, offset);
        }

        return total;
    }

    /// <summary>Where the next fetch starts: after the last whole batch (a fetch may end in a partial one).</summary>
    private static long NextOffsetAfterWholeBatches(ReadOnlySpan<byte> bytes, long offset)
    {
        var position = 0;
        while (position + RecordBatchHeader.Size <= bytes.Length)
        {
            var header = RecordBatchHeader.Read(bytes[position..]);
            if (position + header.TotalSize > bytes.Length)
            {
                break;
            }

            offset = header.NextOffset;
            position += header.TotalSize;
        }

        return offset;
    }

    private string NewDirectory()
    {
        var directory = Path.Combine(_root, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>Adds the median and the MB/s column (bytes per operation / median time).</summary>
    private sealed class ThroughputConfig : ManualConfig
    {
        public ThroughputConfig() => AddColumn(StatisticColumn.Median, new ThroughputColumn());
    }

    private sealed class ThroughputColumn : IColumn
    {
        public string Id => nameof(ThroughputColumn);

        public string ColumnName => "MB/s";

        public bool AlwaysShow => true;

        public ColumnCategory Category => ColumnCategory.Custom;

        public int PriorityInCategory => 0;

        public bool IsNumeric => true;

        public UnitType UnitType => UnitType.Dimensionless;

        public string Legend => "Throughput: bytes per operation / median time, in 10^6 bytes per second";

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var median = summary[benchmarkCase]?.ResultStatistics?.Median;
            return median is > 0 ? (BytesPerOperation / (median.Value / 1e9) / 1e6).ToString("N0", System.Globalization.CultureInfo.InvariantCulture) : "-";
        }
    }
}
