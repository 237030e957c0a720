namespace KafkaCompatBroker.Controller;

/// <summary>IncrementalAlterConfigs' APPEND and SUBTRACT on a comma-separated list config.</summary>
public static class ConfigLists
{
    /// <summary>
    /// APPEND adds the given values not yet in the list, in order; SUBTRACT removes every occurrence of each given
    /// value (Kafka's ConfigurationControlManager: contains-then-add, and removeAll). Both run in time linear in the
    /// values, which come from the wire and may be many: a list scan per value would be quadratic.
    /// </summary>
    public static string Apply(string current, AlterConfigOpType op, string values)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(values);
        var parts = Split(current);
        var given = Split(values);
        if (op == AlterConfigOpType.Subtract)
        {
            var removed = new HashSet<string>(given, StringComparer.Ordinal);
            parts.RemoveAll(removed.Contains);
        }
        else
        {
            var present = new HashSet<string>(parts, StringComparer.Ordinal);
            foreach (var value in given)
            {
                if (present.Add(value))
                {
                    parts.Add(value);
                }
            }
        }

        return string.Join(',', parts);
    }

    private static List<string> Split(string value) =>
        [.. value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)];
}
