using System.Globalization;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// AlterConfigs and IncrementalAlterConfigs on a BROKER resource, as Kafka's ConfigAdminManager checks them before
/// the controller stores them: the name is "" (the cluster default) or this broker's id, keys appear once, only
/// DELETE may have a null value, APPEND/SUBTRACT only on list configs, and the resulting set of dynamic configs
/// passes <see cref="DynamicBrokerConfig.Validate"/> (INVALID_REQUEST with Kafka's message otherwise). The change
/// is committed as ConfigRecords in one batch; the broker applies it when the image changes.
/// </summary>
public static class BrokerConfigAdmin
{
    /// <param name="incremental">IncrementalAlterConfigs; false for AlterConfigs, whose configs replace the resource's whole set.</param>
    public static ValueTask<MetadataResult> AlterAsync(BrokerContext broker, string resourceName, IReadOnlyList<AlterConfigOp> ops, bool incremental, bool validateOnly)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        if (ops.Any(op => !names.Add(op.Name)))
        {
            return InvalidRequest("Error due to duplicate config keys");
        }

        var nulls = ops.Where(op => op.Op != AlterConfigOpType.Delete && op.Value is null).Select(op => op.Name).ToList();
        if (nulls.Count > 0)
        {
            return InvalidRequest("Null value not supported for : " + string.Join(", ", nulls));
        }

        if (resourceName.Length > 0)
        {
            if (!int.TryParse(resourceName, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id))
            {
                return InvalidRequest($"Node id must be an integer, but it is: {resourceName}");
            }

            if (id != broker.Settings.NodeId)
            {
                return InvalidRequest($"Unexpected broker id, expected {broker.Settings.NodeId}, but received {resourceName}");
            }
        }

        var resource = new ConfigResource(ConfigResourceType.Broker, resourceName);
        var before = broker.Metadata.Image.GetConfigs(resource);
        var after = incremental ? new SortedDictionary<string, string>(before, StringComparer.Ordinal) : new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var op in ops)
        {
            switch (op.Op)
            {
                case AlterConfigOpType.Set:
                    after[op.Name] = op.Value!;
                    break;
                case AlterConfigOpType.Delete:
                    after.Remove(op.Name);
                    break;
                case AlterConfigOpType.Append or AlterConfigOpType.Subtract:
                    if (!BrokerConfigKeys.ByName.TryGetValue(op.Name, out var key) || key.Type != ConfigType.List)
                    {
                        var verb = op.Op == AlterConfigOpType.Append ? "append" : "subtract";
                        return ValueTask.FromResult(new MetadataResult(ErrorCode.InvalidConfig, $"Config value {verb} is not allowed for config key: {op.Name}"));
                    }

                    after[op.Name] = ConfigLists.Apply(after.TryGetValue(op.Name, out var current) ? current : key.Default ?? "", op.Op, op.Value!);
                    break;
                default:
                    return InvalidRequest($"Unknown operations type {(byte)op.Op}");
            }
        }

        if (DynamicBrokerConfig.Validate(after, resourceName.Length > 0, broker.Settings.Config, broker.Metadata.Image, broker.Settings.NodeId) is { } invalid)
        {
            return InvalidRequest(invalid);
        }

        var changes = new List<AlterConfigOp>();
        foreach (var name in before.Keys.Where(k => !after.ContainsKey(k)))
        {
            changes.Add(new AlterConfigOp(name, AlterConfigOpType.Delete, null));
        }

        foreach (var (name, value) in after)
        {
            if (!before.TryGetValue(name, out var old) || old != value)
            {
                changes.Add(new AlterConfigOp(name, AlterConfigOpType.Set, value));
            }
        }

        return broker.Controller.AlterConfigsAsync(resource, changes, validateOnly);
    }

    private static ValueTask<MetadataResult> InvalidRequest(string message) => ValueTask.FromResult(new MetadataResult(ErrorCode.InvalidRequest, message));
}
