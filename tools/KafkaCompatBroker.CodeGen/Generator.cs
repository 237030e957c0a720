namespace KafkaCompatBroker.CodeGen;

/// <summary>Turns protocol-specs/ into the generated C# files of KafkaCompatBroker.Protocol.</summary>
public static class Generator
{
    /// <summary>Where the generated files live, relative to the repository root.</summary>
    public const string OutputDir = "src/KafkaCompatBroker.Protocol/Generated";

    /// <summary>Generates every file: path relative to <see cref="OutputDir"/> → content.</summary>
    public static SortedDictionary<string, string> GenerateAll(string specsDir)
    {
        var specs = SpecCatalog.LoadAll(specsDir);
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var spec in specs)
        {
            var ns = SpecCatalog.FolderNamespaces[spec.Folder];
            files[$"{spec.Folder}/{spec.Name}.g.cs"] = new MessageEmitter(spec).Emit(ns);
        }

        files["ApiKey.g.cs"] = TableEmitter.EmitApis(specs);
        files["ErrorCode.g.cs"] = TableEmitter.EmitErrorCodes(File.ReadAllText(Path.Combine(specsDir, "error-codes.json")));
        return files;
    }
}
