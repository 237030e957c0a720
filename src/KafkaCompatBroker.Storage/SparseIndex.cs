using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// An append-only file of fixed-size entries, mirrored in memory for lock-free lookups. One writer
/// (the partition's append path, under its lock) and any number of readers: an entry is complete in
/// the array before the count that makes it visible is published.
/// </summary>
internal abstract class SparseIndex : IDisposable
{
    private readonly int _entrySize;
    private SafeFileHandle _file;
    private long[] _keys = new long[64];
    private long[] _values = new long[64];
    private int _count;

    protected SparseIndex(string path, long baseOffset, int maxEntries, int entrySize)
    {
        Path = path;
        BaseOffset = baseOffset;
        MaxEntries = maxEntries;
        _entrySize = entrySize;
        _file = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
    }

    public string Path { get; private set; }

    public long BaseOffset { get; }

    public int MaxEntries { get; }

    public int Count => Volatile.Read(ref _count);

    public bool IsFull => Count >= MaxEntries;

    /// <summary>Reads the file into memory; false (and empty) when its size is not a whole number of entries.</summary>
    protected bool LoadEntries(Func<long, long, bool> entryIsSane)
    {
        var length = RandomAccess.GetLength(_file);
        if (length % _entrySize != 0 || length / _entrySize > MaxEntries)
        {
            return false;
        }

        var bytes = new byte[length];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(_file, bytes.AsSpan(read), read);
            if (n == 0)
            {
                return false;
            }

            read += n;
        }

        var count = (int)(length / _entrySize);
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
        Span<byte> entry = stackalloc byte[16];
        Encode(key, value, entry);
        RandomAccess.Write(_file, entry[.._entrySize], (long)count * _entrySize);
        Volatile.Write(ref _count, count + 1);
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
        var keep = FloorIndex(key, strict: true) + 1;
        Volatile.Write(ref _count, keep);
        RandomAccess.SetLength(_file, (long)keep * _entrySize);
    }

    /// <summary>Keeps the entries whose value is below <paramref name="value"/> (values increase with keys).</summary>
    protected void TruncateValuesFrom(long value)
    {
        var keep = 0;
        while (keep < Count && _values[keep] < value)
        {
            keep++;
        }

        Volatile.Write(ref _count, keep);
        RandomAccess.SetLength(_file, (long)keep * _entrySize);
    }

    public void Reset()
    {
        Volatile.Write(ref _count, 0);
        RandomAccess.SetLength(_file, 0);
    }

    public void Flush() => FileSync.Fsync(_file);

    public void Rename(string newPath)
    {
        File.Move(Path, newPath, overwrite: true);
        Path = newPath;
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

    public void Dispose() => _file.Dispose();
}
