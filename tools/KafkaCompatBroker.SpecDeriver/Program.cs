using System.Globalization;
using System.Text.Json;

// Derives the project's protocol-specs/ from Kafka's message schemas.
// Only facts survive: names, keys, version ranges, types, nullability, defaults, tags.
// Comments and "about" texts are dropped; versions become {min,max} objects; defaults become typed JSON.
//
// usage: SpecDeriver <kafka-protocol-reference dir> <protocol-specs dir>

if (args.Length != 2)
{
    Console.Error.WriteLine("usage: SpecDeriver <kafka-protocol-reference dir> <protocol-specs dir>");
    return 2;
}

var referenceDir = args[0];
var outputDir = args[1];
var specs = SpecDerivation.DeriveAll(referenceDir);
foreach (var folder in SpecDerivation.Folders)
{
    var target = Path.Combine(outputDir, folder);
    if (Directory.Exists(target))
    {
        Directory.Delete(target, recursive: true);
    }
}

foreach (var (relative, content) in specs)
{
    var path = Path.Combine(outputDir, relative);
    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
    File.WriteAllBytes(path, content);
}

Console.WriteLine($"wrote {specs.Count} files to {outputDir}");
return 0;

public static class SpecDerivation
{
    public static readonly string[] Folders = ["messages", "metadata-records", "raft-records", "group-coordinator-records", "transaction-coordinator-records"];

    /// <summary>Every derived spec file: path relative to protocol-specs/ → content.</summary>
    public static SortedDictionary<string, byte[]> DeriveAll(string referenceDir)
    {
        var specs = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var folder in Folders)
        {
            foreach (var file in Directory.GetFiles(Path.Combine(referenceDir, folder), "*.json"))
            {
                if (Derive(File.ReadAllText(file)) is { } spec)
                {
                    specs[folder + "/" + Path.GetFileName(file)] = spec; // validVersions "none" (a removed API) yields nothing
                }
            }
        }

