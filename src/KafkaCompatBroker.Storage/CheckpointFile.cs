using System.Globalization;
using System.Text;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// What Kafka's checkpoint files share (its CheckpointFile): a version line, an entry-count line, then one line per
/// entry, written atomically — a ".tmp" file is written and fsynced, renamed over the old one, and the directory
/// fsynced, so a crash leaves either the old or the new file.
/// </summary>
internal static class CheckpointFile
{
    /// <summary>Replaces <paramref name="path"/> with <paramref name="text"/>, durably (callers serialize their writers).</summary>
    public static void WriteAtomically(string path, string text)
    {
        var temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        FileSync.FsyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>The header of a checkpoint text: the version line and the entry count.</summary>
    public static string FormatHeader(int version, int count) => string.Create(CultureInfo.InvariantCulture, $"{version}\n{count}\n");

    /// <summary>
    /// The entry lines of a checkpoint text (line ends "\n" or "\r\n", trailing empty lines ignored); false with a
    /// reason when the version is not <paramref name="version"/> or the count does not match the lines.
    /// </summary>
    public static bool TryReadEntries(string text, int version, out List<string> entries, out string? error)
    {
        entries = [];
        error = null;
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        while (lines.Count > 0 && lines[^1].Trim().Length == 0)
        {
            lines.RemoveAt(lines.Count - 1); // trailing line end(s)
        }

        if (lines.Count < 2)
        {
            error = lines.Count == 0 ? "the file is empty" : "the entry count line is missing";
            return false;
        }

        if (!int.TryParse(lines[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var found) || found != version)
        {
            error = $"unrecognized version line '{lines[0]}' (expected {version})";
            return false;
        }

        if (!int.TryParse(lines[1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var count))
        {
            error = $"invalid entry count line '{lines[1]}'";
            return false;
        }

        if (lines.Count - 2 != count)
        {
            error = $"expected {count} entries but found {lines.Count - 2}";
            return false;
        }

        entries = lines.GetRange(2, count);
        return true;
    }
}
