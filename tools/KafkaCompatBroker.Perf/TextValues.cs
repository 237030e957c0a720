using System.Globalization;
using System.Text;

namespace KafkaCompatBroker.Perf;

/// <summary>
/// Record values that compress like application events do (JSON text with ids, timestamps, words and hex ids;
/// about 2-4x with the Kafka codecs), unlike random bytes (incompressible) or one repeated value (compresses
/// ~100x). Deterministic for a seed. Shared with the codec benchmarks, so both measure the same kind of data.
/// </summary>
internal static class TextValues
{
    private static readonly string[] Events = ["page_view", "add_to_cart", "checkout", "search", "login", "logout", "click", "purchase"];
    private static readonly string[] Words = ["products", "shoes", "books", "garden", "kitchen", "sale", "new", "men", "women", "kids", "outdoor", "home", "electronics", "toys", "music", "sports"];

    /// <summary>One value of exactly <paramref name="size"/> bytes.</summary>
    public static byte[] Create(Random random, int size)
    {
        var s = new StringBuilder(size + 256);
        var c = CultureInfo.InvariantCulture;
        s.Append(c, $"{{\"id\":{random.NextInt64(1_000_000_000)},\"user\":\"user-{random.Next(100_000)}\",\"event\":\"{Events[random.Next(Events.Length)]}\",");
        s.Append(c, $"\"ts\":{1_700_000_000_000 + random.NextInt64(100_000_000)},\"session\":\"{random.NextInt64():x16}{random.NextInt64():x16}\",\"items\":[");
        while (s.Length < size)
        {
            s.Append(c, $"{{\"sku\":\"SKU-{random.Next(1_000_000):D7}\",\"path\":\"/{Words[random.Next(Words.Length)]}/{Words[random.Next(Words.Length)]}/{random.Next(10_000)}\",\"qty\":{random.Next(1, 10)},\"price\":{random.Next(100, 100_000) / 100.0:F2}}},");
        }

        var bytes = Encoding.ASCII.GetBytes(s.ToString());
        Array.Resize(ref bytes, size);
        return bytes;
    }

    /// <summary><paramref name="count"/> distinct values (the producer cycles through them).</summary>
    public static byte[][] CreatePool(int count, int size, int seed)
    {
        var random = new Random(seed);
        var pool = new byte[count][];
        for (var i = 0; i < pool.Length; i++)
        {
            pool[i] = Create(random, size);
        }

        return pool;
    }
}
