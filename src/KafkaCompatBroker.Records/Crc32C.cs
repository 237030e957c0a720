using System.Buffers;
using System.Buffers.Binary;
using System.Numerics;
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
            state = UpdateInterleaved<Sse42Step>(state, data);
        }
        else if (Crc32.Arm64.IsSupported)
        {
            state = UpdateInterleaved<Arm64Step>(state, data);
        }
        else
        {
            state = UpdateTable(state, data);
        }

        return ~state;
    }

    /// <summary>The portable slicing-by-8 path, exposed so tests can compare it with the hardware path.</summary>
    internal static uint AppendTable(uint crc, ReadOnlySpan<byte> data) => ~UpdateTable(~crc, data);

    /// <summary>
    /// The three-lane interleaving of the hardware path run on the table step, so tests can check the
    /// lane split and the combine on any machine (the ARM64 path shares exactly this code).
    /// </summary>
    internal static uint AppendInterleavedTable(uint crc, ReadOnlySpan<byte> data) => ~UpdateInterleaved<TableStep>(~crc, data);

    // ------------------------------------------------------------------ three interleaved lanes
    //
    // A CRC instruction (x64 crc32q, ARM64 crc32cx) has a latency of ~3 cycles but a throughput of
    // one per cycle, so a single dependency chain runs at a third of the unit's speed. Like Intel's
    // crc_pcl and Mark Adler's crc32c.c, a block of 3 × lane bytes is split into three lanes checked
    // with independent chains (the first continuing the running state, the other two starting from
    // 0), and the lanes are joined with the linearity of the raw CRC:
    //     raw(s, A ‖ B) = shift(raw(s, A), |B|) ^ raw(0, B)
    // where shift(x, n) = raw(x, n zero bytes) is linear in x, so it is four table lookups (one
    // 256-entry table per byte of x) for a fixed n. Blocks are taken with the longest lane that fits,
    // then shorter ones; the tail (under 3 × the shortest lane) runs on one chain.

    private const int LongLane = 4096;
    private const int MidLane = 1024;
    private const int ShortLane = 256;

    private static readonly uint[] LongShift = BuildShiftTable(LongLane);
    private static readonly uint[] MidShift = BuildShiftTable(MidLane);
    private static readonly uint[] ShortShift = BuildShiftTable(ShortLane);

    /// <summary>
    /// One raw CRC-32C step (no pre/post inversion) over 8 or 1 bytes. The 8-byte step keeps the state
    /// in 64 bits (only the low 32 are ever set): a uint state makes the x64 JIT zero-extend it before
    /// every crc32q, a mov that lengthens each chain's 3-cycle step by a cycle.
    /// </summary>
    private interface ICrcStep
    {
        static abstract ulong Step(ulong crc, ulong data);

        static abstract uint Step(uint crc, byte data);
    }

    private readonly struct Sse42Step : ICrcStep
    {
        public static ulong Step(ulong crc, ulong data) => Sse42.X64.Crc32(crc, data);

        public static uint Step(uint crc, byte data) => Sse42.Crc32(crc, data);
    }

    private readonly struct Arm64Step : ICrcStep
    {
        public static ulong Step(ulong crc, ulong data) => Crc32.Arm64.ComputeCrc32C((uint)crc, data);

        public static uint Step(uint crc, byte data) => Crc32.ComputeCrc32C(crc, data);
    }

    /// <summary>The software step (little-endian 8-byte word, as the CRC instructions read it).</summary>
    private readonly struct TableStep : ICrcStep
    {
        public static ulong Step(ulong crc, ulong data)
        {
            Span<byte> bytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, data);
            return UpdateTable((uint)crc, bytes);
        }

        public static uint Step(uint crc, byte data) => Table[(int)((crc ^ data) & 0xFF)] ^ (crc >> 8);
    }

    private static uint UpdateInterleaved<TStep>(uint state, ReadOnlySpan<byte> data)
        where TStep : struct, ICrcStep
    {
        ref var start = ref MemoryMarshal.GetReference(data);
        nint length = data.Length;
        nint i = 0;
        ulong crc = state;
        if (length - i >= 3 * LongLane)
        {
            crc = Blocks<TStep>(crc, ref start, ref i, length, LongLane, LongShift);
        }

        if (length - i >= 3 * MidLane)
        {
            crc = Blocks<TStep>(crc, ref start, ref i, length, MidLane, MidShift);
        }

        if (length - i >= 3 * ShortLane)
        {
            crc = Blocks<TStep>(crc, ref start, ref i, length, ShortLane, ShortShift);
        }

        for (; i <= length - 8; i += 8)
        {
            crc = TStep.Step(crc, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i)));
        }

        state = (uint)crc;
        for (; i < length; i++)
        {
            state = TStep.Step(state, Unsafe.Add(ref start, i));
        }

        return state;
    }

    /// <summary>Checks whole blocks of three <paramref name="lane"/>-byte lanes from <paramref name="i"/> on, advancing it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Blocks<TStep>(ulong state, ref byte start, ref nint i, nint length, nint lane, uint[] shift)
        where TStep : struct, ICrcStep
    {
        ref var table = ref MemoryMarshal.GetArrayDataReference(shift);
        var block = 3 * lane;
        var position = i;
        do
        {
            ref var lane0 = ref Unsafe.Add(ref start, position);
            ref var lane1 = ref Unsafe.Add(ref lane0, lane);
            ref var lane2 = ref Unsafe.Add(ref lane1, lane);
            ulong crc0 = state, crc1 = 0, crc2 = 0;
            for (nint j = 0; j < lane; j += 8)
            {
                crc0 = TStep.Step(crc0, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref lane0, j)));
                crc1 = TStep.Step(crc1, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref lane1, j)));
                crc2 = TStep.Step(crc2, Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref lane2, j)));
            }

            state = Shift(ref table, Shift(ref table, (uint)crc0) ^ (uint)crc1) ^ crc2;
            position += block;
        }
        while (length - position >= block);

        i = position;
        return state;
    }

    /// <summary>raw(<paramref name="crc"/>, lane zero bytes) for the lane of <paramref name="table"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Shift(ref uint table, uint crc) =>
        Unsafe.Add(ref table, (nint)(crc & 0xFF))
        ^ Unsafe.Add(ref table, 256 + (nint)((crc >> 8) & 0xFF))
        ^ Unsafe.Add(ref table, 512 + (nint)((crc >> 16) & 0xFF))
        ^ Unsafe.Add(ref table, 768 + (nint)(crc >> 24));

    /// <summary>
    /// Table[k * 256 + b] = raw(b &lt;&lt; 8k, <paramref name="lane"/> zero bytes), built with the portable
    /// path: from the 32 single-bit states by linearity (raw(x ^ y, z) = raw(x, z) ^ raw(y, z)).
    /// </summary>
    private static uint[] BuildShiftTable(int lane)
    {
        var zeros = new byte[lane];
        var table = new uint[4 * 256];
        for (var k = 0; k < 4; k++)
        {
            var basis = new uint[8];
            for (var bit = 0; bit < 8; bit++)
            {
                basis[bit] = UpdateTable(1u << ((8 * k) + bit), zeros);
            }

            for (var b = 1; b < 256; b++)
            {
                var lowest = BitOperations.TrailingZeroCount(b);
                table[(k * 256) + b] = table[(k * 256) + (b & (b - 1))] ^ basis[lowest];
            }
        }

        return table;
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
