using System.Globalization;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Configuration;

/// <summary>Where a described config value comes from (Kafka's DescribeConfigsResponse.ConfigSource ids).</summary>
public enum DescribedConfigSource : sbyte
{
    Unknown = 0,
    DynamicTopicConfig = 1,
    DynamicBrokerConfig = 2,
    DynamicDefaultBrokerConfig = 3,
    StaticBrokerConfig = 4,
    DefaultConfig = 5,
    DynamicBrokerLoggerConfig = 6,
    GroupConfig = 8,
}

/// <summary>
/// Builds DescribeConfigs entries the way Kafka's ConfigHelper does, over one cluster image: a topic's
/// configs are its overrides on top of the broker's log.* synonyms on top of Kafka's defaults; a broker's
/// are every <see cref="BrokerConfigKeys"/> key with its value and source. Synonyms list, in order, the
/// topic override, then for each broker synonym its per-broker dynamic, cluster-default dynamic, static and
/// default values, starting at the topic config's first broker synonym (as Kafka does, so retention.ms
/// shows no synonym when only log.retention.hours has a value).
/// </summary>
public sealed class ConfigDescriber
{
    private readonly BrokerSettings _settings;
    private readonly IReadOnlyDictionary<string, string> _dynamicBroker;
    private readonly IReadOnlyDictionary<string, string> _dynamicDefault;

    public ConfigDescriber(BrokerSettings settings, ClusterImage image)
    {
        _settings = settings;
        Image = image;
        _dynamicBroker = image.GetConfigs(new ConfigResource(ConfigResourceType.Broker, settings.NodeId.ToString(CultureInfo.InvariantCulture)));
        _dynamicDefault = image.GetConfigs(new ConfigResource(ConfigResourceType.Broker, ""));
    }

    public ClusterImage Image { get; }

    /// <summary>Every topic config (or only <paramref name="keys"/> when given and non-empty), sorted by name.</summary>
    public List<DescribeConfigsResponse.DescribeConfigsResourceResult> DescribeTopic(string topic, IReadOnlyCollection<string>? keys, bool includeSynonyms)
    {
        var overrides = Image.GetTopicConfigs(topic);
        var result = new List<DescribeConfigsResponse.DescribeConfigsResourceResult>(TopicConfigDefinitions.All.Count);
        foreach (var definition in TopicConfigDefinitions.All)
        {
            if (Wanted(keys, definition.Name))
            {
                result.Add(TopicEntry(definition, overrides.TryGetValue(definition.Name, out var value) ? value : null, includeSynonyms));
            }
        }

        return result;
    }

    /// <summary>This broker's configs (perBroker) or the cluster-wide dynamic defaults (the "" resource).</summary>
    public List<DescribeConfigsResponse.DescribeConfigsResourceResult> DescribeBroker(bool perBroker, IReadOnlyCollection<string>? keys, bool includeSynonyms)
    {
        var result = new List<DescribeConfigsResponse.DescribeConfigsResourceResult>();
        if (perBroker)
        {
            foreach (var key in BrokerConfigKeys.All.OrderBy(k => k.Name, StringComparer.Ordinal))
            {
                if (Wanted(keys, key.Name))
                {
                    result.Add(BrokerEntry(key.Name, BrokerValue(key.Name), perBroker, includeSynonyms));
                }
            }
        }
        else
        {
            foreach (var (name, value) in _dynamicDefault.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (Wanted(keys, name))
                {
                    result.Add(BrokerEntry(name, value, perBroker, includeSynonyms));
                }
            }
        }

        return result;
    }

