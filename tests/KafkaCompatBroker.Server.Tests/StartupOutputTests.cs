using System.Text.RegularExpressions;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// What a person sees when running the server executable: its own start-up lines (version, node id, roles,
/// listeners bound and advertised, log dirs, cluster id), none of the web host's, a first start on an empty dir
/// not called a recovery, internal topic creation in one line, --version and --help.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed partial class StartupOutputTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-startout-" + Guid.NewGuid().ToString("N"));

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

    [GeneratedRegex(@"^KafkaCompatBroker \d+\.\d+\.\d+")]
    private static partial Regex VersionLine();

    [Fact]
    public async Task Start_FirstStartOnEmptyDir_LogsOwnStartupLinesAndNoHostNoise()
    {
        var port = ServerProcess.FreePort();
        using var server = new ServerProcess(
            "config/server.properties",
            "--override", $"listeners=PLAINTEXT://127.0.0.1:{port}",
            "--override", $"log.dirs={_dir}");
        await server.WaitForOutputAsync("started");

        var output = server.Output;
        Assert.Contains(server.Lines, l => l.Contains("KafkaCompatBroker ", StringComparison.Ordinal) && VersionLine().IsMatch(l[(l.IndexOf("KafkaCompatBroker ", StringComparison.Ordinal))..]));
        var started = Assert.Single(server.Lines, l => l.Contains("started", StringComparison.Ordinal));
        var clusterId = (await File.ReadAllLinesAsync(Path.Combine(_dir, "meta.properties"))).Single(l => l.StartsWith("cluster.id=", StringComparison.Ordinal))["cluster.id=".Length..];
        foreach (var fragment in new[] { "node 1", "broker,controller", $"PLAINTEXT://127.0.0.1:{port}", clusterId, _dir })
        {
            Assert.True(output.Contains(fragment, StringComparison.Ordinal), $"the start-up lines do not name '{fragment}':\n{output}");
        }

        Assert.Contains($"advertised as PLAINTEXT://127.0.0.1:{port}", started, StringComparison.Ordinal);
        foreach (var noise in new[] { "Now listening on", "http://", "Hosting environment", "Content root", "Application started", "Press Ctrl+C", "recover", "unclean", "9223372036854775807" })
        {
            Assert.False(output.Contains(noise, StringComparison.OrdinalIgnoreCase), $"the output contains '{noise}':\n{output}");
        }

        await using (var connection = await RawConnection.OpenAsync("127.0.0.1", port))
        {
            Assert.Equal(0, (await connection.FindGroupCoordinatorAsync("a-group")).ErrorCode);
        }

        await server.SigtermAsync();
        Assert.Equal(0, await server.WaitForExitAsync());
        var internalTopicLines = server.Lines.Where(l => l.Contains("__consumer_offsets", StringComparison.Ordinal)).ToList();
        Assert.True(internalTopicLines.Count == 1, "expected one line about __consumer_offsets:\n" + server.Output);
        Assert.Contains("50", internalTopicLines[0], StringComparison.Ordinal);
        Assert.DoesNotContain(server.Lines, l => l.Contains("loop stopped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Version_PrintsTheVersionAndExits0()
    {
        using var server = new ServerProcess("--version");

        Assert.Equal(0, await server.WaitForExitAsync());
        var line = Assert.Single(server.Lines, l => l.Length > 0);
        Assert.Matches(VersionLine(), line);
    }

    [Fact]
    public async Task Help_PrintsUsageAndExits0()
    {
        using var server = new ServerProcess("--help");

        Assert.Equal(0, await server.WaitForExitAsync());
        var output = server.Output;
        foreach (var fragment in new[] { "server.properties", "--override key=value", "KAFKA_", "--version", "--help" })
        {
            Assert.True(output.Contains(fragment, StringComparison.Ordinal), $"--help does not mention '{fragment}':\n{output}");
        }
    }

    [Fact]
    public async Task Start_ListenersOverriddenWithoutAdvertisedListeners_AdvertisesTheOverride()
    {
        // config/server.properties sets no advertised.listeners: Kafka then advertises listeners (KafkaConfig.effectiveAdvertisedBrokerListeners).
        var port = ServerProcess.FreePort();
        using var server = new ServerProcess(
            "config/server.properties",
            "--override", $"listeners=PLAINTEXT://127.0.0.1:{port}",
            "--override", $"log.dirs={_dir}");
        await server.WaitForOutputAsync("started");

        Assert.Contains(server.Lines, l => l.Contains($"listening on PLAINTEXT://127.0.0.1:{port} (advertised as PLAINTEXT://127.0.0.1:{port})", StringComparison.Ordinal));
        await using var connection = await RawConnection.OpenAsync("127.0.0.1", port);
        var broker = Assert.Single(await connection.MetadataBrokersAsync());
        Assert.Equal(("127.0.0.1", port), (broker.Host, broker.Port));
    }
}
