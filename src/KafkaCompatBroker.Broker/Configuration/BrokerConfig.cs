using System.Collections;
using System.Globalization;

namespace KafkaCompatBroker.Broker.Configuration;

/// <summary>Where a config value came from (DescribeConfigs reports it).</summary>
public enum ConfigSource
{
    Default,
    StaticBrokerConfig,
    Environment,
    CommandLine,
}

/// <summary>A broker configuration error that stops start-up; the message names the key.</summary>
public sealed class ConfigException(string message) : Exception(message);

/// <summary>
/// The broker's configuration, resolved as Kafka users expect: Kafka's defaults, then the properties
/// file, then KAFKA_* environment variables (dots as underscores: KAFKA_LOG_DIRS), then
/// --override key=value arguments. Unknown keys produce warnings; bad values fail with the key named.
/// </summary>
public sealed class BrokerConfig
{
    private readonly Dictionary<string, (string Value, ConfigSource Source)> _values = new(StringComparer.Ordinal);

    // Where a value from outside the properties file came from, for error messages ("the environment variable KAFKA_NUM_PARTITIONS").
    private readonly Dictionary<string, string> _origins = new(StringComparer.Ordinal);

    public IReadOnlyList<string> Warnings { get; }

    private BrokerConfig(List<string> warnings) => Warnings = warnings;

    /// <summary>
    /// Builds the config. <paramref name="environment"/> is the process environment (or a test's);
    /// only variables starting with KAFKA_ are considered.
    /// </summary>
    public static BrokerConfig Load(string? propertiesText, IEnumerable<string> overrides, IDictionary environment)
    {
        var warnings = new List<string>();
        var config = new BrokerConfig(warnings);
        if (propertiesText is not null)
        {
            foreach (var (key, value) in JavaProperties.Parse(propertiesText))
            {
                config.Set(key, value, ConfigSource.StaticBrokerConfig);
            }
        }

        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is string name && name.StartsWith("KAFKA_", StringComparison.Ordinal) && entry.Value is string value)
            {
                var key = name["KAFKA_".Length..].ToLowerInvariant().Replace('_', '.');
                if (BrokerConfigKeys.ByName.ContainsKey(key))
                {
                    config.Set(key, value, ConfigSource.Environment, $"the environment variable {name}");
                }
            }
        }

        foreach (var item in overrides)
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ConfigException($"--override expects key=value, got '{item}'");
            }

            config.Set(item[..eq].Trim(), item[(eq + 1)..].Trim(), ConfigSource.CommandLine, $"--override {item}");
        }

        foreach (var key in config._values.Keys.Where(k => !BrokerConfigKeys.ByName.ContainsKey(k)).Order(StringComparer.Ordinal))
        {
            warnings.Add($"The configuration '{key}' was supplied but isn't a known config.");
        }

        config.Validate();
        return config;
    }

    private void Set(string key, string value, ConfigSource source, string? origin = null)
    {
        _values[key] = (value, source);
        if (origin is null)
        {
            _origins.Remove(key);
        }
        else
        {
            _origins[key] = origin;
        }
    }

    private void Validate()
    {
        foreach (var key in BrokerConfigKeys.All)
        {
            if (_values.TryGetValue(key.Name, out var entry))
            {
                try
                {
                    Check(key, entry.Value);
                }
                catch (ConfigException e) when (_origins.TryGetValue(key.Name, out var origin))
                {
                    throw new ConfigException($"{e.Message} (set by {origin})");
                }
            }
        }
    }

    private static void Check(ConfigKey key, string value)
    {
        var v = value.Trim();
        switch (key.Type)
        {
            case ConfigType.Boolean when !bool.TryParse(v, out _):
                throw new ConfigException($"Invalid value {value} for configuration {key.Name}: Expected value to be either true or false");
            case ConfigType.Int or ConfigType.Long:
                if (!long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) || (key.Type == ConfigType.Int && (n < int.MinValue || n > int.MaxValue)))
                {
                    throw new ConfigException($"Invalid value {value} for configuration {key.Name}: Not a number of type {(key.Type == ConfigType.Int ? "INT" : "LONG")}");
                }

                if (n < key.Min || n > key.Max)
                {
                    throw new ConfigException($"Invalid value {value} for configuration {key.Name}: Value must be {(key.Max == long.MaxValue || (key.Type == ConfigType.Int && key.Max == int.MaxValue) ? $"at least {key.Min}" : $"between {key.Min} and {key.Max}")}");
                }

                break;
            case ConfigType.Double when !double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _):
                throw new ConfigException($"Invalid value {value} for configuration {key.Name}: Not a number of type DOUBLE");
        }

        if (key.ValidValues is { } valid)
        {
            var items = key.Type == ConfigType.List ? v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : [v];
            foreach (var item in items)
            {
                if (!valid.Contains(item))
                {
                    throw new ConfigException($"Invalid value {value} for configuration {key.Name}: String must be one of: {string.Join(", ", valid)}");
                }
            }
        }
    }

    /// <summary>The value and where it came from; the default (or null) when nothing set it.</summary>
    public (string? Value, ConfigSource Source) Get(string key) =>
        _values.TryGetValue(key, out var entry)
            ? (entry.Value.Trim(), entry.Source)
            : (BrokerConfigKeys.ByName.TryGetValue(key, out var k) ? k.Default : null, ConfigSource.Default);

    public bool IsSet(string key) => _values.ContainsKey(key);

    public string? GetString(string key) => Get(key).Value;

    public int GetInt(string key) => int.Parse(GetString(key) ?? throw new ConfigException($"Missing required configuration {key}"), CultureInfo.InvariantCulture);

    public long GetLong(string key) => long.Parse(GetString(key) ?? throw new ConfigException($"Missing required configuration {key}"), CultureInfo.InvariantCulture);

    public bool GetBool(string key) => bool.Parse(GetString(key) ?? "false");

    public double GetDouble(string key) => double.Parse(GetString(key) ?? "0", CultureInfo.InvariantCulture);

    public IReadOnlyList<string> GetList(string key) =>
        (GetString(key) ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>log.dirs, falling back to log.dir as Kafka does.</summary>
    public IReadOnlyList<string> LogDirs => IsSet("log.dirs") ? GetList("log.dirs") : [GetString("log.dir")!];

    /// <summary>Retention in ms from log.retention.ms, else .minutes, else .hours (Kafka's precedence).</summary>
    public long LogRetentionMs =>
        IsSet("log.retention.ms") ? GetLong("log.retention.ms")
        : IsSet("log.retention.minutes") ? GetLong("log.retention.minutes") * 60_000
        : GetLong("log.retention.hours") * 3_600_000;

    /// <summary>segment.ms from log.roll.ms, else log.roll.hours.</summary>
    public long LogRollMs => IsSet("log.roll.ms") ? GetLong("log.roll.ms") : GetLong("log.roll.hours") * 3_600_000;
}
