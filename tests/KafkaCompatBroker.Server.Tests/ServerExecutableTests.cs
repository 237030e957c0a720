using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// Runs the real server executable (KafkaCompatBroker.Server.dll, copied next to this test assembly) with
/// config/server.properties and --override, as a user would: start-up, formatting, ApiVersions, SIGTERM,
/// restart without recovery, and a bad config value.
/// </summary>
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

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KafkaCompatBroker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("KafkaCompatBroker.sln not found above " + AppContext.BaseDirectory);
    }

    private static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private sealed class ServerProcess : IDisposable
    {
        private readonly StringBuilder _output = new();

        public ServerProcess(params string[] arguments)
        {
            var info = new ProcessStartInfo("dotnet")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                WorkingDirectory = RepoRoot(),
            };
            info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "KafkaCompatBroker.Server.dll"));
            foreach (var argument in arguments)
            {
                info.ArgumentList.Add(argument);
            }

            Process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
            Process.OutputDataReceived += (_, e) => Append(e.Data);
            Process.ErrorDataReceived += (_, e) => Append(e.Data);
            Process.BeginOutputReadLine();
            Process.BeginErrorReadLine();
        }

        public Process Process { get; }

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_output)
                {
                    _output.AppendLine(line);
                }
            }
        }

        public async Task WaitForOutputAsync(string fragment)
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!Output.Contains(fragment, StringComparison.Ordinal))
            {
                if (Process.HasExited || DateTime.UtcNow > deadline)
                {
                    await Task.Delay(200); // let the last lines arrive
                    Assert.Fail($"the server never wrote '{fragment}' (exited: {Process.HasExited}); output:\n{Output}");
                }

                await Task.Delay(50);
            }
        }

        public async Task<int> WaitForExitAsync()
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await Process.WaitForExitAsync(timeout.Token);
            return Process.ExitCode;
        }

        public async Task SigtermAsync()
        {
            using var kill = Process.Start("kill", ["-TERM", Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
            Assert.Equal(0, kill.ExitCode);
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
            }

            Process.Dispose();
        }
    }

    private string[] Arguments(int port, params string[] more) =>
    [
        "config/server.properties",
        "--override", $"listeners=PLAINTEXT://127.0.0.1:{port}",
        "--override", $"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "--override", $"log.dirs={_dir}",
        .. more,
    ];

    [Fact]
    public async Task Server_StartAnswerSigtermRestart_FormatsAnswersAndRestartsWithoutRecovery()
    {
        var port = FreePort();
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

    [Fact]
    public async Task Server_KilledWithSigkill_KeepsEveryRecordAcknowledgedWithAcksAll()
    {
        // Produced with kcat (librdkafka) and acks=-1: kcat exits only after every record is acknowledged.
        var port = FreePort();
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

    [Fact]
    public async Task Server_BadConfigValue_ExitsWithCode1NamingTheKey()
    {
        using var server = new ServerProcess(Arguments(FreePort(), "--override", "num.partitions=many"));

        Assert.Equal(1, await server.WaitForExitAsync());
        await Task.Delay(100);
        Assert.Contains("Invalid value many for configuration num.partitions", server.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "meta.properties")), "a bad config must stop start-up before formatting");
    }

    [Fact]
    public async Task Server_UnknownArgument_ExitsWithCode1()
    {
        using var server = new ServerProcess("config/server.properties", "--bogus");

        Assert.Equal(1, await server.WaitForExitAsync());
        await Task.Delay(100);
        Assert.Contains("unexpected argument '--bogus'", server.Output, StringComparison.Ordinal);
    }
}
