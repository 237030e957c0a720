using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// The real server executable (KafkaCompatBroker.Server.dll, copied next to this test assembly) run as a child
/// process from the repository root, with its stdout and stderr collected line by line.
/// </summary>
internal sealed class ServerProcess : IDisposable
{
    private readonly List<string> _lines = [];

    // Completed (and replaced) at each line and at the end of the output, so a wait for a line needs no polling.
    private TaskCompletionSource _lineAdded = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ServerProcess(params string[] arguments)
        : this(new Dictionary<string, string>(), arguments)
    {
    }

    public ServerProcess(IReadOnlyDictionary<string, string> environment, params string[] arguments)
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

        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        Process = Process.Start(info) ?? throw new InvalidOperationException("could not start the server");
        Process.OutputDataReceived += (_, e) => Append(e.Data);
        Process.ErrorDataReceived += (_, e) => Append(e.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    /// <summary>Every line written so far, stdout and stderr interleaved as they arrived.</summary>
    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public string Output => string.Join('\n', Lines);

    public static string RepoRoot()
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

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private void Append(string? line)
    {
        TaskCompletionSource added;
        lock (_lines)
        {
            if (line is not null)
            {
                _lines.Add(line);
            }

            added = _lineAdded;
            _lineAdded = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        added.TrySetResult();
    }

    /// <summary>Waits (30 s at most) until the output contains <paramref name="fragment"/>, waking at each line the server writes.</summary>
    public async Task WaitForOutputAsync(string fragment)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var exited = Process.WaitForExitAsync(timeout.Token); // also waits for the redirected output's end
        while (true)
        {
            Task nextLine;
            lock (_lines)
            {
                nextLine = _lineAdded.Task; // taken before the check: a line written after it completes this task
            }

            if (Output.Contains(fragment, StringComparison.Ordinal))
            {
                return;
            }

            if (exited.IsCompleted)
            {
                await WaitForExitOrKillAsync();
                Assert.Fail($"the server never wrote '{fragment}' (exited: {Process.HasExited}); output:\n{Output}");
            }

            await Task.WhenAny(nextLine, exited);
        }
    }

    /// <summary>Waits (30 s at most) for the process to exit and its output to be read to the end.</summary>
    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await Process.WaitForExitAsync(timeout.Token); // also waits for the redirected output's end
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("the server did not exit within 30 s; output:\n" + Output);
        }

        return Process.ExitCode;
    }

    private async Task WaitForExitOrKillAsync()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Process.WaitForExitAsync(timeout.Token);
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
