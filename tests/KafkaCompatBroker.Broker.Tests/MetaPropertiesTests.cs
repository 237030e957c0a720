using KafkaCompatBroker.Broker.Configuration;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class MetaPropertiesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-meta-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    [Fact]
    public void EnsureFormatted_FirstStart_WritesKraftMetaPropertiesInEveryDir()
    {
        string[] dirs = [Path.Combine(_dir, "a"), Path.Combine(_dir, "b")];
        var clusterId = MetaProperties.EnsureFormatted(dirs, 3, null);

        Assert.Equal(22, clusterId.Length);
        foreach (var dir in dirs)
        {
            var props = JavaProperties.Parse(File.ReadAllText(Path.Combine(dir, "meta.properties"))).ToDictionary(p => p.Key, p => p.Value);
            Assert.Equal("1", props["version"]);
            Assert.Equal("3", props["node.id"]);
            Assert.Equal(clusterId, props["cluster.id"]);
            Assert.Equal(22, props["directory.id"].Length);
        }
    }

    [Fact]
    public void EnsureFormatted_SecondStart_KeepsClusterId()
    {
        string[] dirs = [_dir];
        var first = MetaProperties.EnsureFormatted(dirs, 1, null);
        Assert.Equal(first, MetaProperties.EnsureFormatted(dirs, 1, null));
    }

    [Fact]
    public void EnsureFormatted_OtherNodeOrCluster_Fails()
    {
        string[] dirs = [_dir];
        MetaProperties.EnsureFormatted(dirs, 1, null);
        Assert.Contains("node.id", Assert.Throws<ConfigException>(() => MetaProperties.EnsureFormatted(dirs, 2, null)).Message);
        Assert.Contains("Cluster id", Assert.Throws<ConfigException>(() => MetaProperties.EnsureFormatted(dirs, 1, "AAAAAAAAAAAAAAAAAAAAAA")).Message);
    }
}
