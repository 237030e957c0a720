using System.Collections;
using System.Net;
using System.Net.Sockets;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// Every way the server executable can fail to start ends the same way: exit code 1 and exactly one error
/// line that names the cause, no stack trace (as Kafka's start script reports a bad config or a locked dir).
/// Each test runs the real executable with its own temp dir.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class StartupFailureTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-startfail-" + Guid.NewGuid().ToString("N"));

    public StartupFailureTests() => Directory.CreateDirectory(_dir);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private string[] Arguments(string logDirs, int port, params string[] more) =>
    [
        "config/server.properties",
        "--override", $"listeners=PLAINTEXT://127.0.0.1:{port}",
        "--override", $"log.dirs={logDirs}",
        .. more,
    ];

    /// <summary>Exit code 1, one ERROR/FATAL line holding every fragment, no exception or stack trace anywhere.</summary>
    private static async Task<string> AssertFailsWithOneLineAsync(ServerProcess server, params string[] fragments)
    {
        Assert.Equal(1, await server.WaitForExitAsync());
        var output = server.Output;
        var errors = server.Lines.Where(l => l.Contains(" ERROR ", StringComparison.Ordinal) || l.Contains(" FATAL ", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 1, $"expected exactly one error line, got {errors.Count}:\n{output}");
        foreach (var fragment in fragments)
        {
            Assert.True(errors[0].Contains(fragment, StringComparison.Ordinal), $"the error line does not name '{fragment}':\n{output}");
        }

        Assert.DoesNotContain(server.Lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal));
        Assert.DoesNotContain("Exception", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled", output, StringComparison.Ordinal);
        return errors[0];
    }

    [Fact]
    public async Task Start_PortAlreadyInUse_ExitsWith1AndOneLineNamingTheAddress()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        using var server = new ServerProcess(Arguments(Path.Combine(_dir, "data"), port));

        await AssertFailsWithOneLineAsync(server, $"127.0.0.1:{port}", "already in use");
    }

    [Fact]
    public async Task Start_LogDirLockedByAnotherBroker_ExitsWith1AndOneLineNamingTheDir()
    {
        var data = Path.Combine(_dir, "data");
        var config = BrokerConfig.Load($"listeners=PLAINTEXT://127.0.0.1:0\nlog.dirs={data}\n", [], new Hashtable());
        await using var running = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance);

        using var server = new ServerProcess(Arguments(data, ServerProcess.FreePort()));

        await AssertFailsWithOneLineAsync(server, data, "locked by another");
    }

    [Fact]
    public async Task Start_LogDirsIsAFile_ExitsWith1AndOneLineNamingTheFile()
    {
        var file = Path.Combine(_dir, "not-a-dir");
        await File.WriteAllTextAsync(file, "x");

        using var server = new ServerProcess(Arguments(file, ServerProcess.FreePort()));

        await AssertFailsWithOneLineAsync(server, file, "not a directory");
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Start_LogDirsNotWritable_ExitsWith1AndOneLineNamingTheDir()
    {
        // root writes through a read-only mode, so as root the dir is one the kernel refuses to create (sysfs).
        string target;
        if (Environment.IsPrivilegedProcess)
        {
            target = "/sys/kcb-not-writable-" + Guid.NewGuid().ToString("N");
        }
        else
        {
            var readOnly = Path.Combine(_dir, "read-only");
            Directory.CreateDirectory(readOnly);
            File.SetUnixFileMode(readOnly, UnixFileMode.UserRead | UnixFileMode.UserExecute);
            target = Path.Combine(readOnly, "data");
        }

        using var server = new ServerProcess(Arguments(target, ServerProcess.FreePort()));

        await AssertFailsWithOneLineAsync(server, target, "cannot create the log dir");
    }

    [Fact]
    public async Task Start_MetadataLogDirIsAFile_ExitsWith1AndOneLineNamingThePath()
    {
        var file = Path.Combine(_dir, "not-a-dir");
        await File.WriteAllTextAsync(file, "x");

        using var server = new ServerProcess(Arguments(Path.Combine(_dir, "data"), ServerProcess.FreePort(), "--override", $"metadata.log.dir={file}"));

        await AssertFailsWithOneLineAsync(server, file);
    }

    [Fact]
    public async Task Start_BadConfigValue_ExitsWith1NamingTheKeyBeforeFormatting()
    {
        var data = Path.Combine(_dir, "data");
        using var server = new ServerProcess(Arguments(data, ServerProcess.FreePort(), "--override", "num.partitions=many"));

        await AssertFailsWithOneLineAsync(server, "Invalid value many for configuration num.partitions");
        Assert.False(File.Exists(Path.Combine(data, "meta.properties")), "a bad config must stop start-up before formatting");
    }

    [Fact]
    public async Task Start_BadValueFromEnvironment_NamesTheVariable()
    {
        using var server = new ServerProcess(
            new Dictionary<string, string> { ["KAFKA_NUM_PARTITIONS"] = "many" },
            Arguments(Path.Combine(_dir, "data"), ServerProcess.FreePort()));

        await AssertFailsWithOneLineAsync(server, "KAFKA_NUM_PARTITIONS", "num.partitions", "many");
    }

    [Fact]
    public async Task Start_PropertiesFileMissing_ExitsWith1NamingThePath()
    {
        using var server = new ServerProcess("config/no-such.properties");

        await AssertFailsWithOneLineAsync(server, "config/no-such.properties", "does not exist");
    }

    [Fact]
    public async Task Start_PropertiesFileIsADirectory_ExitsWith1NamingThePath()
    {
        using var server = new ServerProcess(_dir);

        await AssertFailsWithOneLineAsync(server, _dir);
    }

    [Fact]
    public async Task Start_MalformedPropertiesFile_ExitsWith1NamingTheFileAndLine()
    {
        var file = Path.Combine(_dir, "bad.properties");
        await File.WriteAllTextAsync(file, $"node.id=1\nlog.dirs={_dir}/data\nlisteners=PLAINTEXT://127.0.0.1:\\u00zz\n");

        using var server = new ServerProcess(file);

        await AssertFailsWithOneLineAsync(server, file, "line 3", "\\uxxxx");
    }

    [Fact]
    public async Task Start_ZeroZeroZeroZeroListenerWithoutAdvertisedListeners_RefusedAsKafkaDoes()
    {
        // KafkaConfig.validateValues: the effective advertised listeners cannot use 0.0.0.0.
        using var server = new ServerProcess(
            "config/server.properties",
            "--override", "listeners=PLAINTEXT://0.0.0.0:0",
            "--override", $"log.dirs={_dir}/data");

        await AssertFailsWithOneLineAsync(server, "advertised.listeners", "0.0.0.0");
        Assert.False(Directory.Exists(Path.Combine(_dir, "data")), "a config error must stop start-up before the log dir is touched");
    }

    [Fact]
    public async Task Start_UnknownArgument_ExitsWith1()
    {
        using var server = new ServerProcess("config/server.properties", "--bogus");

        await AssertFailsWithOneLineAsync(server, "unexpected argument '--bogus'");
    }
}
