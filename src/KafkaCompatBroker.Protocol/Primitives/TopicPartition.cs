using System.Globalization;

namespace KafkaCompatBroker.Protocol;

/// <summary>A partition of a topic; on disk its log lives in the directory "&lt;topic&gt;-&lt;partition&gt;".</summary>
public readonly record struct TopicPartition(string Topic, int Partition)
{
    public string DirectoryName => $"{Topic}-{Partition.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Parses a partition directory name; topic names may contain '-', so the number follows the last one.</summary>
    public static bool TryParseDirectoryName(string name, out TopicPartition topicPartition)
    {
        var dash = name.LastIndexOf('-');
        if (dash > 0 && int.TryParse(name.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var partition))
        {
            topicPartition = new TopicPartition(name[..dash], partition);
            return true;
        }

        topicPartition = default;
        return false;
    }

    public override string ToString() => DirectoryName;
}
