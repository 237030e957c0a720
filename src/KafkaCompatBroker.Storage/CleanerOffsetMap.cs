using System.Buffers.Binary;
using System.Security.Cryptography;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// Compaction's offset map (Kafka's SkimpyOffsetMap): the latest offset of every key seen in the dirty
/// section of a log. Keys are not stored, only a 128-bit digest of them (the first 16 bytes of their
/// SHA-256), so an entry costs the same whatever the key's size and memory stays bounded by
/// <see cref="MaxEntries"/>.
/// </summary>
/// <remarks>
/// Trade-off: two different keys with the same digest are treated as one key, and the older record of
/// the pair would be removed. With 128 bits the chance is about n²/2¹²⁹ for n keys (≈ 10⁻²⁵ for a
/// billion keys), and SHA-256 makes it impractical to craft such a pair on purpose (Kafka uses MD5,
/// for which colliding keys can be built). SHA-256 runs on the CPU's SHA extensions where present.
/// </remarks>
internal sealed class CleanerOffsetMap
{
    private readonly Dictionary<KeyDigest, long> _offsets = [];

    public CleanerOffsetMap(int maxEntries)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxEntries, 1);
        MaxEntries = maxEntries;
    }

    /// <summary>How many distinct keys the map may hold before a cleaning pass stops adding to it.</summary>
    public int MaxEntries { get; }

    public int Count => _offsets.Count;

    /// <summary>Records <paramref name="offset"/> as the latest offset of <paramref name="key"/> (offsets arrive in increasing order).</summary>
    public void Put(ReadOnlySpan<byte> key, long offset) => _offsets[KeyDigest.Of(key)] = offset;

    /// <summary>The latest offset of <paramref name="key"/>, or -1 when the map does not hold it.</summary>
    public long Get(ReadOnlySpan<byte> key) => _offsets.TryGetValue(KeyDigest.Of(key), out var offset) ? offset : -1;

    /// <summary>The first 128 bits of a key's SHA-256.</summary>
    private readonly record struct KeyDigest(ulong Low, ulong High)
    {
        public static KeyDigest Of(ReadOnlySpan<byte> key)
        {
            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(key, digest);
            return new KeyDigest(BinaryPrimitives.ReadUInt64LittleEndian(digest), BinaryPrimitives.ReadUInt64LittleEndian(digest[8..]));
        }
    }
}
