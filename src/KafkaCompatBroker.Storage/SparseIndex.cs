using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// An append-only file of fixed-size entries, mirrored in memory for lock-free lookups. One writer
/// (the partition's append path, under its lock) and any number of readers: an entry is complete in
/// the array before the count that makes it visible is published.
/// </summary>
/// <remarks>
/// Lookups only read memory, so appends do not write the file one entry at a time (a syscall per
/// entry): the entries after the first <c>_written</c> are pending and go to the file in one write
/// when <see cref="PendingEntriesLimit"/> bytes of them have gathered, and always before the file is
/// fsynced (<see cref="Flush"/>), renamed, truncated or closed. A crash can lose pending entries;
/// that is safe because the file is complete whenever it is synced, and after an unclean shutdown a
/// segment's index is only trusted when the segment lies wholly before the one holding the recovery
/// point, which the log advances only after flushing (see <see cref="LogSegment.Flush"/>). The file
/// writes are serialized by <c>_fileLock</c>, since <see cref="Flush"/> also runs outside the
/// partition's lock (background flushes after a roll and on flush.ms).
/// The file is only held open once something is written to it: an index with no entries on disk holds no file
/// descriptor, so an empty partition costs one (its log file), as in Kafka, which closes an index file once it is
/// mapped (AbstractIndex). Ten thousand new partitions would otherwise take thirty thousand descriptors.
/// </remarks>
internal abstract class SparseIndex : IDisposable
{
    /// <summary>Bytes of pending entries that trigger a write to the file.</summary>
    private const int PendingEntriesLimit = 4096;

    private readonly int _entrySize;
    private readonly int _maxPendingEntries;
    private readonly Lock _fileLock = new();
    private SafeFileHandle? _file; // opened on the first write, under _fileLock
    private long[] _keys = new long[64];
    private long[] _values = new long[64];
    private int _count;
    private int _written; // entries in the file (a prefix of the first _count); changed under _fileLock
    private byte[]? _writeBuffer; // under _fileLock
    private bool _disposed; // under _fileLock

