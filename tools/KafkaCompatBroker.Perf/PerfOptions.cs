using System.Globalization;

namespace KafkaCompatBroker.Perf;

/// <summary>The workload and where to run it; parsed from the command line (see <see cref="Usage"/>).</summary>
internal sealed record PerfOptions
{
    public const string Usage = """
        usage: KafkaCompatBroker.Perf (--start-broker | --bootstrap host:port [--broker-pid PID] | --mock) [--compare] [options]
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
          --topic NAME           topic name (default perf-<random>; created with T partitions)
          --topic-config K=V     a config of the created topic, e.g. flush.messages=1 (repeatable; not for --mock)
          --rate R               throttle the producer to R records/s (default: unthrottled)
          --data-dir DIR         where the disk-throughput probe writes (default: the broker's data dir or temp)
          --skip-limits          skip the loopback and disk probes
          --json FILE            write every figure as JSON
          --quiet                no progress line
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

    public string Topic { get; init; } = "perf-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Configs the topic is created with (--topic-config key=value, repeatable).</summary>
    public IReadOnlyDictionary<string, string> TopicConfigs { get; init; } = new Dictionary<string, string>();

    public int? Rate { get; init; }

    public string? DataDir { get; init; }

    public bool SkipLimits { get; init; }

    public string? JsonFile { get; init; }

    public bool Quiet { get; init; }

    /// <summary>Parses the command line; throws <see cref="ArgumentException"/> with the problem.</summary>
    public static PerfOptions Parse(IReadOnlyList<string> args)
    {
        var o = new PerfOptions();
        for (var i = 0; i < args.Count; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{name} needs a value");
            int Int() => int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0
                ? v : throw new ArgumentException($"{name} needs a non-negative integer");
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
                "--topic" => o with { Topic = Value() },
                "--topic-config" => o with { TopicConfigs = WithTopicConfig(o.TopicConfigs, Value()) },
                "--rate" => o with { Rate = Int() },
                "--data-dir" => o with { DataDir = Value() },
                "--skip-limits" => o with { SkipLimits = true },
                "--json" => o with { JsonFile = Value() },
                "--quiet" => o with { Quiet = true },
                _ => throw new ArgumentException($"unknown option {name}"),
            };
        }

        var targets = (o.Bootstrap is null ? 0 : 1) + (o.StartBroker ? 1 : 0) + (o.Mock ? 1 : 0);
        if (targets != 1)
        {
            throw new ArgumentException("give exactly one of --start-broker, --bootstrap or --mock");
        }

        if (o.Compare && o.Mock)
        {
            throw new ArgumentException("--compare runs our broker and the mock: use it with --start-broker or --bootstrap");
        }

        if (o.Acks is not ("0" or "1" or "all" or "-1"))
        {
            throw new ArgumentException("--acks must be 0, 1 or all");
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
