using System.Runtime.CompilerServices;

namespace KafkaCompatBroker.Records;

/// <summary>
/// Zigzag varint (int32, at most 5 bytes) and varlong (int64, at most 10 bytes) as used inside v2 records.
/// Readers throw <see cref="RecordsException"/> (INVALID_RECORD) on truncated or over-long encodings, never an index error.
/// </summary>
public static class VarInt
{
    public const int MaxVarIntBytes = 5;
    public const int MaxVarLongBytes = 10;

    /// <summary>Reads a zigzag varint at <paramref name="position"/> and advances it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ReadVarInt(ReadOnlySpan<byte> source, ref int position)
    {
        // Fast path: one-byte values (small lengths and deltas) are the vast majority.
        if ((uint)position < (uint)source.Length && source[position] < 0x80)
        {
            uint b = source[position++];
            return (int)(b >> 1) ^ -(int)(b & 1);
        }

        return ReadVarIntSlow(source, ref position);
    }

    /// <summary>Reads a zigzag varlong at <paramref name="position"/> and advances it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ReadVarLong(ReadOnlySpan<byte> source, ref int position)
    {
        if ((uint)position < (uint)source.Length && source[position] < 0x80)
        {
            ulong b = source[position++];
            return (long)(b >> 1) ^ -(long)(b & 1);
        }

        return ReadVarLongSlow(source, ref position);
    }

    private static int ReadVarIntSlow(ReadOnlySpan<byte> source, ref int position)
    {
        uint value = 0;
        var pos = position;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if ((uint)pos >= (uint)source.Length)
            {
                RecordsException.ThrowInvalidRecord("truncated varint");
            }

            uint b = source[pos++];
            // The 5th byte may only carry the top 4 bits of the 32-bit value.
            if (shift == 28 && b > 0x0F)
            {
                RecordsException.ThrowInvalidRecord("varint is too long or overflows 32 bits");
            }

            value |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                position = pos;
                return (int)(value >> 1) ^ -(int)(value & 1);
            }
        }

        RecordsException.ThrowInvalidRecord("varint is too long");
        return 0;
    }

    private static long ReadVarLongSlow(ReadOnlySpan<byte> source, ref int position)
    {
        ulong value = 0;
        var pos = position;
        for (var shift = 0; shift < 70; shift += 7)
        {
            if ((uint)pos >= (uint)source.Length)
            {
                RecordsException.ThrowInvalidRecord("truncated varlong");
            }

            ulong b = source[pos++];
            // The 10th byte may only carry the top bit of the 64-bit value.
            if (shift == 63 && b > 0x01)
            {
                RecordsException.ThrowInvalidRecord("varlong is too long or overflows 64 bits");
            }

            value |= (b & 0x7F) << shift;
            if (b < 0x80)
            {
                position = pos;
                return (long)(value >> 1) ^ -(long)(value & 1);
            }
        }

        RecordsException.ThrowInvalidRecord("varlong is too long");
        return 0;
    }

    /// <summary>Number of bytes <see cref="WriteVarInt"/> writes for <paramref name="value"/>.</summary>
    public static int SizeOfVarInt(int value) => SizeOfUnsigned(ZigZag(value));

    /// <summary>Number of bytes <see cref="WriteVarLong"/> writes for <paramref name="value"/>.</summary>
    public static int SizeOfVarLong(long value) => SizeOfUnsigned(ZigZag(value));

    /// <summary>Writes <paramref name="value"/> as a zigzag varint; returns the bytes written.</summary>
    public static int WriteVarInt(Span<byte> destination, int value) => WriteUnsigned(destination, ZigZag(value));

    /// <summary>Writes <paramref name="value"/> as a zigzag varlong; returns the bytes written.</summary>
    public static int WriteVarLong(Span<byte> destination, long value) => WriteUnsigned(destination, ZigZag(value));

    private static ulong ZigZag(int value) => (uint)((value << 1) ^ (value >> 31));

    private static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    private static int SizeOfUnsigned(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    private static int WriteUnsigned(Span<byte> destination, ulong value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }
}
