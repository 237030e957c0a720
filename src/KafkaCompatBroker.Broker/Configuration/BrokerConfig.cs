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

    /// <summary>A cluster-wide dynamic config (the "" BROKER resource in the metadata log).</summary>
    DynamicDefaultBroker,

    /// <summary>A dynamic config of this broker (its id's BROKER resource in the metadata log).</summary>
    DynamicBroker,
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

    private BrokerConfig(IReadOnlyList<string> warnings) => Warnings = warnings;

    /// <summary>
    /// This config with dynamic broker configs applied as Kafka's DynamicBrokerConfig does: the cluster
    /// defaults, then this broker's own, each replacing the key and its synonyms (a dynamic log.retention.ms
    /// hides a static log.retention.hours). Keys that cannot change dynamically and invalid values are
    /// skipped, as Kafka ignores them when it applies the metadata log.
    /// </summary>
    public BrokerConfig WithDynamic(IReadOnlyDictionary<string, string> clusterDefaults, IReadOnlyDictionary<string, string> perBroker)
    {
        var config = new BrokerConfig(Warnings);
        foreach (var (key, entry) in _values)
        {
            config._values[key] = entry;
        }

        config.Overlay(clusterDefaults, ConfigSource.DynamicDefaultBroker);
        config.Overlay(perBroker, ConfigSource.DynamicBroker);
        return config;
    }

    private void Overlay(IReadOnlyDictionary<string, string> dynamicConfigs, ConfigSource source)
    {
        foreach (var (key, value) in dynamicConfigs)
        {
            // Per-broker-only keys are ignored on the cluster default, as Kafka drops them when it loads the defaults.
            if (!TopicConfigDefinitions.DynamicBrokerConfigs.Contains(key) || !BrokerConfigKeys.ByName.TryGetValue(key, out var definition) || CheckValue(definition, value) is not null
                || (source == ConfigSource.DynamicDefaultBroker && DynamicBrokerConfig.PerBrokerConfigs.Contains(key)))
            {
                continue;
            }

            foreach (var synonym in TopicConfigDefinitions.BrokerConfigSynonyms(key))
            {
                _values.Remove(synonym);
            }

            _values[key] = (value, source);
        }
    }

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
                if (BrokerConfigKeys.ByName.ContainsKey(key) || BrokerConfigKeys.ListenerOverrideKey(key) is not null)
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

        foreach (var key in config._values.Keys.Where(k => !BrokerConfigKeys.ByName.ContainsKey(k) && BrokerConfigKeys.ListenerOverrideKey(k) is null).Order(StringComparer.Ordinal))
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
        var listenerOverrides = _values.Keys.Select(BrokerConfigKeys.ListenerOverrideKey).OfType<ConfigKey>();
        foreach (var key in BrokerConfigKeys.All.Concat(listenerOverrides))
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

        // Kafka's GroupCoordinatorConfig requirements on the consumer group timeouts.
        RequireAtLeast("group.consumer.max.heartbeat.interval.ms", "group.consumer.min.heartbeat.interval.ms");
        RequireAtLeast("group.consumer.heartbeat.interval.ms", "group.consumer.min.heartbeat.interval.ms");
        RequireAtMost("group.consumer.heartbeat.interval.ms", "group.consumer.max.heartbeat.interval.ms");
        RequireAtLeast("group.consumer.max.session.timeout.ms", "group.consumer.min.session.timeout.ms");
        RequireAtLeast("group.consumer.session.timeout.ms", "group.consumer.min.session.timeout.ms");
        RequireAtMost("group.consumer.session.timeout.ms", "group.consumer.max.session.timeout.ms");
        if (GetInt("group.consumer.heartbeat.interval.ms") >= GetInt("group.consumer.session.timeout.ms"))
        {
            throw new ConfigException("group.consumer.heartbeat.interval.ms must be less than group.consumer.session.timeout.ms");
        }
    }

    private void RequireAtLeast(string key, string bound)
    {
        if (GetInt(key) < GetInt(bound))
        {
            throw new ConfigException($"{key} must be greater than or equal to {bound}");
        }
    }

    private void RequireAtMost(string key, string bound)
    {
        if (GetInt(key) > GetInt(bound))
        {
            throw new ConfigException($"{key} must be less than or equal to {bound}");
        }
    }

    private static void Check(ConfigKey key, string value)
    {
        if (CheckValue(key, value) is { } error)
        {
            throw new ConfigException(error);
        }
    }

    /// <summary>Null when <paramref name="value"/> is valid for <paramref name="key"/>; otherwise Kafka's ConfigException message.</summary>
    public static string? CheckValue(ConfigKey key, string value)
    {
        var v = value.Trim();
        switch (key.Type)
        {
            case ConfigType.Boolean when !bool.TryParse(v, out _):
                return $"Invalid value {value} for configuration {key.Name}: Expected value to be either true or false";
            case ConfigType.Int or ConfigType.Long:
                if (!long.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n) || (key.Type == ConfigType.Int && (n < int.MinValue || n > int.MaxValue)))
                {
                    return $"Invalid value {value} for configuration {key.Name}: Not a number of type {(key.Type == ConfigType.Int ? "INT" : "LONG")}";
                }

                if (n < key.Min || n > key.Max)
                {
                    return $"Invalid value {value} for configuration {key.Name}: Value must be {(key.Max == long.MaxValue || (key.Type == ConfigType.Int && key.Max == int.MaxValue) ? $"at least {key.Min}" : $"between {key.Min} and {key.Max}")}";
                }

                break;
            case ConfigType.Double when !double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out _):
                return $"Invalid value {value} for configuration {key.Name}: Not a number of type DOUBLE";
        }

        if (key.ValidValues is { } valid)
        {
            var items = key.Type == ConfigType.List ? v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : [v];
            foreach (var item in items)
            {
                if (!valid.Contains(item, key.IgnoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal))
                {
                    return $"Invalid value {value} for configuration {key.Name}: String must be one of{(key.IgnoreCase ? " (case insensitive)" : "")}: {string.Join(", ", valid)}";
                }
            }
        }

        return null;
    }

    /// <summary>The value and where it came from; the default (or null) when nothing set it.</summary>
    public (string? Value, ConfigSource Source) Get(string key) =>
        _values.TryGetValue(key, out var entry)
            ? (entry.Value.Trim(), entry.Source)
            : (BrokerConfigKeys.ByName.TryGetValue(key, out var k) ? k.Default : null, ConfigSource.Default);

    public bool IsSet(string key) => _values.ContainsKey(key);

    /// <summary>Every value <paramref name="key"/> takes on some listener: the broker's and each listener.name.&lt;listener&gt;.&lt;key&gt; set.</summary>
    public IEnumerable<long> AllListenerLongs(string key) =>
        _values.Keys
            .Where(k => BrokerConfigKeys.ListenerOverrideKey(k) is not null && k.EndsWith("." + key, StringComparison.Ordinal))
            .Select(GetLong)
            .Append(GetLong(key));

    /// <summary><paramref name="key"/> for the listener named <paramref name="listener"/>: its listener.name.&lt;listener&gt;.&lt;key&gt; when set, else the broker's.</summary>
    public long GetListenerLong(string listener, string key)
    {
        var overridden = BrokerConfigKeys.ListenerOverride(listener, key);
        return GetLong(IsSet(overridden) ? overridden : key);
    }

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
