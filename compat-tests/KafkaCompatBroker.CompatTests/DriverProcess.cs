using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace KafkaCompatBroker.CompatTests;

/// <summary>
/// A client driver run interactively: the test waits for a JSON line it prints (e.g. {"open":…}), acts (restarts
/// the broker, kills the process) and may answer on stdin. The last JSON line is the result, as with
/// <see cref="Clients.RunAsync"/>.
/// </summary>
public sealed class DriverProcess : IDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Stopwatch _stopwatch = Stopwatch.StartNew();

    private DriverProcess(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Clients.CompatDir,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                _lines.Writer.TryComplete();
                return;
            }

            lock (_stdout)
            {
                _stdout.AppendLine(e.Data);
            }

            _lines.Writer.TryWrite(e.Data);
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            lock (_stderr)
            {
                _stderr.AppendLine(e.Data);
            }
        };
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static async Task<DriverProcess> StartConfluentAsync(params string[] args) =>
        new("dotnet", [await Clients.BuildConfluentAsync(), .. args]);

    /// <summary>Reads stdout lines until a JSON object with the property; fails the test on exit or timeout.</summary>
    public async Task<JsonElement> WaitForAsync(string property, TimeSpan timeout, CompatBroker broker)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await foreach (var line in _lines.Reader.ReadAllAsync(cts.Token))
            {
                if (line.StartsWith('{') && JsonDocument.Parse(line).RootElement is var json && json.TryGetProperty(property, out _))
                {
                    return json.Clone();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        Assert.Fail($"the driver printed no \"{property}\" line within {timeout}\n{Output()}\n{broker.Problems}");
        return default;
    }

    public async Task SendLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Kills the driver at once (SIGKILL): no clean close, no EndTxn, no LeaveGroup.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public async Task<ProcessResult> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            await KillAsync();
            return new ProcessResult(-1, Text(_stdout), $"timed out after {timeout}\n" + Text(_stderr), _stopwatch.Elapsed);
        }

        await _process.WaitForExitAsync(); // drains the asynchronous output readers
        return new ProcessResult(_process.ExitCode, Text(_stdout), Text(_stderr), _stopwatch.Elapsed);
    }

    private string Output() => $"stdout: {Text(_stdout)}\nstderr: {Text(_stderr)}";

    private static string Text(StringBuilder builder)
    {
        lock (builder)
        {
            return builder.ToString();
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
