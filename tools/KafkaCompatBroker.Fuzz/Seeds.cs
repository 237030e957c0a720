using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Fuzz;

/// <summary>Valid inputs for each target, the starting corpus of a coverage-guided run.</summary>
public static class Seeds
{
    private static readonly FuzzNames Names = new("fuzz-topic", KafkaUuid.Parse("AAAAAAAAAAAAAAAAAAAAAQ"), "fuzz-group", "fuzz-txn");

    public static IEnumerable<(string Name, byte[] Bytes)> For(string target) => target switch
    {
        "request" => Requests(),
        "records" => RecordBatches(),
        "metadata-record" => MetadataRecords(),
        _ => throw new ArgumentException($"unknown target {target}", nameof(target)),
    };

    private static IEnumerable<(string, byte[])> Requests()
    {
        foreach (var api in KafkaApis.All)
        {
            var lowest = Math.Max(api.MinVersion, KafkaApis.CreateRequest(api.Key).LowestSupportedVersion);
            for (var version = lowest; version <= api.MaxVersion; version++)
            {
                yield return ($"{api.Name}-v{version}", ValidRequests.Frame(api.Key, version, 1, Names));
            }
        }
    }

    private static IEnumerable<(string, byte[])> RecordBatches()
    {
        foreach (var compression in Enum.GetValues<CompressionType>())
        {
            yield return ($"batch-{compression}", ValidRequests.RecordBatchBytes(compression, 3));
        }

        yield return ("two-batches", [.. ValidRequests.RecordBatchBytes(CompressionType.None, 1), .. ValidRequests.RecordBatchBytes(CompressionType.Lz4, 2, producerId: 5, producerEpoch: 0, baseSequence: 0)]);
    }

    private static IEnumerable<(string, byte[])> MetadataRecords()
    {
        foreach (var type in Enum.GetValues<MetadataRecordType>())
        {
            if (MetadataRecordSerde.Create(type) is not { } message)
            {
                continue;
            }

            for (var version = message.LowestSupportedVersion; version <= message.HighestSupportedVersion; version++)
            {
                yield return ($"{type}-v{version}", MetadataRecordSerde.Serialize(new MetadataRecord(message, version)));
            }
        }
    }
}
