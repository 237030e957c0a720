using System.Diagnostics;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// Runs the real server executable (KafkaCompatBroker.Server.dll, copied next to this test assembly) with
/// config/server.properties and --override, as a user would: start-up, formatting, ApiVersions, SIGTERM,
/// restart without recovery, durability after SIGKILL (start-up failures: StartupFailureTests).
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ServerExecutableTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-server-" + Guid.NewGuid().ToString("N"));

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

    /// <summary>The command line a user would give: the shipped server.properties, this port, this data dir.</summary>
    internal static string[] Arguments(string dir, int port, params string[] more) =>
    [
        "config/server.properties",
        "--override", $"listeners=PLAINTEXT://127.0.0.1:{port}",
        "--override", $"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "--override", $"log.dirs={dir}",
        .. more,
    ];

    private string[] Arguments(int port) => Arguments(_dir, port);

    [Fact]
    public async Task Server_StartAnswerSigtermRestart_FormatsAnswersAndRestartsWithoutRecovery()
    {
        var port = ServerProcess.FreePort();
        using (var server = new ServerProcess(Arguments(port)))
        {
            await server.WaitForOutputAsync($"listening on PLAINTEXT://127.0.0.1:{port}");

            var meta = await File.ReadAllTextAsync(Path.Combine(_dir, "meta.properties"));
            Assert.Contains("node.id=1", meta, StringComparison.Ordinal);
            Assert.Contains("cluster.id=", meta, StringComparison.Ordinal);
            await using (var connection = await RawConnection.OpenAsync("127.0.0.1", port))
            {
                var response = await connection.ApiVersionsAsync();
                Assert.Contains(response.ApiKeys, k => k.ApiKey == 18);
            }

            await server.SigtermAsync();
            Assert.Equal(0, await server.WaitForExitAsync());
            Assert.Contains("Shut down cleanly", server.Output, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(_dir, ".kafka_cleanshutdown")), "no clean-shutdown marker after SIGTERM:\n" + server.Output);
        }

        using (var restarted = new ServerProcess(Arguments(port)))
        {
            await restarted.WaitForOutputAsync($"listening on PLAINTEXT://127.0.0.1:{port}");
            Assert.Contains("was shut down cleanly: skipping recovery", restarted.Output, StringComparison.Ordinal);
            Assert.DoesNotContain("has no clean-shutdown marker", restarted.Output, StringComparison.Ordinal);
            await using (var connection = await RawConnection.OpenAsync("127.0.0.1", port))
            {
                await connection.ApiVersionsAsync(version: 0);
            }

            await restarted.SigtermAsync();
            Assert.Equal(0, await restarted.WaitForExitAsync());
        }
    }
}

/// <summary>The real server executable killed with SIGKILL, with kcat (librdkafka) producing with acks=all and consuming after the restart.</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class ServerExecutableKcatTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-server-" + Guid.NewGuid().ToString("N"));

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

    private string[] Arguments(int port) => ServerExecutableTests.Arguments(_dir, port);

    [Fact]
    public async Task Server_KilledWithSigkill_KeepsEveryRecordAcknowledgedWithAcksAll()
    {
        // Produced with kcat (librdkafka) and acks=-1: kcat exits only after every record is acknowledged.
        var port = ServerProcess.FreePort();
        var bootstrap = $"127.0.0.1:{port}";
        var expected = Enumerable.Range(0, 2000).Select(i => $"key-{i}:value-{i}").ToList();
        using (var server = new ServerProcess(Arguments(port)))
        {
            await server.WaitForOutputAsync($"listening on PLAINTEXT://127.0.0.1:{port}");
            var produced = await RunKcatAsync(string.Join('\n', expected) + "\n", "-b", bootstrap, "-P", "-t", "durable", "-K:", "-X", "acks=all", "-z", "lz4");
            Assert.True(produced.ExitCode == 0, "kcat produce failed:\n" + produced.Output + "\nbroker:\n" + server.Output);
            server.Process.Kill(entireProcessTree: true); // SIGKILL: no clean shutdown, no final flush
            await server.Process.WaitForExitAsync();
        }

        Assert.False(File.Exists(Path.Combine(_dir, ".kafka_cleanshutdown")), "a killed broker must not leave a clean-shutdown marker");
        using var restarted = new ServerProcess(Arguments(port));
        await restarted.WaitForOutputAsync($"listening on PLAINTEXT://127.0.0.1:{port}");
        Assert.Contains("has no clean-shutdown marker", restarted.Output, StringComparison.Ordinal);
        var consumed = await RunKcatAsync(null, "-b", bootstrap, "-C", "-t", "durable", "-o", "beginning", "-e", "-f", "%k:%s\n");
        Assert.True(consumed.ExitCode == 0, "kcat consume failed:\n" + consumed.Output);
        Assert.Equal(expected, consumed.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("key-", StringComparison.Ordinal)).ToList());
        await restarted.SigtermAsync();
        Assert.Equal(0, await restarted.WaitForExitAsync());
    }

    private static async Task<(int ExitCode, string Output)> RunKcatAsync(string? input, params string[] arguments)
    {
        var info = new ProcessStartInfo("kcat")
        {
            RedirectStandardInput = input is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("kcat is not installed: run compat-tests/scripts/install-clients.sh");
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }

        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}
