using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// An aborted transaction as Kafka's .txnindex stores it: the producer, the first offset of its data, the
/// offset of its ABORT marker, and the partition's last stable offset when the marker was written.
/// </summary>
public readonly record struct AbortedTxn(long ProducerId, long FirstOffset, long LastOffset, long LastStableOffset)
{
    /// <summary>Bytes of one entry: version (int16) + four int64s.</summary>
    public const int Size = 34;

    public const short CurrentVersion = 0;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt16BigEndian(destination, CurrentVersion);
        BinaryPrimitives.WriteInt64BigEndian(destination[2..], ProducerId);
        BinaryPrimitives.WriteInt64BigEndian(destination[10..], FirstOffset);
        BinaryPrimitives.WriteInt64BigEndian(destination[18..], LastOffset);
        BinaryPrimitives.WriteInt64BigEndian(destination[26..], LastStableOffset);
    }

    public static AbortedTxn Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadInt64BigEndian(source[2..]),
        BinaryPrimitives.ReadInt64BigEndian(source[10..]),
        BinaryPrimitives.ReadInt64BigEndian(source[18..]),
        BinaryPrimitives.ReadInt64BigEndian(source[26..]));
}

/// <summary>
/// A segment's transaction index ("&lt;base offset&gt;.txnindex", Kafka's format, entries in marker order):
/// the aborted transactions whose ABORT marker lies in the segment. The file is created with its first
/// entry. Entries are few, so they are also kept in memory (an immutable array swapped on change), which
/// lets fetches collect them without touching the disk or taking a lock.
/// </summary>
internal sealed class TransactionIndex : IDisposable
{
    private readonly Lock _lock = new();
    private AbortedTxn[] _entries = [];
    private SafeFileHandle? _file;
    private bool _dirty;

    public TransactionIndex(string path)
    {
        Path = path;
        if (File.Exists(path))
        {
            Load();
        }
    }

    public string Path { get; private set; }

    public IReadOnlyList<AbortedTxn> Entries => Volatile.Read(ref _entries);

    public bool IsEmpty => Volatile.Read(ref _entries).Length == 0;

    private void Load()
    {
        var bytes = File.ReadAllBytes(Path);
        var entries = new List<AbortedTxn>(bytes.Length / AbortedTxn.Size);
        for (var position = 0; position + AbortedTxn.Size <= bytes.Length; position += AbortedTxn.Size)
        {
            var span = bytes.AsSpan(position, AbortedTxn.Size);
            if (BinaryPrimitives.ReadInt16BigEndian(span) != AbortedTxn.CurrentVersion)
            {
                throw new KafkaStorageException($"transaction index {Path} has an entry of unknown version {BinaryPrimitives.ReadInt16BigEndian(span)} at byte {position}");
            }

            entries.Add(AbortedTxn.Read(span));
        }

        _entries = [.. entries];
        if (bytes.Length % AbortedTxn.Size != 0)
        {
            Rewrite(); // a torn last entry (the process died mid-write): drop it
        }
    }

    /// <summary>Appends an entry; markers come in offset order, so its last offset must not go back.</summary>
    public void Append(AbortedTxn txn)
    {
        lock (_lock)
        {
            var entries = _entries;
            if (entries.Length > 0 && txn.LastOffset < entries[^1].LastOffset)
            {
                throw new InvalidOperationException($"the last offset of appended transactions must increase: {txn.LastOffset} after {entries[^1].LastOffset} in {Path}");
            }

            Span<byte> bytes = stackalloc byte[AbortedTxn.Size];
            txn.Write(bytes);
            _file ??= File.OpenHandle(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
            RandomAccess.Write(_file, bytes, (long)entries.Length * AbortedTxn.Size);
            _dirty = true;
            Volatile.Write(ref _entries, [.. entries, txn]);
        }
    }

    /// <summary>Whether an entry for this transaction (producer, first and last offset) is already here.</summary>
    public bool Contains(long producerId, long firstOffset, long lastOffset)
    {
        foreach (var entry in Volatile.Read(ref _entries))
        {
            if (entry.ProducerId == producerId && entry.FirstOffset == firstOffset && entry.LastOffset == lastOffset)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Adds the entries overlapping [<paramref name="fetchOffset"/>, <paramref name="upperBoundOffset"/>) to
    /// <paramref name="into"/>; true when the search is complete (an entry's last stable offset reached the
    /// upper bound, so no later segment can hold a transaction that overlaps the range) — Kafka's rule.
    /// </summary>
    public bool Collect(long fetchOffset, long upperBoundOffset, List<AbortedTxn> into)
    {
        foreach (var entry in Volatile.Read(ref _entries))
        {
            if (entry.LastOffset >= fetchOffset && entry.FirstOffset < upperBoundOffset)
            {
                into.Add(entry);
            }

            if (entry.LastStableOffset >= upperBoundOffset)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Drops the entries whose marker is at or after <paramref name="offset"/> (the segment was truncated there).</summary>
    public void TruncateTo(long offset)
    {
        lock (_lock)
        {
            var kept = Array.FindAll(_entries, e => e.LastOffset < offset);
            if (kept.Length != _entries.Length)
            {
                Volatile.Write(ref _entries, kept);
                Rewrite();
            }
        }
    }

    /// <summary>Removes every entry (the segment is re-validated and its index rebuilt).</summary>
    public void Reset()
    {
        lock (_lock)
        {
            if (_entries.Length > 0 || File.Exists(Path))
            {
                Volatile.Write(ref _entries, []);
                Rewrite();
            }
        }
    }

    private void Rewrite()
    {
        _file?.Dispose();
        _file = null;
        var entries = _entries;
        if (entries.Length == 0)
        {
            File.Delete(Path);
            return;
        }

        var bytes = new byte[entries.Length * AbortedTxn.Size];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i].Write(bytes.AsSpan(i * AbortedTxn.Size));
        }

        File.WriteAllBytes(Path, bytes);
        _dirty = true;
    }

    public void Flush()
    {
        lock (_lock)
        {
            if (!_dirty)
            {
                return;
            }

            if (_file is not null)
            {
                FileSync.Fsync(_file);
            }
            else if (File.Exists(Path))
            {
                using var file = File.OpenHandle(Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
                FileSync.Fsync(file);
            }

            _dirty = false;
        }
    }

    public void Rename(string path)
    {
        lock (_lock)
        {
            if (File.Exists(Path))
            {
                File.Move(Path, path, overwrite: true);
            }

            Path = path;
        }
    }

    public void Delete()
    {
        lock (_lock)
        {
            _file?.Dispose();
            _file = null;
            File.Delete(Path);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _file?.Dispose();
            _file = null;
        }
    }
}