    /// <summary>
    /// A group's configs (Kafka's createGroupConfigEntry): each GROUP config key with the group's own value, else the
    /// broker's value of its "group." synonym; synonyms are the group's value (GROUP_CONFIG) then the broker synonym's
    /// sources, and the first of them is the source.
    /// </summary>
    public List<DescribeConfigsResponse.DescribeConfigsResourceResult> DescribeGroup(string groupId, IReadOnlyCollection<string>? keys, bool includeSynonyms)
    {
        var overrides = Image.GetConfigs(new ConfigResource(ConfigResourceType.Group, groupId));
        var result = new List<DescribeConfigsResponse.DescribeConfigsResourceResult>();
        foreach (var key in GroupConfigDefinitions.All)
        {
            if (!Wanted(keys, key.Name))
            {
                continue;
            }

            var brokerName = GroupConfigDefinitions.BrokerSynonym(key.Name);
            var own = overrides.TryGetValue(key.Name, out var set) ? set : null;
            var value = Normalize(own ?? BrokerValue(brokerName) ?? key.Default!, DescribedConfigType.Int);
            var synonyms = BrokerSynonyms(brokerName, TopicConfigDefinitions.BrokerConfigSynonyms(brokerName), sensitive: false);
            if (own is not null)
            {
                synonyms.Insert(0, new DescribeConfigsResponse.DescribeConfigsSynonym { Name = key.Name, Value = value, Source = (sbyte)DescribedConfigSource.GroupConfig });
            }

            result.Add(new DescribeConfigsResponse.DescribeConfigsResourceResult
            {
                Name = key.Name,
                Value = value,
                ReadOnly = false,
                ConfigSource = synonyms.Count == 0 ? (sbyte)DescribedConfigSource.DefaultConfig : synonyms[0].Source,
                IsSensitive = false,
                Synonyms = includeSynonyms ? synonyms : [],
                ConfigType = (sbyte)DescribedConfigType.Int,
                Documentation = null,
            });
        }

        return result;
    }

    private static bool Wanted(IReadOnlyCollection<string>? keys, string name) => keys is null || keys.Count == 0 || keys.Contains(name);

    private DescribeConfigsResponse.DescribeConfigsResourceResult TopicEntry(TopicConfigDefinition definition, string? topicValue, bool includeSynonyms)
    {
        var value = Normalize(topicValue ?? EffectiveBrokerDefault(definition) ?? definition.Default, definition.Type);
        var synonyms = definition.Synonyms.Count == 0
            ? []
            : BrokerSynonyms(definition.Synonyms[0].Name, TopicConfigDefinitions.BrokerConfigSynonyms(definition.Synonyms[0].Name), sensitive: false);
        if (topicValue is not null)
        {
            synonyms.Insert(0, new DescribeConfigsResponse.DescribeConfigsSynonym { Name = definition.Name, Value = value, Source = (sbyte)DescribedConfigSource.DynamicTopicConfig });
        }

        return new DescribeConfigsResponse.DescribeConfigsResourceResult
        {
            Name = definition.Name,
            Value = value,
            ReadOnly = false,
            ConfigSource = synonyms.Count == 0 ? (sbyte)DescribedConfigSource.DefaultConfig : synonyms[0].Source,
            IsSensitive = false,
            Synonyms = includeSynonyms ? synonyms : [],
            ConfigType = (sbyte)definition.Type,
            Documentation = null,
        };
    }

    private DescribeConfigsResponse.DescribeConfigsResourceResult BrokerEntry(string name, string? rawValue, bool perBroker, bool includeSynonyms)
    {
        var type = TopicConfigDefinitions.BrokerConfigType(name);
        var sensitive = type is DescribedConfigType.Password or DescribedConfigType.Unknown;
        var synonyms = BrokerSynonyms(name, TopicConfigDefinitions.BrokerConfigSynonyms(name), sensitive);
        if (!perBroker)
        {
            synonyms.RemoveAll(s => s.Source != (sbyte)DescribedConfigSource.DynamicDefaultBrokerConfig);
        }

        return new DescribeConfigsResponse.DescribeConfigsResourceResult
        {
            Name = name,
            Value = sensitive || rawValue is null ? null : Normalize(rawValue, type),
            ReadOnly = !TopicConfigDefinitions.DynamicBrokerConfigs.Contains(name),
            ConfigSource = synonyms.Count == 0 ? (sbyte)DescribedConfigSource.DefaultConfig : synonyms[0].Source,
            IsSensitive = sensitive,
            Synonyms = includeSynonyms ? synonyms : [],
            ConfigType = (sbyte)type,
            Documentation = null,
        };
    }

