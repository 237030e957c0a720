using System.Globalization;
using System.Text;

namespace KafkaCompatBroker.Storage;

/// <summary>A leader epoch and the offset of its first record (Kafka's EpochEntry).</summary>
public readonly record struct EpochEntry(int Epoch, long StartOffset);

/// <summary>
/// The leader epochs of one partition's log, each with the offset where it starts (Kafka's LeaderEpochFileCache):
/// what OffsetForLeaderEpoch answers from, and what a follower will truncate by (KIP-101, KIP-279). Epochs and start
/// offsets both increase along the list. It is kept in the partition directory as "leader-epoch-checkpoint", in
/// Kafka's checkpoint text format:
/// <code>
/// 0          ← version
/// 2          ← number of entries
/// 0 0        ← epoch, start offset
/// 3 1200
/// </code>
/// Changes only mark the cache dirty; the log writes it (<see cref="WriteIfDirty"/>) once the operation that changed
/// it has released the log's lock, so no append holds that lock over file I/O. Epochs change rarely (a new leader).
/// </summary>
public sealed class LeaderEpochFileCache
{
    /// <summary>The file's name in the partition directory (Kafka's).</summary>
    public const string FileName = "leader-epoch-checkpoint";

    public const int CurrentVersion = 0;

    /// <summary>Kafka's UNDEFINED_EPOCH and UNDEFINED_EPOCH_OFFSET.</summary>
    public const int UndefinedEpoch = -1;

    public const long UndefinedEpochOffset = -1;

    private readonly Lock _lock = new();
    private readonly Lock _writeLock = new();
    private readonly List<EpochEntry> _entries = [];
    private volatile int _latestEpoch = UndefinedEpoch;
    private long _changes;
    private long _written;

    private LeaderEpochFileCache(string filePath) => FilePath = filePath;

    public string FilePath { get; }

    /// <summary>The newest epoch, or <see cref="UndefinedEpoch"/> when there is none: the append path compares a batch's epoch with it without a lock.</summary>
    public int LatestEpoch => _latestEpoch;

    /// <summary>Whether a change has not been written to the file yet.</summary>
    public bool IsDirty => Interlocked.Read(ref _changes) != Interlocked.Read(ref _written);

    /// <summary>A copy of the entries, oldest first.</summary>
    public IReadOnlyList<EpochEntry> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>
    /// The cache of the partition directory <paramref name="directory"/>, from its checkpoint file. False (with the
    /// cache empty and <paramref name="problem"/> saying why) when the file is missing, unreadable or malformed: the
    /// caller rebuilds the entries from the log's batches then.
    /// </summary>
    public static bool TryLoad(string directory, out LeaderEpochFileCache cache, out string? problem)
    {
        cache = new LeaderEpochFileCache(Path.Combine(directory, FileName));
        string text;
        try
        {
            text = File.ReadAllText(cache.FilePath, Encoding.UTF8);
        }
        catch (FileNotFoundException)
        {
            problem = "it has no " + FileName;
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"its {FileName} is unreadable ({e.Message})";
            return false;
        }

        if (!TryParse(text, out var entries, out var error))
        {
            problem = $"its {FileName} is malformed ({error})";
            return false;
        }

        foreach (var entry in entries)
        {
            cache.AssignLocked(entry);
        }

        cache._written = cache._changes;
        problem = null;
        return true;
    }

    /// <summary>
    /// Records that <paramref name="epoch"/> starts at <paramref name="startOffset"/> (Kafka's assign): nothing changes
    /// when the latest entry is that epoch from at most that offset; otherwise entries that the new one would make
    /// non-monotonic (an epoch or start offset at or above it) are removed first. True when the cache changed.
    /// </summary>
    public bool Assign(int epoch, long startOffset)
    {
        if (epoch < 0 || startOffset < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(epoch), $"invalid leader epoch entry {epoch} at offset {startOffset}");
        }

