using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KafkaCompatBroker.Perf;

/// <summary>CPU seconds (utime+stime) and peak RSS (VmHWM) of a process, from Linux's /proc.</summary>
internal static class ProcStats
{
    public static double? CpuSeconds(int pid)
    {
        try
        {
            // Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return ticks / (double)ClockTicksPerSecond;
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static long? PeakRssBytes(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? null : long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>USER_HZ: 100 on every mainstream Linux build (sysconf(_SC_CLK_TCK)).</summary>
    private const int ClockTicksPerSecond = 100;
}

/// <summary>src/KafkaCompatBroker.Server as a child process on a free port with a temp data dir; SIGTERM on dispose.</summary>
internal sealed class BrokerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private BrokerProcess(Process process, string dataDir, int port)
    {
        _process = process;
        DataDir = dataDir;
        Bootstrap = $"127.0.0.1:{port}";
    }

    public string DataDir { get; }

    public string Bootstrap { get; }

    public int Pid => _process.Id;

    public static async Task<BrokerProcess> StartAsync()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "KafkaCompatBroker.Server.dll");
        var dataDir = Path.Combine(Path.GetTempPath(), "kcb-perf-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDir);
        var port = FreePort();
        var properties = Path.Combine(dataDir, "server.properties");
        var logDir = Path.Combine(dataDir, "data");
        await File.WriteAllTextAsync(properties, $"""
            process.roles=broker,controller
            node.id=1
            listeners=PLAINTEXT://127.0.0.1:{port}
            advertised.listeners=PLAINTEXT://127.0.0.1:{port}
            log.dirs={logDir}
            num.partitions=1
            offsets.topic.replication.factor=1
            transaction.state.log.replication.factor=1
            transaction.state.log.min.isr=1
            group.initial.rebalance.delay.ms=0

            """);
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll, properties },
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the broker");
        // Drain its log so the pipe never fills; keep the tail for a failure message.
        var tail = new Queue<string>();
        void Keep(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (tail)
            {
                tail.Enqueue(line);
                if (tail.Count > 20)
                {
                    tail.Dequeue();
                }
            }
        }

        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var broker = new BrokerProcess(process, logDir, port);
        var deadline = Stopwatch.GetTimestamp() + (30 * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return broker;
            }
            catch (SocketException) when (!process.HasExited && Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(100);
            }
            catch (SocketException)
            {
                await broker.DisposeAsync();
                lock (tail)
                {
                    throw new InvalidOperationException($"the broker did not start on port {port}:\n{string.Join('\n', tail)}");
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM: the broker's clean shutdown (flush and close the logs); SIGKILL only if that hangs.
            using (var term = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
            try
            {
                await _process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
        try
        {
            Directory.Delete(Path.GetDirectoryName(DataDir)!, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
