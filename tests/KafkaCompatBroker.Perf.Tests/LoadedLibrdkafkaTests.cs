using System.Runtime.InteropServices;

namespace KafkaCompatBroker.Perf.Tests;

/// <summary>
/// The librdkafka the perf tool runs on is librdkafka.redist 2.15.1's, and the build that loads is the one that can:
/// on a machine without libsasl2.so.3 (Debian 12) that is the centos8 build. The mock cluster's C calls go to the
/// same file, so the process holds one copy.
/// </summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class LoadedLibrdkafkaTests
{
    [Fact]
    public void Path_AfterConfluentLoads_IsTheRedistPackagesBuildForThisMachine()
    {
        var path = LoadedLibrdkafka.Path();

        Assert.Equal("2.15.1", Confluent.Kafka.Library.VersionString);
        Assert.NotNull(path);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native"), Path.GetDirectoryName(path));
        if (!NativeLibrary.TryLoad("libsasl2.so.3", out var sasl))
        {
            Assert.Equal("centos8-librdkafka.so", Path.GetFileName(path));
        }
        else
        {
            NativeLibrary.Free(sasl);
        }
    }

    [Fact]
    public void MockCluster_Created_UsesTheLibraryConfluentLoaded()
    {
        using var mock = new MockCluster("loaded-library", 1);

        Assert.NotEmpty(mock.Bootstrap);
        Assert.Equal([LoadedLibrdkafka.Path()!], LoadedLibrdkafka.MappedFiles());
    }
}
