using System.Buffers.Binary;

namespace KafkaCompatBroker.ClientFixtures.Tests;

/// <summary>
/// The captured request frames: <c>Fixtures/&lt;client&gt;/&lt;variant&gt;/NNN-&lt;ApiName&gt;-v&lt;version&gt;.bin</c>,
/// each holding request header + body (no size prefix). The variant is the compression codec, optionally
/// followed by "-idempotent".
/// </summary>
internal static class Fixtures
{
    /// <summary>Every (client, variant) compat-tests/capture/capture-all.sh captures.</summary>
    public static readonly string[] ExpectedCaptures =
    [
        "kcat/none", "kcat/gzip", "kcat/snappy", "kcat/lz4", "kcat/zstd",
        "confluent-dotnet/none", "confluent-dotnet/gzip", "confluent-dotnet/snappy", "confluent-dotnet/lz4", "confluent-dotnet/zstd",
        "confluent-dotnet/none-idempotent",
        "kafkajs/none", "kafkajs/gzip",
        "kafka-python/none", "kafka-python/gzip", "kafka-python/snappy", "kafka-python/lz4", "kafka-python/zstd",
    ];

    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures");

    /// <summary>"client/variant" of every capture directory present.</summary>
    public static IEnumerable<string> Captures()
    {
        if (!Directory.Exists(Root))
        {
            yield break;
        }

        foreach (var client in Directory.GetDirectories(Root).Order(StringComparer.Ordinal))
        {
            foreach (var variant in Directory.GetDirectories(client).Order(StringComparer.Ordinal))
            {
                yield return Path.GetFileName(client) + "/" + Path.GetFileName(variant);
            }
        }
    }

    /// <summary>Paths relative to <see cref="Root"/>, with '/' separators, of every frame file.</summary>
    public static IEnumerable<string> Frames() =>
        Directory.Exists(Root)
            ? Directory.GetFiles(Root, "*.bin", SearchOption.AllDirectories)
                .Select(p => Path.GetRelativePath(Root, p).Replace(Path.DirectorySeparatorChar, '/'))
                .Order(StringComparer.Ordinal)
            : [];

    public static IEnumerable<string> FramesOf(string capture, string apiName) =>
        Frames().Where(f => f.StartsWith(capture + "/", StringComparison.Ordinal) && ParseName(f).ApiName == apiName);

    public static byte[] Read(string relativePath) => File.ReadAllBytes(Path.Combine(Root, relativePath));

    /// <summary>Splits "NNN-ApiName-vV.bin" into its parts.</summary>
    public static (int Number, string ApiName, short Version) ParseName(string relativePath)
    {
        var name = Path.GetFileNameWithoutExtension(relativePath);
        var parts = name.Split('-');
        if (parts.Length != 3 || !parts[2].StartsWith('v'))
        {
            throw new FormatException($"fixture name {name} is not NNN-ApiName-vVersion");
        }

        return (int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), parts[1],
            short.Parse(parts[2].AsSpan(1), System.Globalization.CultureInfo.InvariantCulture));
    }

    public static (short ApiKey, short ApiVersion) PeekApi(ReadOnlySpan<byte> frame) =>
        (BinaryPrimitives.ReadInt16BigEndian(frame), BinaryPrimitives.ReadInt16BigEndian(frame[2..]));
}
