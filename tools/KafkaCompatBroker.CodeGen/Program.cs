using KafkaCompatBroker.CodeGen;

// usage: CodeGen [--check]
//   Regenerates src/KafkaCompatBroker.Protocol/Generated from protocol-specs/ (found beside KafkaCompatBroker.sln).
//   --check: write nothing; exit 1 if the committed files differ from the generator's output.
var check = args.Contains("--check");
var specsDir = SpecCatalog.FindSpecsDir(Environment.CurrentDirectory);
var root = Path.GetDirectoryName(specsDir)!;
var outputDir = Path.Combine(root, Generator.OutputDir);
var files = Generator.GenerateAll(specsDir);

var existing = Directory.Exists(outputDir)
    ? Directory.GetFiles(outputDir, "*.g.cs", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(outputDir, p).Replace('\\', '/')).ToHashSet()
    : [];
var differences = 0;
foreach (var (relative, content) in files)
{
    var path = Path.Combine(outputDir, relative);
    existing.Remove(relative);
    if (File.Exists(path) && File.ReadAllText(path) == content)
    {
        continue;
    }

    differences++;
    if (check)
    {
        Console.Error.WriteLine($"out of date: {relative}");
        continue;
    }

    Directory.CreateDirectory(Path.GetDirectoryName(path)!);
    File.WriteAllText(path, content);
}

foreach (var stale in existing)
{
    differences++;
    if (check)
    {
        Console.Error.WriteLine($"not generated any more: {stale}");
    }
    else
    {
        File.Delete(Path.Combine(outputDir, stale));
    }
}

Console.WriteLine(check
    ? differences == 0 ? "generated code is up to date" : $"{differences} generated files differ; run: dotnet run --project tools/KafkaCompatBroker.CodeGen"
    : $"{files.Count} files generated, {differences} changed");
return check && differences > 0 ? 1 : 0;
