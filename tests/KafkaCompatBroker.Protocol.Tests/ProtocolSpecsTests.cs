using KafkaCompatBroker.CodeGen;

namespace KafkaCompatBroker.Protocol.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class ProtocolSpecsTests
{
    private static readonly string SpecsDir = SpecCatalog.FindSpecsDir(AppContext.BaseDirectory);

    [KafkaSchemasFact]
    public void CommittedSpecs_MatchDerivationFromKafkaSchemas()
    {
        var derived = SpecDerivation.DeriveAll(KafkaSchemasFactAttribute.ReferenceDir);
        var committed = Directory.GetFiles(SpecsDir, "*.json", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(SpecsDir, p).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.Equal(derived.Keys.ToList(), committed);
        foreach (var (relative, content) in derived)
        {
            Assert.True(content.AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(SpecsDir, relative))), $"{relative} differs from its derivation");
        }
    }

    [Fact]
    public void Specs_CarryNoProse()
    {
        foreach (var file in Directory.GetFiles(SpecsDir, "*.json", SearchOption.AllDirectories))
        {
            var text = File.ReadAllText(file);
            Assert.DoesNotContain("\"about\"", text, StringComparison.Ordinal);
            Assert.DoesNotContain("//", text, StringComparison.Ordinal);
            Assert.DoesNotContain("License", text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Specs_CoverEveryApiServedByBrokerOrController()
    {
        var specs = SpecCatalog.LoadAll(SpecsDir);
        var requests = specs.Where(s => s.Kind == "request").ToList();
        Assert.All(requests, r => Assert.NotEmpty(r.Listeners));
        Assert.All(requests, r => Assert.Contains(specs, s => s.Name == r.Name[..^"Request".Length] + "Response"));
        Assert.Equal(requests.Count, KafkaApis.All.Count);
        // Spot checks of Kafka 4.3's ranges.
        Assert.Equal((3, 13), (KafkaApis.Get(ApiKey.Produce).MinVersion, KafkaApis.Get(ApiKey.Produce).MaxVersion));
        Assert.Equal((4, 18), (KafkaApis.Get(ApiKey.Fetch).MinVersion, KafkaApis.Get(ApiKey.Fetch).MaxVersion));
        Assert.Equal((0, 4), (KafkaApis.Get(ApiKey.ApiVersions).MinVersion, KafkaApis.Get(ApiKey.ApiVersions).MaxVersion));
        Assert.True(KafkaApis.Get(ApiKey.Vote).Listeners.HasFlag(ApiListeners.Controller));
        Assert.Contains(specs, s => s.Folder == "metadata-records" && s.Name == "TopicRecord");
        Assert.Contains(specs, s => s.Folder == "group-coordinator-records" && s.Name == "OffsetCommitValue");
        Assert.Contains(specs, s => s.Folder == "transaction-coordinator-records" && s.Name == "TransactionLogValue");
    }

    [Fact]
    public void ErrorCodes_MatchKafkaNumbers()
    {
        Assert.Equal(3, (short)ErrorCode.UnknownTopicOrPartition);
        Assert.Equal(35, (short)ErrorCode.UnsupportedVersion);
        Assert.Equal(-1, (short)ErrorCode.UnknownServerError);
        Assert.True(ErrorCode.NotLeaderOrFollower.IsRetriable());
        Assert.False(ErrorCode.TopicAuthorizationFailed.IsRetriable());
        Assert.Equal("UNKNOWN_TOPIC_OR_PARTITION", ErrorCode.UnknownTopicOrPartition.KafkaName());
    }
}
