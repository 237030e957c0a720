using System.Buffers.Binary;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// A segment's sparse time index (".timeindex"): 12-byte entries of (largest timestamp so far: int64,
/// offset relative to the segment's base offset of the record with that timestamp: int32). Timestamps
/// strictly increase from entry to entry.
/// </summary>
internal sealed class TimeIndex(string path, long baseOffset, int maxIndexBytes)
    : SparseIndex(path, baseOffset, Math.Max(1, maxIndexBytes / EntrySize), EntrySize)
{
    private const int EntrySize = 12;

    public bool Load(long nextOffset) => LoadEntries((_, offset) => offset >= BaseOffset && offset < nextOffset);

    public void Append(long timestamp, long offset)
    {
        if (timestamp > LastKey)
        {
            AppendEntry(timestamp, offset);
        }
    }

    /// <summary>
    /// An offset from which a scan finds the first record with timestamp ≥ <paramref name="timestamp"/>:
    /// every record before the returned offset has a smaller timestamp.
    /// </summary>
    public long ScanStartFor(long timestamp)
    {
        var i = FloorIndex(timestamp, strict: true);
        return i < 0 ? BaseOffset : ValueAt(i);
    }

    public (long Timestamp, long Offset)? Last => Count == 0 ? null : (KeyAt(Count - 1), ValueAt(Count - 1));

    /// <summary>Drops the entries for offsets at or after <paramref name="offset"/>.</summary>
    public void TruncateToOffset(long offset) => TruncateValuesFrom(offset);

    protected override (long Key, long Value) Decode(ReadOnlySpan<byte> entry) =>
        (BinaryPrimitives.ReadInt64BigEndian(entry), BaseOffset + BinaryPrimitives.ReadInt32BigEndian(entry[8..]));

    protected override void Encode(long key, long value, Span<byte> entry)
    {
        BinaryPrimitives.WriteInt64BigEndian(entry, key);
        BinaryPrimitives.WriteInt32BigEndian(entry[8..], checked((int)(value - BaseOffset)));
    }
}
