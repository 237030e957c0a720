using System.Buffers.Binary;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// A segment's sparse offset index (".index"): 8-byte entries of (offset relative to the segment's
/// base offset: int32, byte position in the segment: int32), one every index.interval.bytes of log.
/// </summary>
internal sealed class OffsetIndex(string path, long baseOffset, int maxIndexBytes)
    : SparseIndex(path, baseOffset, Math.Max(1, maxIndexBytes / EntrySize), EntrySize)
{
    private const int EntrySize = 8;

    /// <summary>Loads the file, checking that offsets and positions increase and lie inside the segment.</summary>
    public bool Load(long logSize) => LoadEntries((offset, position) => offset >= BaseOffset && position >= 0 && position < logSize);

    public void Append(long offset, int position)
    {
        if (offset > LastKey)
        {
            AppendEntry(offset, position);
        }
    }

    /// <summary>The last indexed batch at or before <paramref name="offset"/>, or the segment's start.</summary>
    public (long Offset, int Position) Lookup(long offset)
    {
        var i = FloorIndex(offset, strict: false);
        return i < 0 ? (BaseOffset, 0) : (KeyAt(i), (int)ValueAt(i));
    }

    /// <summary>Drops the entries at or after this byte position (the log is being truncated there).</summary>
    public void TruncateToPosition(int position) => TruncateValuesFrom(position);

    protected override (long Key, long Value) Decode(ReadOnlySpan<byte> entry) =>
        (BaseOffset + BinaryPrimitives.ReadInt32BigEndian(entry), BinaryPrimitives.ReadInt32BigEndian(entry[4..]));

    protected override void Encode(long key, long value, Span<byte> entry)
    {
        BinaryPrimitives.WriteInt32BigEndian(entry, checked((int)(key - BaseOffset)));
        BinaryPrimitives.WriteInt32BigEndian(entry[4..], checked((int)value));
    }
}
