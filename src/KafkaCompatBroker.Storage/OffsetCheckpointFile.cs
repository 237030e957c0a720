using System.Globalization;
using System.Text;
using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// A per-log-directory file of offsets per partition in Kafka's checkpoint text format:
/// <code>
/// 0                      ← version
/// 2                      ← number of entries
/// orders 0 1234          ← topic, partition, offset
/// orders 1 99
/// </code>
/// Written atomically (a ".tmp" file is written and fsynced, renamed over the old one, and the directory
/// fsynced), so a crash leaves either the old or the new file. Read tolerantly: a missing file is empty,
/// and a malformed or unreadable one is logged as a warning and treated as empty (recovery then starts
/// from the beginning of each log, which is slower but safe).
/// </summary>
public sealed class OffsetCheckpointFile
{
    /// <summary>Everything below these offsets is on disk (Kafka's name).</summary>
    public const string RecoveryPointFileName = "recovery-point-offset-checkpoint";

    /// <summary>Each partition's log start offset (Kafka's name).</summary>
    public const string LogStartOffsetFileName = "log-start-offset-checkpoint";

    /// <summary>Each partition's high watermark (Kafka's name for the high-watermark checkpoint).</summary>
    public const string HighWatermarkFileName = "replication-offset-checkpoint";

    /// <summary>How far compaction has cleaned each compacted partition (Kafka's name).</summary>
    public const string CleanerOffsetFileName = "cleaner-offset-checkpoint";

    public const int CurrentVersion = 0;

    private readonly Lock _writeLock = new();
    private readonly ILogger _logger;

    public OffsetCheckpointFile(string path, ILogger logger)
    {
        FilePath = path;
        _logger = logger;
    }

    public string FilePath { get; }

    /// <summary>Replaces the file's contents with <paramref name="offsets"/>, durably. Concurrent writers are serialized.</summary>
    public void Write(IEnumerable<KeyValuePair<TopicPartition, long>> offsets)
    {
        var text = Format(offsets);
        lock (_writeLock)
        {
            CheckpointFile.WriteAtomically(FilePath, text);
        }
    }

    /// <summary>The offsets in the file; empty when it is missing, and (with a warning) when it is malformed or unreadable.</summary>
    public Dictionary<TopicPartition, long> Read()
    {
        string text;
        try
        {
            text = File.ReadAllText(FilePath, Encoding.UTF8);
        }
        catch (FileNotFoundException)
        {
            return [];
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning(e, "Cannot read the checkpoint file {File}; treating it as empty", FilePath);
            return [];
        }

        if (TryParse(text, out var offsets, out var error))
        {
            return offsets;
        }

        _logger.LogWarning("Ignoring the malformed checkpoint file {File} ({Error}); treating it as empty", FilePath, error);
        return [];
    }

    /// <summary>The file's text for <paramref name="offsets"/> (entries sorted by topic and partition, "\n" line ends).</summary>
    public static string Format(IEnumerable<KeyValuePair<TopicPartition, long>> offsets)
    {
        var entries = offsets.OrderBy(e => e.Key.Topic, StringComparer.Ordinal).ThenBy(e => e.Key.Partition).ToList();
        var text = new StringBuilder();
        text.Append(CheckpointFile.FormatHeader(CurrentVersion, entries.Count));
        foreach (var (tp, offset) in entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"{tp.Topic} {tp.Partition} {offset}\n");
        }

        return text.ToString();
    }

    /// <summary>Parses a checkpoint file's text; false with a reason when the version, the count or any entry line is wrong.</summary>
    public static bool TryParse(string text, out Dictionary<TopicPartition, long> offsets, out string? error)
    {
        offsets = [];
        if (!CheckpointFile.TryReadEntries(text, CurrentVersion, out var lines, out error))
        {
            return false;
        }

        for (var i = 0; i < lines.Count; i++)
        {
            var parts = lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 3
                || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
                || !long.TryParse(parts[2], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var offset))
            {
                error = $"malformed entry on line {i + 3}: '{lines[i]}'";
                offsets = [];
                return false;
            }

            offsets[new TopicPartition(parts[0], partition)] = offset;
        }

        return true;
    }
}
