using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace KafkaCompatBroker.CompatTests;

/// <summary>Finds, builds and runs the client programs in compat-tests/clients/ as processes.</summary>
public static class Clients
{
    public const int RecordCount = 100_000;
    public const string InstallHint = "run compat-tests/scripts/install-clients.sh";
    public static readonly string[] Codecs = ["none", "gzip", "snappy", "lz4", "zstd"];
    private const string Python = "/usr/bin/python3"; // Debian's python with python3-kafka, not a pyenv one
    private static readonly SemaphoreSlim BuildLock = new(1, 1);
    private static string? _confluentDll;

    public static string CompatDir { get; } = FindCompatDir();

    private static string FindCompatDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KafkaCompatBroker.sln")))
            {
                return Path.Combine(dir.FullName, "compat-tests");
            }
        }

        throw new InvalidOperationException("KafkaCompatBroker.sln not found above " + AppContext.BaseDirectory);
    }

    public static string Client(string name, string file) => Path.Combine(CompatDir, "clients", name, file);

    public static async Task<ProcessResult> KafkaPythonAsync(params string[] args)
    {
        if (!File.Exists(Python) || (await RunAsync(Python, ["-c", "import kafka, snappy, lz4, zstandard"], TimeSpan.FromSeconds(30))).ExitCode != 0)
        {
            Assert.Fail($"kafka-python 2.0.2 (python3-kafka with its codecs) is not installed for {Python}: {InstallHint}");
        }

        return await RunAsync(Python, [Client("kafka-python", "client.py"), .. args], TimeSpan.FromMinutes(4));
    }

    public static async Task<ProcessResult> KcatAsync(params string[] args)
    {
        if (!File.Exists("/usr/bin/kcat"))
        {
            Assert.Fail($"kcat is not installed: {InstallHint}");
        }

        return await RunAsync("bash", [Client("kcat", "client.sh"), .. args], TimeSpan.FromMinutes(4));
    }

    public static async Task<ProcessResult> KafkajsAsync(params string[] args)
    {
        if (!File.Exists(Path.Combine(CompatDir, "node", "node_modules", "kafkajs", "package.json")))
        {
            Assert.Fail($"kafkajs 2.2.4 is not installed in compat-tests/node: {InstallHint}");
        }

        return await RunAsync("node", [Client("kafkajs", "client.js"), .. args], TimeSpan.FromMinutes(4));
    }

    public static async Task<ProcessResult> ConfluentAsync(params string[] args)
    {
        var dll = await BuildConfluentAsync();
        return await RunAsync("dotnet", [dll, .. args], TimeSpan.FromMinutes(4));
    }

    /// <summary>Builds compat-tests/clients/confluent-dotnet once per test run (NuGet brings Confluent.Kafka and librdkafka).</summary>
    public static async Task<string> BuildConfluentAsync()
    {
        await BuildLock.WaitAsync();
        try
        {
            if (_confluentDll is not null)
            {
                return _confluentDll;
            }

            var project = Client("confluent-dotnet", "ConfluentClient.csproj");
            var build = await RunAsync("dotnet", ["build", project, "-c", "Release", "-nologo", "-v", "quiet"], TimeSpan.FromMinutes(5));
            Assert.True(build.ExitCode == 0, $"building {project} failed ({InstallHint} if Confluent.Kafka 2.15.1 is missing):\n{build.StdOut}\n{build.StdErr}");
            _confluentDll = Path.Combine(Path.GetDirectoryName(project)!, "bin", "Release", "net10.0", "ConfluentClient.dll");
            return _confluentDll;
        }
        finally
        {
            BuildLock.Release();
        }
    }

    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = CompatDir,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        var stopwatch = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return new ProcessResult(-1, await stdout, $"timed out after {timeout}\n" + await stderr, stopwatch.Elapsed);
        }

        return new ProcessResult(process.ExitCode, await stdout, await stderr, stopwatch.Elapsed);
    }

    /// <summary>The digest the client programs sum: md5("key\tvalue\ttimestamp\theaders"), first 8 bytes big endian.</summary>
    public static ulong Digest(string line) => BinaryPrimitives.ReadUInt64BigEndian(MD5.HashData(Encoding.UTF8.GetBytes(line)));

    /// <summary>The checksum of the records the programs produce: key-i, value-i-vvv…, h1=hv-i, codec, base + i.</summary>
    public static string ExpectedChecksum(string codec, int count, long baseTimestamp)
    {
        var pad = new string('v', 100);
        ulong sum = 0;
        for (var i = 0; i < count; i++)
        {
            sum += Digest($"key-{i}\tvalue-{i}-{pad}\t{baseTimestamp + i}\th1=hv-{i},codec={codec}");
        }

        return sum.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }
}

public sealed record ProcessResult(int ExitCode, string StdOut, string StdErr, TimeSpan Elapsed)
{
    /// <summary>The JSON object on the last stdout line; fails the test with the process output otherwise.</summary>
    public JsonElement Json(CompatBroker broker)
    {
        var last = StdOut.TrimEnd().Split('\n').LastOrDefault() ?? "";
        if (ExitCode != 0 || !last.StartsWith('{'))
        {
            Assert.Fail($"client exited with {ExitCode} after {Elapsed.TotalSeconds:F1} s\nstdout: {Tail(StdOut)}\nstderr: {Tail(StdErr)}\n{broker.Problems}");
        }

        return JsonDocument.Parse(last).RootElement.Clone();
    }

    private static string Tail(string text) => text.Length <= 3000 ? text : "…" + text[^3000..];
}
