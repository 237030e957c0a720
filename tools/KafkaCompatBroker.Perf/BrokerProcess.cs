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

    public static long? PeakRssBytes(int pid) => StatusBytes(pid, "VmHWM:");

    /// <summary>The resident set now (VmRSS).</summary>
    public static long? RssBytes(int pid) => StatusBytes(pid, "VmRSS:");

    /// <summary>A "Name:   123 kB" line of /proc/PID/status in bytes, or null when absent.</summary>
    public static long? StatusField(IEnumerable<string> statusLines, string field)
    {
        var line = statusLines.FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
        return line is null ? null : long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
    }

    private static long? StatusBytes(int pid, string field)
    {
        try
        {
            return StatusField(File.ReadLines($"/proc/{pid}/status"), field);
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>USER_HZ: 100 on every mainstream Linux build (sysconf(_SC_CLK_TCK)).</summary>
    private const int ClockTicksPerSecond = 100;
}

/// <summary>
/// Where a started broker lives: a temp dir with its server.properties and its log dir ("data"), and its port.
/// A home outlives a broker process, so the same broker can be started again on the same data (--recovery).
/// </summary>
internal sealed record BrokerHome(string Dir, int Port)
{
    public string LogDir => Path.Combine(Dir, "data");

    public string PropertiesFile => Path.Combine(Dir, "server.properties");

    /// <summary>A new temp home on a free port; <paramref name="extraProperties"/> (key=value) replace the defaults of the same key.</summary>
    public static async Task<BrokerHome> CreateAsync(IReadOnlyList<string> extraProperties)
    {
        var home = new BrokerHome(Path.Combine(Path.GetTempPath(), "kcb-perf-" + Guid.NewGuid().ToString("N")), FreePort());
        Directory.CreateDirectory(home.Dir);
        await File.WriteAllLinesAsync(home.PropertiesFile, Properties(home.Port, home.LogDir, extraProperties));
        return home;
    }

    /// <summary>A single-node broker+controller on 127.0.0.1:<paramref name="port"/>; an extra line replaces the default with its key.</summary>
    public static IReadOnlyList<string> Properties(int port, string logDir, IReadOnlyList<string> extra)
    {
        string[] defaults =
        [
            "process.roles=broker,controller",
            "node.id=1",
            $"listeners=PLAINTEXT://127.0.0.1:{port}",
            $"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            $"log.dirs={logDir}",
            "num.partitions=1",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
        ];
        static string Key(string line) => line[..line.IndexOf('=', StringComparison.Ordinal)].Trim();
        var overridden = extra.Select(Key).ToHashSet(StringComparer.Ordinal);
        return [.. defaults.Where(d => !overridden.Contains(Key(d))), .. extra];
    }

    public void Delete()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
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

/// <summary>
/// src/KafkaCompatBroker.Server as a child process in a <see cref="BrokerHome"/> (a new temp one, deleted on
/// dispose, unless one is given); SIGTERM on dispose, or SIGKILL with <see cref="KillAsync"/>.
/// </summary>
internal sealed class BrokerProcess : IAsyncDisposable
{
    /// <summary>The LogManager's startup line: partitions loaded, time and how many were recovered.</summary>
    public const string LoadLineMarker = "partition log(s) from";

    private readonly Process _process;
    private readonly BrokerHome _home;
    private readonly bool _ownsHome;
    private readonly Queue<string> _tail = new();
    private string? _loadLine;

    private BrokerProcess(Process process, BrokerHome home, bool ownsHome, long startTimestamp)
    {
        _process = process;
        _home = home;
        _ownsHome = ownsHome;
        StartTimestamp = startTimestamp;
    }

    public string DataDir => _home.LogDir;

    public string Bootstrap => $"127.0.0.1:{_home.Port}";

    public int Pid => _process.Id;

    /// <summary>Stopwatch timestamp taken just before the process was started.</summary>
    public long StartTimestamp { get; }

    /// <summary>From process start until its port accepted a TCP connection (the log manager has loaded every log by then).</summary>
    public TimeSpan ListeningAfter { get; private set; }

    /// <summary>The broker's "Loaded N partition log(s) ..." line from its stdout, once written.</summary>
    public string? LoadLine => Volatile.Read(ref _loadLine);

    public static async Task<BrokerProcess> StartAsync(BrokerHome? home = null, IReadOnlyList<string>? extraProperties = null)
    {
        var ownsHome = home is null;
        home ??= await BrokerHome.CreateAsync(extraProperties ?? []);
        var dll = Path.Combine(AppContext.BaseDirectory, "KafkaCompatBroker.Server.dll");
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dll, home.PropertiesFile },
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var start = Stopwatch.GetTimestamp();
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the broker");
        var broker = new BrokerProcess(process, home, ownsHome, start);
        // Drain its log so the pipe never fills; keep the tail for a failure message.
        process.OutputDataReceived += (_, e) => broker.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => broker.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = start + (120 * Stopwatch.Frequency);
        while (true)
        {
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, home.Port);
                broker.ListeningAfter = Stopwatch.GetElapsedTime(start);
                return broker;
            }
            catch (SocketException) when (!process.HasExited && Stopwatch.GetTimestamp() < deadline)
            {
                await Task.Delay(20);
            }
            catch (SocketException)
            {
                var tail = broker.Tail;
                await broker.DisposeAsync();
                throw new InvalidOperationException($"the broker did not start on port {home.Port}:\n{tail}");
            }
        }
    }

    /// <summary>The last lines the broker wrote (stdout and stderr).</summary>
    public string Tail
    {
        get
        {
            lock (_tail)
            {
                return string.Join('\n', _tail);
            }
        }
    }

    /// <summary>SIGKILL: the process dies at once, without its clean shutdown.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(); // SIGKILL on Linux
        }

        await _process.WaitForExitAsync();
    }

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        if (line.Contains(LoadLineMarker, StringComparison.Ordinal))
        {
            Interlocked.CompareExchange(ref _loadLine, line, null);
        }

        lock (_tail)
        {
            _tail.Enqueue(line);
            if (_tail.Count > 20)
            {
                _tail.Dequeue();
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
        if (_ownsHome)
        {
            _home.Delete();
        }
    }
}
