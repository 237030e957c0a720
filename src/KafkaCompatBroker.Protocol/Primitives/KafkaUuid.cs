using System.Buffers.Binary;
using System.Security.Cryptography;

namespace KafkaCompatBroker.Protocol;

/// <summary>
/// Kafka's 128-bit UUID: two big-endian 64-bit halves on the wire, shown as URL-safe base64
/// without padding (how Kafka prints topic ids and cluster ids).
/// </summary>
public readonly record struct KafkaUuid(long MostSignificantBits, long LeastSignificantBits)
{
    public static readonly KafkaUuid Zero;

    /// <summary>Kafka reserves the zero id and ids whose string starts with '-' (METADATA_TOPIC_ID = 1 is also reserved).</summary>
    public static KafkaUuid NewRandom()
    {
        Span<byte> bytes = stackalloc byte[16];
        while (true)
        {
            RandomNumberGenerator.Fill(bytes);
            bytes[6] = (byte)((bytes[6] & 0x0f) | 0x40); // version 4
            bytes[8] = (byte)((bytes[8] & 0x3f) | 0x80); // IETF variant
            var id = FromBytes(bytes);
            if (id != Zero && id != new KafkaUuid(0, 1) && !id.ToString().StartsWith('-'))
            {
                return id;
            }
        }
    }

    public static KafkaUuid FromBytes(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadInt64BigEndian(bytes), BinaryPrimitives.ReadInt64BigEndian(bytes[8..]));

    public void WriteBytes(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt64BigEndian(destination, MostSignificantBits);
        BinaryPrimitives.WriteInt64BigEndian(destination[8..], LeastSignificantBits);
    }

    public static KafkaUuid Parse(string text)
    {
        var base64 = text.Replace('-', '+').Replace('_', '/');
        Span<byte> bytes = stackalloc byte[18];
        if (!Convert.TryFromBase64String(base64 + "==", bytes, out var written) || written != 16)
        {
            throw new FormatException($"'{text}' is not a Kafka UUID (22 characters of URL-safe base64)");
        }

        return FromBytes(bytes);
    }

    public override string ToString()
    {
        Span<byte> bytes = stackalloc byte[16];
        WriteBytes(bytes);
        return Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
    }
}
