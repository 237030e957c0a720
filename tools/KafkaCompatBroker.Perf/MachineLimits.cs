using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace KafkaCompatBroker.Perf;

/// <summary>The machine's physical limits, measured in the same run: loopback TCP and sequential disk writes (MiB/s).</summary>
internal sealed record MachineLimits(double LoopbackTcpMBPerSec, double DiskWriteMBPerSec, string DiskDir)
{
    /// <summary>One connection over 127.0.0.1, 64 KiB writes for about a second; counts what the reader received.</summary>
    public static async Task<double> LoopbackTcpAsync(TimeSpan duration)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var sender = new TcpClient();
        var accept = listener.AcceptTcpClientAsync();
        await sender.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var receiver = await accept;

        long received = 0;
        var start = Stopwatch.GetTimestamp();
        var reading = Task.Run(async () =>
        {
            var buffer = new byte[256 * 1024];
            var stream = receiver.GetStream();
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                received += n;
            }
        });
        var chunk = new byte[64 * 1024];
        Random.Shared.NextBytes(chunk);
        var output = sender.GetStream();
        while (Stopwatch.GetElapsedTime(start) < duration)
        {
            await output.WriteAsync(chunk);
        }

        sender.Client.Shutdown(SocketShutdown.Send);
        await reading;
        return received / 1048576.0 / Stopwatch.GetElapsedTime(start).TotalSeconds;
    }

    /// <summary>Writes 1 MiB blocks to a temp file in <paramref name="dir"/> until 256 MiB or about 2 s, then fsyncs; the fsync is timed too.</summary>
    public static double DiskWrite(string dir)
    {
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "kcb-perf-disk-" + Guid.NewGuid().ToString("N") + ".tmp");
        var block = new byte[1024 * 1024];
        Random.Shared.NextBytes(block);
        try
        {
            long written = 0;
            var start = Stopwatch.GetTimestamp();
            using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1, FileOptions.None))
            {
                while (written < 256L * 1024 * 1024 && Stopwatch.GetElapsedTime(start) < TimeSpan.FromSeconds(2))
                {
                    file.Write(block);
                    written += block.Length;
                }

                file.Flush(flushToDisk: true);
            }

            return written / 1048576.0 / Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
        finally
        {
            File.Delete(path);
        }
    }
}