        specs["error-codes.json"] = DeriveErrorCodes(File.ReadAllLines(Path.Combine(referenceDir, "error-codes.tsv")));
        return specs;
    }

    private static readonly JsonDocumentOptions ReadOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Error codes keep number, name and retriability; the default messages are prose and stay behind.</summary>
    public static byte[] DeriveErrorCodes(string[] tsvLines)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var line in tsvLines.Skip(1).Where(l => l.Length > 0))
            {
                var cells = line.Split('\t');
                w.WriteStartObject();
                w.WriteNumber("code", int.Parse(cells[0], CultureInfo.InvariantCulture));
                w.WriteString("name", cells[1]);
                w.WriteBoolean("retriable", bool.Parse(cells[2]));
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    public static byte[]? Derive(string schemaText)
    {
        using var doc = JsonDocument.Parse(schemaText, ReadOptions);
        var root = doc.RootElement;
        var validVersions = root.GetProperty("validVersions").GetString()!;
        if (validVersions == "none")
        {
            return null;
        }

        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("name", root.GetProperty("name").GetString());
            w.WriteString("kind", root.GetProperty("type").GetString());
            if (root.TryGetProperty("apiKey", out var apiKey))
            {
                w.WriteNumber("apiKey", apiKey.GetInt32());
            }

            if (root.TryGetProperty("listeners", out var listeners))
            {
                w.WriteStartArray("listeners");
                foreach (var l in listeners.EnumerateArray())
                {
                    w.WriteStringValue(l.GetString());
                }

                w.WriteEndArray();
            }

            WriteVersions(w, "validVersions", validVersions);
            if (root.TryGetProperty("flexibleVersions", out var flexible))
            {
                WriteVersions(w, "flexibleVersions", flexible.GetString()!);
            }

            if (root.TryGetProperty("latestVersionUnstable", out var unstable) && unstable.GetBoolean())
            {
                w.WriteBoolean("latestVersionUnstable", true);
            }

            WriteFields(w, "fields", root.GetProperty("fields"));
            if (root.TryGetProperty("commonStructs", out var common))
            {
                w.WriteStartArray("commonStructs");
                foreach (var s in common.EnumerateArray())
                {
                    w.WriteStartObject();
                    w.WriteString("name", s.GetProperty("name").GetString());
                    WriteVersions(w, "versions", s.GetProperty("versions").GetString()!);
                    WriteFields(w, "fields", s.GetProperty("fields"));
                    w.WriteEndObject();
                }

                w.WriteEndArray();
            }

            w.WriteEndObject();
        }

        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    private static void WriteFields(Utf8JsonWriter w, string name, JsonElement fields)
    {
        w.WriteStartArray(name);
        foreach (var f in fields.EnumerateArray())
        {
            var type = f.GetProperty("type").GetString()!;
            w.WriteStartObject();
            w.WriteString("name", f.GetProperty("name").GetString());
            w.WriteString("type", type);
            // A field without "versions" only occurs in tagged-only fields; they exist where tagged.
            var versions = f.TryGetProperty("versions", out var v) ? v.GetString()! : f.GetProperty("taggedVersions").GetString()!;
            WriteVersions(w, "versions", versions);
            WriteOptionalVersions(w, f, "nullableVersions");
            WriteOptionalVersions(w, f, "taggedVersions");
            WriteOptionalVersions(w, f, "flexibleVersions");
            if (f.TryGetProperty("tag", out var tag))
            {
                w.WriteNumber("tag", tag.ValueKind == JsonValueKind.String ? int.Parse(tag.GetString()!, CultureInfo.InvariantCulture) : tag.GetInt32());
            }

            if (f.TryGetProperty("default", out var def))
            {
                WriteDefault(w, type, def);
            }

            if (f.TryGetProperty("ignorable", out var ignorable) && ignorable.GetBoolean())
            {
                w.WriteBoolean("ignorable", true);
            }

            if (f.TryGetProperty("mapKey", out var mapKey) && mapKey.GetBoolean())
            {
                w.WriteBoolean("mapKey", true);
            }

            if (f.TryGetProperty("entityType", out var entity))
            {
                w.WriteString("entityType", entity.GetString());
            }

            if (f.TryGetProperty("zeroCopy", out var zeroCopy) && zeroCopy.GetBoolean())
            {
                w.WriteBoolean("zeroCopy", true);
            }

            if (f.TryGetProperty("fields", out var children))
            {
                WriteFields(w, "fields", children);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
    }

    private static void WriteOptionalVersions(Utf8JsonWriter w, JsonElement field, string name)
    {
        if (field.TryGetProperty(name, out var value))
        {
            WriteVersions(w, name, value.GetString()!);
        }
    }

    // "3+" -> {"min":3}; "0-4" -> {"min":0,"max":4}; "5" -> {"min":5,"max":5}; "none" -> null.
    private static void WriteVersions(Utf8JsonWriter w, string name, string text)
    {
        text = text.Trim();
        if (text == "none")
        {
            w.WriteNull(name);
            return;
        }

        w.WriteStartObject(name);
        if (text.EndsWith('+'))
        {
            w.WriteNumber("min", int.Parse(text[..^1], CultureInfo.InvariantCulture));
        }
        else
        {
            var dash = text.IndexOf('-');
            var min = int.Parse(dash < 0 ? text : text[..dash], CultureInfo.InvariantCulture);
            var max = dash < 0 ? min : int.Parse(text[(dash + 1)..], CultureInfo.InvariantCulture);
            w.WriteNumber("min", min);
            w.WriteNumber("max", max);
        }

        w.WriteEndObject();
    }

    // Defaults are written as typed JSON values: numbers, booleans, strings or null.
    private static void WriteDefault(Utf8JsonWriter w, string type, JsonElement def)
    {
        var raw = def.ValueKind switch
        {
            JsonValueKind.String => def.GetString()!.Trim(),
            JsonValueKind.Null => "null",
            _ => def.GetRawText(),
        };
        switch (type)
        {
            case "int8" or "int16" or "uint16" or "int32" or "uint32" or "int64":
                var value = raw.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
                    ? long.Parse(raw[2..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)
                    : long.Parse(raw, CultureInfo.InvariantCulture);
                w.WriteNumber("default", value);
                break;
            case "float64":
                w.WriteNumber("default", double.Parse(raw, CultureInfo.InvariantCulture));
                break;
            case "bool":
                w.WriteBoolean("default", bool.Parse(raw));
                break;
            default:
                if (raw == "null")
                {
                    w.WriteNull("default");
                }
                else
                {
                    w.WriteString("default", raw);
                }

                break;
        }
    }
}
