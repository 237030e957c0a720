using System.Buffers;
using System.Numerics;
using System.Text;

namespace KafkaCompatBroker.Protocol;

/// <summary>Encoded sizes of Kafka's primitive types, matching <see cref="ProtocolWriter"/> byte for byte.</summary>
public static class ProtocolSize
{
    // One byte per started group of 7 significant bits.
    public static int UnsignedVarint(uint value) => (32 - BitOperations.LeadingZeroCount(value | 1) + 6) / 7;

    public static int String(string? value, bool compact)
    {
        if (value is null)
        {
            return compact ? 1 : 2;
        }

        var length = Encoding.UTF8.GetByteCount(value);
        return (compact ? UnsignedVarint((uint)length + 1) : 2) + length;
    }

    public static int Bytes(byte[]? value, bool compact) => Blob(value?.Length ?? -1, compact);

    public static int Records(ReadOnlySequence<byte>? value, bool compact) => Blob(value is { } r ? checked((int)r.Length) : -1, compact);

    public static int ArrayLength(int count, bool compact) => compact ? UnsignedVarint((uint)(count + 1)) : 4;

    private static int Blob(int length, bool compact) =>
        length < 0 ? (compact ? 1 : 4) : (compact ? UnsignedVarint((uint)length + 1) : 4) + length;
}
