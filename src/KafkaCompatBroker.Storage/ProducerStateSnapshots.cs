using System.Globalization;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// Producer-state snapshot files next to a partition's segments ("&lt;offset, 20 digits&gt;.snapshot"), so
/// recovery can restore idempotent-producer state at an offset and replay only the batches after it.
/// The log keeps them consistent with its data: truncation drops snapshots past the new end, and
/// retention drops those below the new start. What a snapshot contains belongs to the producer-state owner.
/// </summary>
public sealed class ProducerStateSnapshots(string directory)
{
    public const string Suffix = ".snapshot";

    /// <summary>Writes a snapshot taken at <paramref name="offset"/> (all batches below it applied), atomically and durably.</summary>
    public void Write(long offset, ReadOnlySpan<byte> content)
    {
        var path = PathFor(offset);
        var temp = path + ".tmp";
        using (var file = File.OpenHandle(temp, FileMode.Create, FileAccess.Write))
        {
            RandomAccess.Write(file, content, 0);
            FileSync.Fsync(file);
        }

        File.Move(temp, path, overwrite: true);
        FileSync.FsyncDirectory(directory);
    }

    /// <summary>Offsets of the snapshots on disk, ascending.</summary>
    public IReadOnlyList<long> Offsets()
    {
        var offsets = new List<long>();
        foreach (var file in Directory.EnumerateFiles(directory, "*" + Suffix))
        {
            if (long.TryParse(Path.GetFileNameWithoutExtension(file), NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                offsets.Add(offset);
            }
        }

        offsets.Sort();
        return offsets;
    }

    /// <summary>The newest snapshot taken at or below <paramref name="offset"/>: its offset and content.</summary>
    public (long Offset, byte[] Content)? Latest(long offset = long.MaxValue)
    {
        var candidates = Offsets().Where(o => o <= offset).ToList();
        return candidates.Count == 0 ? null : (candidates[^1], File.ReadAllBytes(PathFor(candidates[^1])));
    }

    /// <summary>Drops snapshots taken above <paramref name="offset"/> (the log was truncated to it).</summary>
    public void DeleteAfter(long offset)
    {
        foreach (var o in Offsets().Where(o => o > offset))
        {
            File.Delete(PathFor(o));
        }
    }

    /// <summary>Drops snapshots below <paramref name="offset"/> (the log's start moved past them).</summary>
    public void DeleteBefore(long offset)
    {
        foreach (var o in Offsets().Where(o => o < offset))
        {
            File.Delete(PathFor(o));
        }
    }

    private string PathFor(long offset) => Path.Combine(directory, offset.ToString("D20", CultureInfo.InvariantCulture) + Suffix);
}
