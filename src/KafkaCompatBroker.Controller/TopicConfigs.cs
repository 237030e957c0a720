using System.Globalization;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Controller;

/// <summary>
/// Validation of topic-level config overrides: names are <see cref="LogConfig.Keys"/> plus the other
/// topic keys Kafka defines; values of log keys are checked by <see cref="LogConfig.With"/>, the others here.
/// </summary>
public static class TopicConfigs
{
    private enum Kind
    {
        Long,
        Int,
        Bool,
        CompressionType,
        ReplicaList,
    }

    /// <summary>Topic keys beyond the log's own, with the kind of value each takes.</summary>
    private static readonly Dictionary<string, Kind> OtherKeys = new(StringComparer.Ordinal)
    {
        ["compression.type"] = Kind.CompressionType,
        ["compression.gzip.level"] = Kind.Int,
        ["compression.lz4.level"] = Kind.Int,
        ["compression.zstd.level"] = Kind.Int,
        ["min.insync.replicas"] = Kind.Int,
        ["unclean.leader.election.enable"] = Kind.Bool,
        ["message.timestamp.before.max.ms"] = Kind.Long,
        ["message.timestamp.after.max.ms"] = Kind.Long,
        ["preallocate"] = Kind.Bool,
        ["segment.jitter.ms"] = Kind.Long,
        ["local.retention.ms"] = Kind.Long,
        ["local.retention.bytes"] = Kind.Long,
        ["remote.storage.enable"] = Kind.Bool,
        ["remote.log.copy.disable"] = Kind.Bool,
        ["remote.log.delete.on.disable"] = Kind.Bool,
        ["leader.replication.throttled.replicas"] = Kind.ReplicaList,
        ["follower.replication.throttled.replicas"] = Kind.ReplicaList,
    };

    /// <summary>List-typed topic keys (the ones IncrementalAlterConfigs APPEND/SUBTRACT accept) and their defaults.</summary>
    private static readonly Dictionary<string, string> ListDefaults = new(StringComparer.Ordinal)
    {
        ["cleanup.policy"] = "delete",
        ["leader.replication.throttled.replicas"] = "",
        ["follower.replication.throttled.replicas"] = "",
    };

    /// <summary>Every topic config name accepted.</summary>
    public static IEnumerable<string> Names => LogConfig.Keys.Concat(OtherKeys.Keys);

    public static bool IsKnown(string name) => LogConfig.Keys.Contains(name) || OtherKeys.ContainsKey(name);

    public static bool IsList(string name) => ListDefaults.ContainsKey(name);

    /// <summary>The default of a list-typed key (what APPEND/SUBTRACT start from when it is not set).</summary>
    public static string ListDefault(string name) => ListDefaults.GetValueOrDefault(name, "");

    /// <summary>Null when every name is known and every value valid; otherwise the INVALID_CONFIG message.</summary>
    public static string? Validate(IEnumerable<KeyValuePair<string, string>> configs)
    {
        var logOverrides = new List<KeyValuePair<string, string>>();
        foreach (var (name, value) in configs)
        {
            if (LogConfig.Keys.Contains(name))
            {
                logOverrides.Add(new(name, value));
            }
            else if (OtherKeys.TryGetValue(name, out var kind))
            {
                if (ValidateOther(name, value, kind) is { } error)
                {
                    return error;
                }
            }
            else
            {
                return $"Unknown topic config name: {name}";
            }
        }

        try
        {
            _ = LogConfig.Default.With(logOverrides);
        }
        catch (ArgumentException e)
        {
            return e.Message;
        }

        return null;
    }

    private static string? ValidateOther(string name, string value, Kind kind)
    {
        var trimmed = value.Trim();
        var ok = kind switch
        {
            Kind.Long => long.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) && l >= (name.StartsWith("local.retention", StringComparison.Ordinal) ? -2 : 0),
            Kind.Int => int.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var i) && IntInRange(name, i),
            Kind.Bool => trimmed.Equals("true", StringComparison.OrdinalIgnoreCase) || trimmed.Equals("false", StringComparison.OrdinalIgnoreCase),
            Kind.CompressionType => trimmed is "uncompressed" or "zstd" or "lz4" or "snappy" or "gzip" or "producer",
            Kind.ReplicaList => IsReplicaList(trimmed),
            _ => false,
        };
        return ok ? null : $"Invalid value {value} for configuration {name}";
    }

    private static bool IntInRange(string name, int value) => name switch
    {
        "min.insync.replicas" => value >= 1,
        "compression.gzip.level" => value is -1 or (>= 1 and <= 9),
        "compression.lz4.level" => value is >= 1 and <= 17,
        "compression.zstd.level" => value is >= -131072 and <= 22,
        _ => true,
    };

    /// <summary>"", "*", or a comma-separated list of "partition:brokerId".</summary>
    private static bool IsReplicaList(string value)
    {
        if (value.Length == 0 || value == "*")
        {
            return true;
        }

        foreach (var part in value.Split(',', StringSplitOptions.TrimEntries))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0
                || !int.TryParse(part.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out _)
                || !int.TryParse(part.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            {
                return false;
            }
        }

        return true;
    }
}
