using System.Text;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// The topic id of a partition directory (KIP-516), in Kafka's "partition.metadata" file:
/// <code>
/// version: 0
/// topic_id: Hyp8Ak3dRzqAm3xYYxjMyw
/// </code>
/// With it a partition directory that survived the deletion of its topic (a crash before the directory was
/// removed) is never taken for the partition of a new topic of the same name. Written atomically when the log gets
/// its topic id (see <see cref="CheckpointFile"/>).
/// </summary>
public static class PartitionMetadataFile
{
    /// <summary>The file's name in the partition directory (Kafka's).</summary>
    public const string FileName = "partition.metadata";

    public const int CurrentVersion = 0;

    private const string VersionPrefix = "version: ";
    private const string TopicIdPrefix = "topic_id: ";

    /// <summary>The file's text for <paramref name="topicId"/>.</summary>
    public static string Format(KafkaUuid topicId) => $"{VersionPrefix}{CurrentVersion}\n{TopicIdPrefix}{topicId}\n";

    /// <summary>Writes <paramref name="topicId"/> to the file of <paramref name="directory"/>, durably.</summary>
    public static void Write(string directory, KafkaUuid topicId) => CheckpointFile.WriteAtomically(Path.Combine(directory, FileName), Format(topicId));

    /// <summary>
    /// The topic id in the file of <paramref name="directory"/>: null without a file (a log written before topic ids);
    /// false with a reason when the file is unreadable or malformed.
    /// </summary>
    public static bool TryRead(string directory, out KafkaUuid? topicId, out string? problem)
    {
        topicId = null;
        problem = null;
        string text;
        try
        {
            text = File.ReadAllText(Path.Combine(directory, FileName), Encoding.UTF8);
        }
        catch (FileNotFoundException)
        {
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = e.Message;
            return false;
        }

        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length != 2 || lines[0] != VersionPrefix + CurrentVersion || !lines[1].StartsWith(TopicIdPrefix, StringComparison.Ordinal))
        {
            problem = $"expected '{VersionPrefix}{CurrentVersion}' and '{TopicIdPrefix}<id>' lines";
            return false;
        }

        try
        {
            topicId = KafkaUuid.Parse(lines[1][TopicIdPrefix.Length..].Trim());
            return true;
        }
        catch (FormatException e)
        {
            problem = e.Message;
            return false;
        }
    }
}