        lock (_lock)
        {
            return AssignLocked(new EpochEntry(epoch, startOffset));
        }
    }

    private bool AssignLocked(EpochEntry entry)
    {
        if (_entries.Count > 0 && _entries[^1] is var latest && latest.Epoch == entry.Epoch && latest.StartOffset <= entry.StartOffset)
        {
            return false;
        }

        while (_entries.Count > 0 && (_entries[^1].Epoch >= entry.Epoch || _entries[^1].StartOffset >= entry.StartOffset))
        {
            _entries.RemoveAt(_entries.Count - 1);
        }

        _entries.Add(entry);
        ChangedLocked();
        return true;
    }

    /// <summary>
    /// The end offset of <paramref name="requestedEpoch"/> (Kafka's endOffsetFor): -1 / -1 for
    /// <see cref="UndefinedEpoch"/> or an epoch above every known one; the latest epoch ends at
    /// <paramref name="logEndOffset"/>; an older epoch ends where the next higher epoch starts, reported with the
    /// largest known epoch at or below the requested one (or the requested one itself when none is that old).
    /// </summary>
    public (int Epoch, long EndOffset) EndOffsetFor(int requestedEpoch, long logEndOffset)
    {
        lock (_lock)
        {
            if (requestedEpoch == UndefinedEpoch || _entries.Count == 0)
            {
                return (UndefinedEpoch, UndefinedEpochOffset);
            }

            if (requestedEpoch == _entries[^1].Epoch)
            {
                return (requestedEpoch, logEndOffset);
            }

            var higher = 0;
            while (higher < _entries.Count && _entries[higher].Epoch <= requestedEpoch)
            {
                higher++;
            }

            if (higher == _entries.Count)
            {
                return (UndefinedEpoch, UndefinedEpochOffset);
            }

            var floorEpoch = higher == 0 ? requestedEpoch : _entries[higher - 1].Epoch;
            return (floorEpoch, _entries[higher].StartOffset);
        }
    }

    /// <summary>The epoch of the entry covering <paramref name="offset"/> (Kafka's epochForOffset), or null when it lies before every entry.</summary>
    public int? EpochForOffset(long offset)
    {
        lock (_lock)
        {
            int? previous = null;
            foreach (var entry in _entries)
            {
                if (entry.StartOffset > offset)
                {
                    break;
                }

                previous = entry.Epoch;
            }

            return previous;
        }
    }

    /// <summary>The log was truncated to <paramref name="endOffset"/>: entries starting at or after it go (Kafka's truncateFromEnd).</summary>
    public bool TruncateFromEnd(long endOffset)
    {
        lock (_lock)
        {
            var removed = false;
            while (endOffset >= 0 && _entries.Count > 0 && _entries[^1].StartOffset >= endOffset)
            {
                _entries.RemoveAt(_entries.Count - 1);
                removed = true;
            }

            if (removed)
            {
                ChangedLocked();
            }

            return removed;
        }
    }

    /// <summary>
    /// The log start moved up to <paramref name="startOffset"/> (DeleteRecords, retention; Kafka's truncateFromStart):
    /// entries starting at or below it go, except that the last of them stays, starting at <paramref name="startOffset"/>
    /// instead, since it covers the new first record.
    /// </summary>
    public bool TruncateFromStart(long startOffset)
    {
        lock (_lock)
        {
            var covering = -1;
            while (covering + 1 < _entries.Count && _entries[covering + 1].StartOffset <= startOffset)
            {
                covering++;
            }

            if (covering < 0 || (covering == 0 && _entries[0].StartOffset == startOffset))
            {
                return false;
            }

            var kept = _entries[covering] with { StartOffset = startOffset };
            _entries.RemoveRange(0, covering);
            _entries[0] = kept;
            ChangedLocked();
            return true;
        }
    }

    /// <summary>Forgets every entry (the log was emptied and starts afresh; Kafka's clearAndFlush).</summary>
    public void Clear()
    {
        lock (_lock)
        {
            if (_entries.Count > 0)
            {
                _entries.Clear();
            }

            ChangedLocked();
        }
    }

    /// <summary>Marks the cache changed without a change of entries, so the next <see cref="WriteIfDirty"/> writes the file (e.g. after a rebuild).</summary>
    public void MarkDirty()
    {
        lock (_lock)
        {
            ChangedLocked();
        }
    }

    /// <summary>
    /// Writes the file when a change is not written yet: atomically and durably (see <see cref="CheckpointFile"/>).
    /// Call it outside the log's lock. A failed write leaves the cache dirty, so a later call retries it.
    /// </summary>
    public void WriteIfDirty()
    {
        lock (_writeLock)
        {
            string text;
            long changes;
            lock (_lock)
            {
                changes = _changes;
                if (changes == _written)
                {
                    return;
                }

                text = Format(_entries);
            }

            CheckpointFile.WriteAtomically(FilePath, text);
            Interlocked.Exchange(ref _written, changes);
        }
    }

    /// <summary>The file's text for <paramref name="entries"/>.</summary>
    public static string Format(IReadOnlyCollection<EpochEntry> entries)
    {
        var text = new StringBuilder(CheckpointFile.FormatHeader(CurrentVersion, entries.Count));
        foreach (var entry in entries)
        {
            text.Append(CultureInfo.InvariantCulture, $"{entry.Epoch} {entry.StartOffset}\n");
        }

        return text.ToString();
    }

    /// <summary>Parses the file's text; false with a reason when a line is wrong or the entries are not increasing.</summary>
    public static bool TryParse(string text, out List<EpochEntry> entries, out string? error)
    {
        entries = [];
        if (!CheckpointFile.TryReadEntries(text, CurrentVersion, out var lines, out error))
        {
            return false;
        }

        foreach (var line in lines)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var startOffset))
            {
                error = $"malformed entry '{line}'";
                entries = [];
                return false;
            }

            if (entries.Count > 0 && (entries[^1].Epoch >= epoch || entries[^1].StartOffset > startOffset))
            {
                error = $"entry '{line}' does not follow {entries[^1].Epoch} {entries[^1].StartOffset}";
                entries = [];
                return false;
            }

            entries.Add(new EpochEntry(epoch, startOffset));
        }

        return true;
    }

    private void ChangedLocked()
    {
        _changes++;
        _latestEpoch = _entries.Count > 0 ? _entries[^1].Epoch : UndefinedEpoch;
    }

    public override string ToString() => $"{FilePath}: {string.Join(", ", Entries.Select(e => $"{e.Epoch}@{e.StartOffset}"))}";
}
