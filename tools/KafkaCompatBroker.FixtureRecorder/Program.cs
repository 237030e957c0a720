using System.Net;
using System.Runtime.InteropServices;
using KafkaCompatBroker.FixtureRecorder;

// Usage: KafkaCompatBroker.FixtureRecorder --out <dir> [--port <port>]
// Listens on 127.0.0.1 (port 0 = any free port), prints "listening 127.0.0.1:<port>" once ready,
// saves every request frame to <dir>/<NNN>-<ApiName>-v<version>.bin and runs until SIGINT/SIGTERM.
string? outDir = null;
var port = 0;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--out" when i + 1 < args.Length:
            outDir = args[++i];
            break;
        case "--port" when i + 1 < args.Length:
            port = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture);
            break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}");
            Console.Error.WriteLine("usage: KafkaCompatBroker.FixtureRecorder --out <dir> [--port <port>]");
            return 2;
    }
}

if (outDir is null)
{
    Console.Error.WriteLine("usage: KafkaCompatBroker.FixtureRecorder --out <dir> [--port <port>]");
    return 2;
}

using var cts = new CancellationTokenSource();
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

var recorder = new Recorder(new IPEndPoint(IPAddress.Loopback, port), outDir, Console.Out);
await recorder.RunAsync(cts.Token);
Console.Out.WriteLine($"stopped after {recorder.SavedFrames} frames");
return 0;

void Stop(PosixSignalContext context)
{
    context.Cancel = true;
    cts.Cancel();
}
