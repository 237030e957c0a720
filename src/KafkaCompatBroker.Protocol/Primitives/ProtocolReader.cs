using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;

namespace KafkaCompatBroker.Protocol;

/// <summary>
/// Reads Kafka's primitive types from a <see cref="SequenceReader{T}"/>. Every failure (truncation, a
/// negative or oversized length, a null where none is allowed) throws <see cref="KafkaProtocolException"/>.
/// </summary>
public static class ProtocolReader
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static sbyte ReadInt8(ref SequenceReader<byte> reader)
    {
        if (!reader.TryRead(out var value))
        {
            ThrowTruncated();
        }

        return (sbyte)value;
    }

    public static bool ReadBool(ref SequenceReader<byte> reader) => ReadInt8(ref reader) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static short ReadInt16(ref SequenceReader<byte> reader)
    {
        if (!reader.TryReadBigEndian(out short value))
        {
            ThrowTruncated();
        }

        return value;
    }

    public static ushort ReadUInt16(ref SequenceReader<byte> reader) => (ushort)ReadInt16(ref reader);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ReadInt32(ref SequenceReader<byte> reader)
    {
        if (!reader.TryReadBigEndian(out int value))
        {
            ThrowTruncated();
        }

        return value;
    }

    public static uint ReadUInt32(ref SequenceReader<byte> reader) => (uint)ReadInt32(ref reader);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long ReadInt64(ref SequenceReader<byte> reader)
    {
        if (!reader.TryReadBigEndian(out long value))
        {
            ThrowTruncated();
        }

        return value;
    }

    public static double ReadFloat64(ref SequenceReader<byte> reader) => BitConverter.Int64BitsToDouble(ReadInt64(ref reader));

    public static KafkaUuid ReadUuid(ref SequenceReader<byte> reader) => new(ReadInt64(ref reader), ReadInt64(ref reader));

    public static uint ReadUnsignedVarint(ref SequenceReader<byte> reader)
    {
        uint value = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            if (!reader.TryRead(out var b))
            {
                ThrowTruncated();
            }

            if (shift == 28 && b > 0x0f)
            {
                Throw("unsigned varint does not fit in 32 bits");
            }

            value |= (uint)(b & 0x7f) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        Throw("unsigned varint is longer than 5 bytes");
        return 0;
    }

    /// <summary>String length prefix: int16 (-1 = null), or unsigned varint length+1 (0 = null) when compact.</summary>
    public static string ReadString(ref SequenceReader<byte> reader, bool compact, string field) =>
        ReadNullableString(ref reader, compact, allowNull: false, field, previous: null)!;

    /// <summary>As <see cref="ReadString(ref SequenceReader{byte}, bool, string)"/>, but returns <paramref name="previous"/> itself when the bytes spell it (no new string).</summary>
    public static string ReadString(ref SequenceReader<byte> reader, bool compact, string field, string? previous) =>
        ReadNullableString(ref reader, compact, allowNull: false, field, previous)!;

    public static string? ReadNullableString(ref SequenceReader<byte> reader, bool compact, bool allowNull, string field) =>
        ReadNullableString(ref reader, compact, allowNull, field, previous: null);

    /// <summary>
    /// A nullable string; when its bytes are the ASCII spelling of <paramref name="previous"/> (the value a reused
    /// message held: the same topic name or client id request after request), that string is returned instead of a
    /// new one, so steady-state requests decode without allocating.
    /// </summary>
    public static string? ReadNullableString(ref SequenceReader<byte> reader, bool compact, bool allowNull, string field, string? previous)
    {
        int length = compact ? (int)ReadUnsignedVarint(ref reader) - 1 : ReadInt16(ref reader);
        if (length < 0)
        {
            if (length != -1 || !allowNull)
            {
                Throw(length == -1 ? $"non-nullable field {field} was serialized as null" : $"string field {field} has invalid length {length}");
            }

            return null;
        }

        if (length > short.MaxValue)
        {
            Throw($"string field {field} has length {length}, above the limit of {short.MaxValue}");
        }

        EnsureRemaining(ref reader, length, field);
        try
        {
            if (reader.UnreadSpan.Length >= length)
            {
                var bytes = reader.UnreadSpan[..length];
                if (previous is not null && IsAsciiSpelling(bytes, previous))
                {
                    reader.Advance(length);
                    return previous;
                }

                var s = StrictUtf8.GetString(bytes);
                reader.Advance(length);
                return s;
            }

            var slice = reader.Sequence.Slice(reader.Position, length);
            reader.Advance(length);
            return StrictUtf8.GetString(slice);
        }
        catch (DecoderFallbackException)
        {
            Throw($"string field {field} is not valid UTF-8");
            return null;
        }
    }

    /// <summary>Whether <paramref name="bytes"/> are ASCII and spell <paramref name="text"/> (ASCII bytes are always valid UTF-8).</summary>
    private static bool IsAsciiSpelling(ReadOnlySpan<byte> bytes, string text)
    {
        if (bytes.Length != text.Length)
        {
            return false;
        }

        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] >= 0x80 || bytes[i] != text[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Bytes length prefix: int32 (-1 = null), or unsigned varint length+1 (0 = null) when compact.</summary>
    public static byte[] ReadBytes(ref SequenceReader<byte> reader, bool compact, string field) =>
        ReadNullableBytes(ref reader, compact, allowNull: false, field)!;

    public static byte[]? ReadNullableBytes(ref SequenceReader<byte> reader, bool compact, bool allowNull, string field)
    {
        var length = ReadBytesLength(ref reader, compact, allowNull, field);
        if (length < 0)
        {
            return null;
        }

        var bytes = length == 0 ? [] : new byte[length];
        reader.TryCopyTo(bytes);
        reader.Advance(length);
        return bytes;
    }

    /// <summary>A record set: a slice of the input sequence, not a copy.</summary>
    public static ReadOnlySequence<byte>? ReadRecords(ref SequenceReader<byte> reader, bool compact, bool allowNull, string field)
    {
        var length = ReadBytesLength(ref reader, compact, allowNull, field);
        if (length < 0)
        {
            return null;
        }

        var slice = reader.Sequence.Slice(reader.Position, length);
        reader.Advance(length);
        return slice;
    }

    /// <summary>Array length prefix: int32 (-1 = null), or unsigned varint count+1 (0 = null) when compact. Returns -1 for null.</summary>
    public static int ReadArrayLength(ref SequenceReader<byte> reader, bool compact, bool allowNull, string field)
    {
        int count = compact ? (int)ReadUnsignedVarint(ref reader) - 1 : ReadInt32(ref reader);
        if (count < 0)
        {
            if (count != -1 || !allowNull)
            {
                Throw(count == -1 ? $"non-nullable field {field} was serialized as null" : $"array field {field} has invalid length {count}");
            }

            return -1;
        }

        // Every element takes at least one byte; a larger count is garbage, and must not size an allocation.
        if (count > reader.Remaining)
        {
            Throw($"array field {field} claims {count} elements but only {reader.Remaining} bytes remain");
        }

        return count;
    }

    /// <summary>Marker byte of a nullable struct: negative = null.</summary>
    public static bool ReadStructPresent(ref SequenceReader<byte> reader, bool allowNull, string field)
    {
        if (ReadInt8(ref reader) >= 0)
        {
            return true;
        }

        if (!allowNull)
        {
            Throw($"non-nullable field {field} was serialized as null");
        }

        return false;
    }

    /// <summary>Opens a reader over the next <paramref name="size"/> bytes (a tagged field's value) and skips them in <paramref name="reader"/>.</summary>
    public static SequenceReader<byte> ReadTaggedSlice(ref SequenceReader<byte> reader, int size)
    {
        EnsureRemaining(ref reader, size, "tagged field");
        var slice = new SequenceReader<byte>(reader.Sequence.Slice(reader.Position, size));
        reader.Advance(size);
        return slice;
    }

    public static RawTaggedField ReadUnknownTaggedField(ref SequenceReader<byte> reader, int tag, int size)
    {
        EnsureRemaining(ref reader, size, "tagged field");
        var data = new byte[size];
        reader.TryCopyTo(data);
        reader.Advance(size);
        return new RawTaggedField(tag, data);
    }

    public static int ReadTaggedSize(ref SequenceReader<byte> reader)
    {
        var size = ReadUnsignedVarint(ref reader);
        if (size > int.MaxValue)
        {
            Throw($"tagged field size {size} is invalid");
        }

        return (int)size;
    }

    private static int ReadBytesLength(ref SequenceReader<byte> reader, bool compact, bool allowNull, string field)
    {
        var length = compact ? (long)ReadUnsignedVarint(ref reader) - 1 : ReadInt32(ref reader);
        if (length < 0)
        {
            if (length != -1 || !allowNull)
            {
                Throw(length == -1 ? $"non-nullable field {field} was serialized as null" : $"bytes field {field} has invalid length {length}");
            }

            return -1;
        }

        EnsureRemaining(ref reader, length, field);
        return (int)length;
    }

    private static void EnsureRemaining(ref SequenceReader<byte> reader, long length, string field)
    {
        if (length > reader.Remaining)
        {
            Throw($"field {field} needs {length} bytes but only {reader.Remaining} remain");
        }
    }

    [DoesNotReturn]
    private static void ThrowTruncated() => throw new KafkaProtocolException("message is truncated");

    [DoesNotReturn]
    public static void Throw(string message) => throw new KafkaProtocolException(message);
}
