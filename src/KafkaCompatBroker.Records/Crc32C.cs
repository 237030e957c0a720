using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace KafkaCompatBroker.Records;

/// <summary>
/// CRC-32C (Castagnoli), the checksum of Kafka record batches v2.
/// <see cref="Compute(ReadOnlySpan{byte})"/> of data equals <see cref="Append(uint, ReadOnlySpan{byte})"/>
/// called with 0 and then with each part in turn, so a segmented buffer can be checked piece by piece.
/// </summary>
public static class Crc32C
{
    // Reflected Castagnoli polynomial.
    private const uint Polynomial = 0x82F63B78u;

    // Slicing-by-8 tables: Table[k * 256 + b] is the CRC of byte b followed by k zero bytes.
    private static readonly uint[] Table = BuildTable();

    /// <summary>The CRC-32C of <paramref name="data"/>.</summary>
    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>The CRC-32C of all bytes of <paramref name="data"/>, computed segment by segment.</summary>
    public static uint Compute(in ReadOnlySequence<byte> data)
    {
        if (data.IsSingleSegment)
        {
            return Append(0, data.FirstSpan);
        }

        uint crc = 0;
        foreach (var segment in data)
        {
            crc = Append(crc, segment.Span);
        }

        return crc;
    }

    /// <summary>Continues <paramref name="crc"/> (a finished CRC-32C of earlier bytes, 0 for none) over <paramref name="data"/>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var state = ~crc;
        if (Sse42.X64.IsSupported)
        {
            state = UpdateSse42(state, data);
        }
        else if (Crc32.Arm64.IsSupported)
        {
            state = UpdateArm64(state, data);
        }
        else
        {
            state = UpdateTable(state, data);
        }

        return ~state;
    }

    /// <summary>The portable slicing-by-8 path, exposed so tests can compare it with the hardware path.</summary>
    internal static uint AppendTable(uint crc, ReadOnlySpan<byte> data) => ~UpdateTable(~crc, data);

    private static uint UpdateSse42(uint state, ReadOnlySpan<byte> data)
    {
        ulong crc = state;
        ref var start = ref MemoryMarshal.GetReference(data);
        var length = data.Length;
        var i = 0;
        for (; i <= length - 8; i += 8)
        {
            crc = Sse42.X64.Crc32(crc, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i)));
        }

        var result = (uint)crc;
        for (; i < length; i++)
        {
            result = Sse42.Crc32(result, Unsafe.Add(ref start, i));
        }

        return result;
    }

    private static uint UpdateArm64(uint state, ReadOnlySpan<byte> data)
    {
        ref var start = ref MemoryMarshal.GetReference(data);
        var length = data.Length;
        var i = 0;
        for (; i <= length - 8; i += 8)
        {
            state = Crc32.Arm64.ComputeCrc32C(state, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i)));
        }

        for (; i < length; i++)
        {
            state = Crc32.ComputeCrc32C(state, Unsafe.Add(ref start, i));
        }

        return state;
    }

    private static uint UpdateTable(uint state, ReadOnlySpan<byte> data)
    {
        var table = Table;
        var i = 0;
        for (; i <= data.Length - 8; i += 8)
        {
            var lo = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i)) ^ state;
            var hi = BinaryPrimitives.ReadUInt32LittleEndian(data.Slice(i + 4));
            state = table[(7 * 256) + (lo & 0xFF)]
                ^ table[(6 * 256) + ((lo >> 8) & 0xFF)]
                ^ table[(5 * 256) + ((lo >> 16) & 0xFF)]
                ^ table[(4 * 256) + (lo >> 24)]
                ^ table[(3 * 256) + (hi & 0xFF)]
                ^ table[(2 * 256) + ((hi >> 8) & 0xFF)]
                ^ table[(1 * 256) + ((hi >> 16) & 0xFF)]
                ^ table[hi >> 24];
        }

        for (; i < data.Length; i++)
        {
            state = table[(state ^ data[i]) & 0xFF] ^ (state >> 8);
        }

        return state;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[8 * 256];
        for (uint b = 0; b < 256; b++)
        {
            var crc = b;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ Polynomial : crc >> 1;
            }

            table[b] = crc;
        }

        for (var k = 1; k < 8; k++)
        {
            for (var b = 0; b < 256; b++)
            {
                var previous = table[((k - 1) * 256) + b];
                table[(k * 256) + b] = table[previous & 0xFF] ^ (previous >> 8);
            }
        }

        return table;
    }
}
