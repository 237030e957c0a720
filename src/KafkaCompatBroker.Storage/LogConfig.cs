using System.Globalization;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// The per-partition log settings, named after Kafka's topic-level configs, with Kafka's defaults.
/// </summary>
public sealed record LogConfig
{
    public static readonly LogConfig Default = new();

    /// <summary>segment.bytes: the active segment rolls before it would grow past this.</summary>
    public long SegmentBytes { get; init; } = 1L << 30;

    /// <summary>segment.ms: the active segment rolls once its first record is this old.</summary>
    public long SegmentMs { get; init; } = 7L * 24 * 3600 * 1000;

    /// <summary>segment.index.bytes: the most an offset or time index may hold; a full index rolls the segment.</summary>
    public int SegmentIndexBytes { get; init; } = 10 * 1024 * 1024;

    /// <summary>index.interval.bytes: bytes of log between two offset index entries.</summary>
    public int IndexIntervalBytes { get; init; } = 4096;

    /// <summary>flush.messages: fsync after this many records (default: leave it to the page cache).</summary>
    public long FlushMessages { get; init; } = long.MaxValue;

    /// <summary>flush.ms: fsync when the oldest unflushed data is this old (default: leave it to the page cache).</summary>
    public long FlushMs { get; init; } = long.MaxValue;

    /// <summary>retention.ms: delete segments whose newest record is older than this; -1 keeps them forever.</summary>
    public long RetentionMs { get; init; } = 7L * 24 * 3600 * 1000;

    /// <summary>retention.bytes: delete the oldest segments while the log is larger than this; -1 means no limit.</summary>
    public long RetentionBytes { get; init; } = -1;

    public CleanupPolicy CleanupPolicy { get; init; } = CleanupPolicy.Delete;

    /// <summary>delete.retention.ms: how long compaction keeps a tombstone after it first cleans it.</summary>
    public long DeleteRetentionMs { get; init; } = 24L * 3600 * 1000;

    /// <summary>min.compaction.lag.ms: records younger than this are not compacted.</summary>
    public long MinCompactionLagMs { get; init; }

    /// <summary>max.compaction.lag.ms: records older than this make the log eligible for compaction regardless of the dirty ratio.</summary>
    public long MaxCompactionLagMs { get; init; } = long.MaxValue;

    /// <summary>min.cleanable.dirty.ratio: compact once this share of the log is uncompacted.</summary>
    public double MinCleanableDirtyRatio { get; init; } = 0.5;

    /// <summary>message.timestamp.type: CreateTime keeps the producer's timestamps, LogAppendTime stamps the broker's clock.</summary>
    public TimestampType MessageTimestampType { get; init; } = TimestampType.CreateTime;

    /// <summary>file.delete.delay.ms: deleted segments stay (renamed *.deleted) this long, so in-flight reads finish.</summary>
    public long FileDeleteDelayMs { get; init; } = 60_000;

    /// <summary>max.message.bytes: the largest record batch accepted.</summary>
    public int MaxMessageBytes { get; init; } = 1024 * 1024 + 12;

    /// <summary>The topic-level keys <see cref="With"/> understands.</summary>
    public static readonly IReadOnlySet<string> Keys = new HashSet<string>(StringComparer.Ordinal)
    {
        "segment.bytes", "segment.ms", "segment.index.bytes", "index.interval.bytes", "flush.messages", "flush.ms",
        "retention.ms", "retention.bytes", "cleanup.policy", "delete.retention.ms", "min.compaction.lag.ms",
        "max.compaction.lag.ms", "min.cleanable.dirty.ratio", "message.timestamp.type", "file.delete.delay.ms",
        "max.message.bytes",
    };

    /// <summary>
    /// This config with Kafka topic-level overrides applied (e.g. "segment.bytes" → "1048576").
    /// Unknown keys are ignored here (the caller validates names); a bad value throws <see cref="ArgumentException"/> naming the key.
    /// </summary>
    public LogConfig With(IEnumerable<KeyValuePair<string, string>> overrides)
    {
        var config = this;
        foreach (var (key, value) in overrides)
        {
            config = key switch
            {
                "segment.bytes" => config with { SegmentBytes = Long(key, value, min: 14) },
                "segment.ms" => config with { SegmentMs = Long(key, value, min: 1) },
                "segment.index.bytes" => config with { SegmentIndexBytes = (int)Long(key, value, min: 8, max: int.MaxValue) },
                "index.interval.bytes" => config with { IndexIntervalBytes = (int)Long(key, value, min: 0, max: int.MaxValue) },
                "flush.messages" => config with { FlushMessages = Long(key, value, min: 1) },
                "flush.ms" => config with { FlushMs = Long(key, value, min: 0) },
                "retention.ms" => config with { RetentionMs = Long(key, value, min: -1) },
                "retention.bytes" => config with { RetentionBytes = Long(key, value, min: -1) },
                "cleanup.policy" => config with { CleanupPolicy = ParsePolicy(key, value) },
                "delete.retention.ms" => config with { DeleteRetentionMs = Long(key, value, min: 0) },
                "min.compaction.lag.ms" => config with { MinCompactionLagMs = Long(key, value, min: 0) },
                "max.compaction.lag.ms" => config with { MaxCompactionLagMs = Long(key, value, min: 1) },
                "min.cleanable.dirty.ratio" => config with { MinCleanableDirtyRatio = Ratio(key, value) },
                "message.timestamp.type" => config with { MessageTimestampType = ParseTimestampType(key, value) },
                "file.delete.delay.ms" => config with { FileDeleteDelayMs = Long(key, value, min: 0) },
                "max.message.bytes" => config with { MaxMessageBytes = (int)Long(key, value, min: 0, max: int.MaxValue) },
                _ => config,
            };
        }

        return config;
    }

    private static long Long(string key, string value, long min, long max = long.MaxValue)
    {
        if (!long.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) || n < min || n > max)
        {
            throw new ArgumentException($"Invalid value {value} for configuration {key}: must be an integer between {min} and {max}");
        }

        return n;
    }

    private static double Ratio(string key, string value)
    {
        if (!double.TryParse(value.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || d < 0 || d > 1)
        {
            throw new ArgumentException($"Invalid value {value} for configuration {key}: must be between 0 and 1");
        }

        return d;
    }

    private static CleanupPolicy ParsePolicy(string key, string value)
    {
        var policy = CleanupPolicy.None;
        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            policy |= part switch
            {
                "delete" => CleanupPolicy.Delete,
                "compact" => CleanupPolicy.Compact,
                _ => throw new ArgumentException($"Invalid value {value} for configuration {key}: each entry must be one of delete, compact"),
            };
        }

        return policy;
    }

    private static TimestampType ParseTimestampType(string key, string value) => value.Trim() switch
    {
        "CreateTime" => TimestampType.CreateTime,
        "LogAppendTime" => TimestampType.LogAppendTime,
        _ => throw new ArgumentException($"Invalid value {value} for configuration {key}: must be CreateTime or LogAppendTime"),
    };
}