    /// <summary>The broker config's current value: per-broker dynamic, cluster-default dynamic, static, or Kafka's default.</summary>
    private string? BrokerValue(string name)
    {
        if (_dynamicBroker.TryGetValue(name, out var dynamicValue) || _dynamicDefault.TryGetValue(name, out dynamicValue))
        {
            return dynamicValue;
        }

        var (value, source) = _settings.Config.Get(name);
        return source == ConfigSource.Default ? TopicConfigDefinitions.BrokerConfigDefault(name) : value;
    }

    /// <summary>The topic default the broker supplies: the first broker synonym with a value, converted to the topic config's unit.</summary>
    private string? EffectiveBrokerDefault(TopicConfigDefinition definition)
    {
        foreach (var synonym in definition.Synonyms)
        {
            if (BrokerValue(synonym.Name) is not { } value)
            {
                continue;
            }

            if (synonym.Multiplier != 1 && long.TryParse(value.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n))
            {
                return (n * synonym.Multiplier).ToString(CultureInfo.InvariantCulture);
            }

            return value;
        }

        return null;
    }

    /// <summary>Kafka's configSynonyms: each source in priority order, each synonym within it, then everything before <paramref name="name"/> dropped.</summary>
    private List<DescribeConfigsResponse.DescribeConfigsSynonym> BrokerSynonyms(string name, IReadOnlyList<string> names, bool sensitive)
    {
        var all = new List<DescribeConfigsResponse.DescribeConfigsSynonym>();
        foreach (var synonym in names)
        {
            if (_dynamicBroker.TryGetValue(synonym, out var value))
            {
                all.Add(Synonym(synonym, value, DescribedConfigSource.DynamicBrokerConfig, sensitive));
            }
        }

        foreach (var synonym in names)
        {
            if (_dynamicDefault.TryGetValue(synonym, out var value))
            {
                all.Add(Synonym(synonym, value, DescribedConfigSource.DynamicDefaultBrokerConfig, sensitive));
            }
        }

        foreach (var synonym in names)
        {
            var (value, source) = _settings.Config.Get(synonym);
            if (source != ConfigSource.Default && value is not null)
            {
                all.Add(Synonym(synonym, value, DescribedConfigSource.StaticBrokerConfig, sensitive));
            }
        }

        foreach (var synonym in names)
        {
            if (TopicConfigDefinitions.BrokerConfigDefault(synonym) is { } value)
            {
                all.Add(Synonym(synonym, Normalize(value, TopicConfigDefinitions.BrokerConfigType(synonym)), DescribedConfigSource.DefaultConfig, sensitive));
            }
        }

        var first = all.FindIndex(s => s.Name == name);
        return first < 0 ? [] : all[first..];
    }

    private static DescribeConfigsResponse.DescribeConfigsSynonym Synonym(string name, string value, DescribedConfigSource source, bool sensitive) =>
        new() { Name = name, Value = sensitive ? null : value, Source = (sbyte)source };

    /// <summary>A value as Kafka prints a parsed config (ConfigDef.convertToString): trimmed, numbers canonical, lists comma-joined.</summary>
    public static string Normalize(string value, DescribedConfigType type)
    {
        var trimmed = value.Trim();
        switch (type)
        {
            case DescribedConfigType.Int or DescribedConfigType.Short or DescribedConfigType.Long
                when long.TryParse(trimmed, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n):
                return n.ToString(CultureInfo.InvariantCulture);
            case DescribedConfigType.Boolean when bool.TryParse(trimmed, out var b):
                return b ? "true" : "false";
            case DescribedConfigType.Double when double.TryParse(trimmed, NumberStyles.Float, CultureInfo.InvariantCulture, out var d):
                return JavaDouble(d);
            case DescribedConfigType.List:
                return string.Join(',', trimmed.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
            default:
                return trimmed;
        }
    }

    /// <summary>Java's Double.toString: always a decimal point, scientific notation outside [1e-3, 1e7).</summary>
    private static string JavaDouble(double d)
    {
        var abs = Math.Abs(d);
        if (d == 0 || (abs >= 1e-3 && abs < 1e7))
        {
            var s = d.ToString("R", CultureInfo.InvariantCulture);
            return s.Contains('.', StringComparison.Ordinal) ? s : s + ".0";
        }

        return d.ToString("0.0################E0", CultureInfo.InvariantCulture);
    }
}
