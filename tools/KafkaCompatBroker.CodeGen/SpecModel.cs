using System.Text.Json;

namespace KafkaCompatBroker.CodeGen;

/// <summary>An inclusive version range; <see cref="short.MaxValue"/> as Max means "and every later version".</summary>
public readonly record struct VersionRange(short Min, short Max)
{
    public static readonly VersionRange None = new(1, 0);

    public bool IsEmpty => Min > Max;

    public bool Contains(short version) => version >= Min && version <= Max;

    public VersionRange Intersect(VersionRange other) => new(Math.Max(Min, other.Min), Math.Min(Max, other.Max));

    internal static VersionRange FromJson(JsonElement element) =>
        element.ValueKind == JsonValueKind.Null
            ? None
            : new VersionRange(
                element.GetProperty("min").GetInt16(),
                element.TryGetProperty("max", out var max) ? max.GetInt16() : short.MaxValue);
}

public sealed class FieldSpec
{
    public required string Name { get; init; }
    public required string Type { get; init; }
    public required VersionRange Versions { get; init; }
    public VersionRange NullableVersions { get; init; } = VersionRange.None;
    public VersionRange TaggedVersions { get; init; } = VersionRange.None;

    /// <summary>A per-field override of the message's flexible versions (only the request header's client id has one).</summary>
    public VersionRange? FlexibleVersions { get; init; }

    public int? Tag { get; init; }

    /// <summary>The default as typed JSON, or null when the spec gives none.</summary>
    public JsonElement? Default { get; init; }

    public bool Ignorable { get; init; }
    public IReadOnlyList<FieldSpec>? Fields { get; init; }

    public bool IsArray => Type.StartsWith("[]", StringComparison.Ordinal);
    public string ElementType => IsArray ? Type[2..] : Type;
    public bool IsStruct => char.IsUpper(ElementType[0]);
    public bool IsTagged => !TaggedVersions.IsEmpty;
    public bool HasNullDefault => Default is { ValueKind: JsonValueKind.Null };
}

public sealed class StructSpec
{
    public required string Name { get; init; }
    public required IReadOnlyList<FieldSpec> Fields { get; init; }
}

public sealed class MessageSpec
{
    public required string Name { get; init; }
    public required string Kind { get; init; }
    public required string Folder { get; init; }
    public short? ApiKey { get; init; }
    public IReadOnlyList<string> Listeners { get; init; } = [];
    public required VersionRange ValidVersions { get; init; }
    public required VersionRange FlexibleVersions { get; init; }
    public bool LatestVersionUnstable { get; init; }
    public required IReadOnlyList<FieldSpec> Fields { get; init; }
    public IReadOnlyList<StructSpec> CommonStructs { get; init; } = [];

    /// <summary>
    /// Versions the codec reads and writes. API messages and headers start at 0: older clients still
    /// send versions Kafka 4 dropped, and those versions consist of the spec's "0+" fields.
    /// </summary>
    public VersionRange CodecVersions =>
        Kind is "request" or "response" or "header" ? new VersionRange(0, ValidVersions.Max) : ValidVersions;

    public static MessageSpec Load(string path, string folder)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        return new MessageSpec
        {
            Name = root.GetProperty("name").GetString()!,
            Kind = root.GetProperty("kind").GetString()!,
            Folder = folder,
            ApiKey = root.TryGetProperty("apiKey", out var key) ? key.GetInt16() : null,
            Listeners = root.TryGetProperty("listeners", out var l) ? [.. l.EnumerateArray().Select(e => e.GetString()!)] : [],
            ValidVersions = VersionRange.FromJson(root.GetProperty("validVersions")),
            FlexibleVersions = root.TryGetProperty("flexibleVersions", out var f) ? VersionRange.FromJson(f) : VersionRange.None,
            LatestVersionUnstable = root.TryGetProperty("latestVersionUnstable", out var u) && u.GetBoolean(),
            Fields = LoadFields(root.GetProperty("fields")),
            CommonStructs = root.TryGetProperty("commonStructs", out var cs)
                ? [.. cs.EnumerateArray().Select(s => new StructSpec { Name = s.GetProperty("name").GetString()!, Fields = LoadFields(s.GetProperty("fields")) })]
                : [],
        };
    }

    private static List<FieldSpec> LoadFields(JsonElement fields) =>
        [.. fields.EnumerateArray().Select(f => new FieldSpec
        {
            Name = f.GetProperty("name").GetString()!,
            Type = f.GetProperty("type").GetString()!,
            Versions = VersionRange.FromJson(f.GetProperty("versions")),
            NullableVersions = f.TryGetProperty("nullableVersions", out var n) ? VersionRange.FromJson(n) : VersionRange.None,
            TaggedVersions = f.TryGetProperty("taggedVersions", out var t) ? VersionRange.FromJson(t) : VersionRange.None,
            FlexibleVersions = f.TryGetProperty("flexibleVersions", out var fv) ? VersionRange.FromJson(fv) : null,
            Tag = f.TryGetProperty("tag", out var tag) ? tag.GetInt32() : null,
            Default = f.TryGetProperty("default", out var d) ? d.Clone() : null,
            Ignorable = f.TryGetProperty("ignorable", out var i) && i.GetBoolean(),
            Fields = f.TryGetProperty("fields", out var children) ? LoadFields(children) : null,
        })];
}

/// <summary>Every spec under protocol-specs/, with the C# namespace each folder maps to.</summary>
public static class SpecCatalog
{
    public static readonly IReadOnlyDictionary<string, string> FolderNamespaces = new Dictionary<string, string>
    {
        ["messages"] = "KafkaCompatBroker.Protocol.Messages",
        ["metadata-records"] = "KafkaCompatBroker.Protocol.MetadataRecords",
        ["raft-records"] = "KafkaCompatBroker.Protocol.RaftRecords",
        ["group-coordinator-records"] = "KafkaCompatBroker.Protocol.GroupCoordinatorRecords",
        ["transaction-coordinator-records"] = "KafkaCompatBroker.Protocol.TransactionCoordinatorRecords",
    };

    public static List<MessageSpec> LoadAll(string specsDir)
    {
        var specs = new List<MessageSpec>();
        foreach (var folder in FolderNamespaces.Keys)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(specsDir, folder), "*.json").Order(StringComparer.Ordinal))
            {
                specs.Add(MessageSpec.Load(file, folder));
            }
        }

        return specs;
    }

    /// <summary>Finds protocol-specs/ by walking up from a directory (the repository root holds it).</summary>
    public static string FindSpecsDir(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "protocol-specs");
            if (Directory.Exists(candidate) && File.Exists(Path.Combine(dir.FullName, "KafkaCompatBroker.sln")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"no protocol-specs/ beside KafkaCompatBroker.sln above {start}");
    }
}
