namespace KafkaCompatBroker.ClientFixtures.Tests;

/// <summary>
/// The records every capture script produces (compat-tests/capture/*): 10 records to fixtures/0,
/// key "key-{i}" (null for i = 3), value "value-{i} " repeated 25 times (200 bytes). What differs by
/// client is what it lets a producer set: headers and timestamps.
/// </summary>
internal static class ExpectedRecords
{
    public const int Count = 10;
    public const long BaseTimestamp = 1700000000000;

    /// <summary>The records as <see cref="Describe"/> writes them; timestamps are omitted when the client cannot set them.</summary>
    public static List<string> For(string client)
    {
        var records = new List<string>();
        for (var i = 0; i < Count; i++)
        {
            var key = i == 3 ? null : $"key-{i}";
            var value = string.Concat(Enumerable.Repeat($"value-{i} ", 25));
            (string, string?)[] headers = client switch
            {
                // kcat: -H applies to every record; no per-record timestamps.
                "kcat" => [("h1", "kcat"), ("h2", null)],
                "confluent-dotnet" => i % 2 == 0 ? [("h1", $"v{i}"), ("h2", null)] : [],
                // kafkajs and kafka-python cannot send a null header value: h2 is empty instead.
                "kafkajs" or "kafka-python" => i % 2 == 0 ? [("h1", $"v{i}"), ("h2", "")] : [],
                _ => throw new ArgumentException($"unknown client {client}", nameof(client)),
            };
            var timestamp = client == "kcat" ? (long?)null : BaseTimestamp + i;
            records.Add(Describe(key, value, headers, timestamp));
        }

        return records;
    }

    public static bool HasExplicitTimestamps(string client) => client != "kcat";

    public static string Describe(string? key, string? value, IEnumerable<(string Key, string? Value)> headers, long? timestamp) =>
        $"key={key ?? "<null>"} value={value ?? "<null>"} headers=[{string.Join(",", headers.Select(h => $"{h.Key}={h.Value ?? "<null>"}"))}]" +
        (timestamp is { } ts ? $" timestamp={ts}" : "");
}
