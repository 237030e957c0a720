using System.Globalization;

namespace KafkaCompatBroker.Perf;

/// <summary>The workload and where to run it; parsed from the command line (see <see cref="Usage"/>).</summary>
internal sealed record PerfOptions
{
    public const string Usage = """
        usage: KafkaCompatBroker.Perf (--start-broker | --bootstrap host:port [--broker-pid PID] | --mock | --recovery) [--compare] [options]
          --start-broker         start src/KafkaCompatBroker.Server as a child on a free port with a temp data dir
          --bootstrap host:port  an already running broker (CPU/RSS from --broker-pid when given)
          --mock                 run against librdkafka's mock cluster only (test.mock.num.brokers=1)
          --compare              also run the same workload against the mock cluster and print ratios
          --records N            records to produce (default 100000)
          --record-size S        value bytes per record (default 1024)
          --partitions T         partitions of the topic (default 1)
          --acks A               0, 1 or all (default 1)
          --linger-ms L          producer linger.ms (default 5)
          --batch-size B         producer batch.size in bytes (default 1000000)
          --compression C        none, gzip, snappy, lz4, zstd (default none)
          --values V             random: one random value sent for every record (default); text: JSON-like
                                 text values, 4,096 distinct ones in turn (compress like application events)
          --topic NAME           topic name (default perf-<random>; created with T partitions)
          --topic-config K=V     a config of the created topic, e.g. flush.messages=1 (repeatable; not for --mock)
          --rate R               throttle the producer to R records/s (default: unthrottled)
          --warmup N             first run N records on a separate topic, unmeasured (JIT and connections warm)
          --no-end-to-end        no tailing consumer during the produce phase (produce-only broker cost)
          --data-dir DIR         where the disk-throughput probe writes (default: the broker's data dir or temp)
          --skip-limits          skip the loopback and disk probes
          --json FILE            write every figure as JSON
          --quiet                no progress line
          --recovery             kill -9 recovery: start the broker as a child, produce (acks=1, every partition its
                                 share), SIGKILL it, restart it on the same data dir and time it until Metadata shows
                                 every leader and ListOffsets answers every acknowledged end offset; idle RSS of the
                                 empty and of the recovered broker (defaults: --partitions 1000 --total-bytes 1GiB)
          --total-bytes N        produce N bytes of values instead of --records (suffix K, M or G: KiB, MiB, GiB)
          --segment-bytes N      the broker's log.segment.bytes (suffix K, M or G)
          --broker-config k=v    another server.properties line for a started broker (repeatable)
          --idle-seconds S       how long a broker idles before its RSS is read (default 5; --recovery)
          --keep-data            keep the broker's dir (server.properties and data) after --recovery and print it
        """;

    public string? Bootstrap { get; init; }

    public int? BrokerPid { get; init; }

    public bool StartBroker { get; init; }

    public bool Mock { get; init; }

    public bool Compare { get; init; }

    public int Records { get; init; } = 100_000;

    public int RecordSize { get; init; } = 1024;

    public int Partitions { get; init; } = 1;

    public string Acks { get; init; } = "1";

    public int LingerMs { get; init; } = 5;

    public int BatchSize { get; init; } = 1_000_000;

    public string Compression { get; init; } = "none";

    /// <summary>Record values: "random" (one random value for every record) or "text" (<see cref="TextValues"/>).</summary>
    public string Values { get; init; } = "random";

    public string Topic { get; init; } = "perf-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Configs the topic is created with (--topic-config key=value, repeatable).</summary>
    public IReadOnlyDictionary<string, string> TopicConfigs { get; init; } = new Dictionary<string, string>();

    public int? Rate { get; init; }

    public int Warmup { get; init; }

    public bool EndToEnd { get; init; } = true;

    public string? DataDir { get; init; }

    public bool SkipLimits { get; init; }

    public string? JsonFile { get; init; }

    public bool Quiet { get; init; }

    public bool Recovery { get; init; }

    /// <summary>Overrides <see cref="Records"/>: the records whose values add up to this many bytes (rounded up).</summary>
    public long? TotalBytes { get; init; }

    public long? SegmentBytes { get; init; }

    /// <summary>Extra server.properties lines (key=value) for a broker this tool starts; they replace the tool's own.</summary>
    public IReadOnlyList<string> BrokerConfig { get; init; } = [];

    public int IdleSeconds { get; init; } = 5;

    public bool KeepData { get; init; }

    /// <summary>The server.properties lines this run adds to a started broker's own (<see cref="BrokerConfig"/> and --segment-bytes).</summary>
    public IReadOnlyList<string> BrokerProperties =>
        SegmentBytes is { } segment ? [$"log.segment.bytes={segment.ToString(CultureInfo.InvariantCulture)}", .. BrokerConfig] : BrokerConfig;

