using KafkaCompatBroker.CodeGen;

namespace KafkaCompatBroker.Protocol.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class GeneratedCodeTests
{
    [Fact]
    public void GeneratedFiles_MatchGeneratorOutput()
    {
        var specsDir = SpecCatalog.FindSpecsDir(AppContext.BaseDirectory);
        var outputDir = Path.Combine(Path.GetDirectoryName(specsDir)!, Generator.OutputDir);
        var expected = Generator.GenerateAll(specsDir);

        var committed = Directory.GetFiles(outputDir, "*.g.cs", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(outputDir, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Equal(expected.Keys.ToList(), committed);
        foreach (var (relative, content) in expected)
        {
            var actual = File.ReadAllText(Path.Combine(outputDir, relative));
            Assert.True(actual == content, $"{relative} differs from the generator's output; run: dotnet run --project tools/KafkaCompatBroker.CodeGen");
        }
    }
}