    protected SparseIndex(string path, long baseOffset, int maxEntries, int entrySize)
    {
        Path = path;
        BaseOffset = baseOffset;
        MaxEntries = maxEntries;
        _entrySize = entrySize;
        _maxPendingEntries = Math.Max(1, PendingEntriesLimit / entrySize);
        File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete).Dispose();
    }

    public string Path { get; private set; }

    public long BaseOffset { get; }

    public int MaxEntries { get; }

    public int Count => Volatile.Read(ref _count);

    public bool IsFull => Count >= MaxEntries;

    /// <summary>Reads the file into memory; false (and empty) when its size is not a whole number of entries.</summary>
    protected bool LoadEntries(Func<long, long, bool> entryIsSane)
    {
        byte[] bytes;
        using (var file = File.OpenHandle(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            var fileLength = RandomAccess.GetLength(file);
            if (fileLength % _entrySize != 0 || fileLength / _entrySize > MaxEntries)
            {
                return false;
            }

            bytes = new byte[fileLength];
            var read = 0;
            while (read < bytes.Length)
            {
                var n = RandomAccess.Read(file, bytes.AsSpan(read), read);
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }
        }


        var count = bytes.Length / _entrySize;
        EnsureCapacity(count);
        for (var i = 0; i < count; i++)
        {
            var (key, value) = Decode(bytes.AsSpan(i * _entrySize, _entrySize));
            if (!entryIsSane(key, value) || (i > 0 && key <= _keys[i - 1]))
            {
                Volatile.Write(ref _count, 0);
                return false;
            }

            _keys[i] = key;
            _values[i] = value;
        }

        lock (_fileLock)
        {
            _written = count;
        }

        Volatile.Write(ref _count, count);
        return true;
    }

    protected abstract (long Key, long Value) Decode(ReadOnlySpan<byte> entry);

    protected abstract void Encode(long key, long value, Span<byte> entry);

    protected void AppendEntry(long key, long value)
    {
        var count = _count;
        if (count >= MaxEntries)
        {
            throw new InvalidOperationException($"index {Path} is full");
        }

        EnsureCapacity(count + 1);
        _keys[count] = key;
        _values[count] = value;
        Volatile.Write(ref _count, count + 1);
        if (count + 1 - Volatile.Read(ref _written) >= _maxPendingEntries)
        {
            WritePendingEntries();
        }
    }

    /// <summary>Writes the pending entries to the file (no fsync): the file then holds every entry.</summary>
    public void WritePendingEntries()
    {
        lock (_fileLock)
        {
            WritePendingLocked();
        }
    }

    private void WritePendingLocked()
    {
        var count = Volatile.Read(ref _count);
        if (_disposed || _written >= count)
        {
            return;
        }

        // Entries below the published count are complete and stay unchanged until a truncation,
        // which takes _fileLock; arrays read after the count hold them (see EnsureCapacity).
        var keys = Volatile.Read(ref _keys);
        var values = Volatile.Read(ref _values);
        var buffer = _writeBuffer ??= new byte[_maxPendingEntries * _entrySize];
        while (_written < count)
        {
            var first = _written;
            var n = Math.Min(count - first, _maxPendingEntries);
            for (var i = 0; i < n; i++)
            {
                Encode(keys[first + i], values[first + i], buffer.AsSpan(i * _entrySize, _entrySize));
            }

            RandomAccess.Write(FileLocked(), buffer.AsSpan(0, n * _entrySize), (long)first * _entrySize);
            Volatile.Write(ref _written, first + n);
        }
    }

    protected long LastKey => Count == 0 ? long.MinValue : _keys[Count - 1];

    /// <summary>The last entry whose key is at most <paramref name="key"/> (or strictly less); -1 when none.</summary>
    protected int FloorIndex(long key, bool strict)
    {
        var count = Volatile.Read(ref _count);
        var keys = Volatile.Read(ref _keys);
        int lo = 0, hi = count - 1, found = -1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            if (strict ? keys[mid] < key : keys[mid] <= key)
            {
                found = mid;
                lo = mid + 1;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return found;
    }

    protected long KeyAt(int i) => Volatile.Read(ref _keys)[i];

    protected long ValueAt(int i) => Volatile.Read(ref _values)[i];

    /// <summary>Keeps the entries whose key is below <paramref name="key"/>.</summary>
    protected void TruncateKeysFrom(long key)
    {
        TruncateTo(FloorIndex(key, strict: true) + 1);
    }

    /// <summary>Keeps the entries whose value is below <paramref name="value"/> (values increase with keys).</summary>
    protected void TruncateValuesFrom(long value)
    {
        var keep = 0;
        while (keep < Count && _values[keep] < value)
        {
            keep++;
        }

        TruncateTo(keep);
    }

    public void Reset() => TruncateTo(0);

    /// <summary>
    /// Forgets every entry before the index is rebuilt from its segment, but leaves the file as it is: the
    /// rebuilt entries overwrite it from the start and <see cref="FinishRebuild"/> cuts off what is left.
    /// A rebuild mostly writes the same entries again, and truncating first would cost an ftruncate per
    /// index file (a journal operation), which made up much of the time to recover many small segments.
    /// </summary>
    public void BeginRebuild()
    {
        lock (_fileLock)
        {
            Volatile.Write(ref _count, 0);
            _written = 0;
        }
    }

    /// <summary>Writes the rebuilt entries and makes the file hold exactly them.</summary>
    public void FinishRebuild()
    {
        lock (_fileLock)
        {
            WritePendingLocked();
            var length = (long)_written * _entrySize;
            var file = FileLocked();
            if (RandomAccess.GetLength(file) != length)
            {
                RandomAccess.SetLength(file, length);
            }
        }
    }

    /// <summary>Keeps the first <paramref name="keep"/> entries; pending ones among them stay pending.</summary>
    private void TruncateTo(int keep)
    {
        lock (_fileLock)
        {
            Volatile.Write(ref _count, keep);
            if (_written > keep)
            {
                Volatile.Write(ref _written, keep);
            }

            RandomAccess.SetLength(FileLocked(), (long)_written * _entrySize);
        }
    }

    /// <summary>Writes the pending entries and fsyncs the file.</summary>
    public void Flush()
    {
        SafeFileHandle? file;
        lock (_fileLock)
        {
            WritePendingLocked();
            file = _file;
        }

        // Never opened: nothing was written since the file was created or last read, so there is nothing to sync.
        if (file is not null)
        {
            FileSync.Fsync(file);
        }
    }

    /// <summary>The open file, opened now if it was not (under <c>_fileLock</c>).</summary>
    private SafeFileHandle FileLocked()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _file ??= File.OpenHandle(Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
    }

    public void Rename(string newPath)
    {
        lock (_fileLock)
        {
            WritePendingLocked();
            File.Move(Path, newPath, overwrite: true);
            Path = newPath;
        }
    }

    private void EnsureCapacity(int needed)
    {
        if (needed <= _keys.Length)
        {
            return;
        }

        var size = Math.Max(needed, _keys.Length * 2);
        var keys = new long[size];
        var values = new long[size];
        Array.Copy(_keys, keys, _count);
        Array.Copy(_values, values, _count);
        // Values before keys: a reader that sees the new key array also sees its values.
        Volatile.Write(ref _values, values);
        Volatile.Write(ref _keys, keys);
    }

    /// <summary>Writes the pending entries (no fsync; a clean close has flushed already) and closes the file.</summary>
    public void Dispose()
    {
        lock (_fileLock)
        {
            if (_disposed)
            {
                return;
            }

            try
            {
                WritePendingLocked();
            }
            catch (IOException)
            {
                // Best effort: a shorter index is still a valid one (lookups scan on from the last
                // entry), and Close flushes, which reports the error, before it disposes.
            }
            finally
            {
                _disposed = true;
                _file?.Dispose();
            }
        }
    }
}