    /// <summary>
    /// A byte count: digits with an optional binary suffix K/KB/KiB, M/MB/MiB, G/GB/GiB (any case); null when it is not one.
    /// </summary>
    public static long? ParseBytes(string text)
    {
        var t = text.Trim().ToUpperInvariant();
        var digits = 0;
        while (digits < t.Length && char.IsAsciiDigit(t[digits]))
        {
            digits++;
        }

        long unit = t[digits..] switch
        {
            "" or "B" => 1,
            "K" or "KB" or "KIB" => 1L << 10,
            "M" or "MB" or "MIB" => 1L << 20,
            "G" or "GB" or "GIB" => 1L << 30,
            _ => 0,
        };
        if (digits == 0 || unit == 0 || !long.TryParse(t[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n > long.MaxValue / unit)
        {
            return null;
        }

        return n * unit;
    }

    /// <summary>Parses the command line; throws <see cref="ArgumentException"/> with the problem.</summary>
    public static PerfOptions Parse(IReadOnlyList<string> args)
    {
        var o = new PerfOptions();
        var partitionsGiven = false;
        var recordsGiven = false;
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            int Int() => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
                ? v : throw new ArgumentException($"{name} needs a non-negative integer");
            long Bytes() => ParseBytes(Value()) is { } v && v > 0 ? v : throw new ArgumentException($"{name} needs a positive byte count (e.g. 1048576, 512M, 1G)");
            partitionsGiven |= name == "--partitions";
            recordsGiven |= name == "--records";
            o = name switch
            {
                "--bootstrap" => o with { Bootstrap = Value() },
                "--broker-pid" => o with { BrokerPid = Int() },
                "--start-broker" => o with { StartBroker = true },
                "--mock" => o with { Mock = true },
                "--compare" => o with { Compare = true },
                "--records" => o with { Records = Int() },
                "--record-size" => o with { RecordSize = Int() },
                "--partitions" => o with { Partitions = Int() },
                "--acks" => o with { Acks = Value() },
                "--linger-ms" => o with { LingerMs = Int() },
                "--batch-size" => o with { BatchSize = Int() },
                "--compression" => o with { Compression = Value() },
                "--values" => o with { Values = Value() },
                "--topic" => o with { Topic = Value() },
                "--topic-config" => o with { TopicConfigs = WithTopicConfig(o.TopicConfigs, Value()) },
                "--rate" => o with { Rate = Int() },
                "--warmup" => o with { Warmup = Int() },
                "--no-end-to-end" => o with { EndToEnd = false },
                "--data-dir" => o with { DataDir = Value() },
                "--skip-limits" => o with { SkipLimits = true },
                "--json" => o with { JsonFile = Value() },
                "--quiet" => o with { Quiet = true },
                "--recovery" => o with { Recovery = true },
                "--total-bytes" => o with { TotalBytes = Bytes() },
                "--segment-bytes" => o with { SegmentBytes = Bytes() },
                "--broker-config" => o with { BrokerConfig = [.. o.BrokerConfig, Value() is var line && line.IndexOf('=', StringComparison.Ordinal) > 0 ? line : throw new ArgumentException("--broker-config needs key=value")] },
                "--idle-seconds" => o with { IdleSeconds = Int() },
                "--keep-data" => o with { KeepData = true },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        var targets = (o.Bootstrap is null ? 0 : 1) + (o.StartBroker ? 1 : 0) + (o.Mock ? 1 : 0) + (o.Recovery ? 1 : 0);
        if (targets != 1)
        {
            throw new ArgumentException("give exactly one of --start-broker, --bootstrap, --mock or --recovery");
        }

        if (o.Compare && (o.Mock || o.Recovery))
        {
            throw new ArgumentException("--compare runs our broker and the mock: use it with --start-broker or --bootstrap");
        }

        if (o.Recovery)
        {
            if (o.Acks == "0")
            {
                throw new ArgumentException("--recovery needs acknowledged writes: --acks 1 or all");
            }

            // Issue 7's recovery target: 1,000 partitions holding 1 GB.
            o = o with { Partitions = partitionsGiven ? o.Partitions : 1000, TotalBytes = o.TotalBytes ?? (recordsGiven ? null : 1L << 30) };
        }

        if (o.TotalBytes is { } total)
        {
            if (recordsGiven)
            {
                throw new ArgumentException("give --records or --total-bytes, not both");
            }

            var records = o.RecordSize == 0 ? 0 : (total + o.RecordSize - 1) / o.RecordSize;
            o = o with { Records = records is > 0 and <= int.MaxValue ? (int)records : throw new ArgumentException("--total-bytes / --record-size must give 1 to 2^31-1 records") };
        }

        if (o.Acks is not ("0" or "1" or "all" or "-1"))
        {
            throw new ArgumentException("--acks must be 0, 1 or all");
        }

        if (o.Values is not ("random" or "text"))
        {
            throw new ArgumentException("--values must be random or text");
        }

        if (o.Compression is not ("none" or "gzip" or "snappy" or "lz4" or "zstd"))
        {
            throw new ArgumentException("--compression must be none, gzip, snappy, lz4 or zstd");
        }

        if (o.Records == 0 || o.Partitions == 0 || o.Rate == 0)
        {
            throw new ArgumentException("--records, --partitions and --rate must be positive");
        }

        if (o.Mock && o.TopicConfigs.Count > 0)
        {
            throw new ArgumentException("--topic-config needs a broker that creates the topic: librdkafka's mock cluster takes no topic configs");
        }

        return o;
    }

    private static Dictionary<string, string> WithTopicConfig(IReadOnlyDictionary<string, string> configs, string pair)
    {
        var equals = pair.IndexOf('=', StringComparison.Ordinal);
        if (equals <= 0)
        {
            throw new ArgumentException($"--topic-config needs key=value, not '{pair}'");
        }

        return new Dictionary<string, string>(configs) { [pair[..equals]] = pair[(equals + 1)..] };
    }
}
