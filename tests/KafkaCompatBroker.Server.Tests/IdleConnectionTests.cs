using System.Buffers.Binary;
using System.Collections;
using System.Diagnostics;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// connections.max.idle.ms on a real broker (issue 14, item 2), set for the listener with
/// listener.name.plaintext.connections.max.idle.ms (the broker-wide value stays Kafka's 10 minutes): idle connections
/// and connections trickling a frame they never finish are closed after the timeout, holding no buffer of the size
/// they promised, while a client that keeps sending requests is unaffected.
/// </summary>
[Collection(nameof(IdleConnectionTests))] // alone: it measures the process's memory and allocations
[Trait(Categories.Name, Categories.Integration)]
public sealed class IdleConnectionTests : IAsyncLifetime
{
    private static readonly TimeSpan IdleTimeout = TimeSpan.FromMilliseconds(1500);

    // The sweep period (a tenth of the timeout) and scheduling on a loaded machine.
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(2);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-idle-" + Guid.NewGuid().ToString("N"));
    private readonly CapturedLogs _logs = new();
    private ILoggerFactory? _loggerFactory;
    private KafkaBroker? _broker;

    private KafkaBroker Broker => _broker ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _loggerFactory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Information));
        var config = BrokerConfig.Load(
            $"""
            node.id=1
            listeners=PLAINTEXT://127.0.0.1:0
            log.dirs={_dir}
            listener.name.plaintext.connections.max.idle.ms={(long)IdleTimeout.TotalMilliseconds}
            """,
            [],
            new Hashtable());
        Assert.Empty(config.Warnings);
        _broker = await KafkaBroker.StartAsync(config, _loggerFactory);
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        _loggerFactory?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private Task<RawConnection> ConnectAsync() => RawConnection.OpenAsync("127.0.0.1", Broker.Ports[0]);

    [Fact]
    public async Task IdleConnection_ClosedAfterTheListenersTimeoutWithOneLogLine()
    {
        await using var connection = await ConnectAsync();
        var stopwatch = Stopwatch.StartNew();

        await connection.AssertClosedByBrokerAsync();

        Assert.InRange(stopwatch.Elapsed, IdleTimeout - TimeSpan.FromMilliseconds(100), IdleTimeout + Slack);
        var line = await _logs.WaitForLineAsync("Closing idle connection", "connections.max.idle.ms = 1500");
        Assert.Single(_logs.Lines, l => l.Contains("Closing idle connection", StringComparison.Ordinal));
        Assert.DoesNotContain("unfinished request", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TenConnectionsTricklingHundredMegabyteFrames_HoldNoFrameBuffersAndAreClosed()
    {
        const int Connections = 10;
        const int Promised = 100 * 1024 * 1024; // socket.request.max.bytes' default: a size the broker accepts
        var prefix = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(prefix, Promised);
        await using var client = await ConnectAsync();
        var trickling = new List<RawConnection>();
        try
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var retainedBefore = GC.GetTotalMemory(forceFullCollection: true);
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            var stopwatch = Stopwatch.StartNew();
            for (var i = 0; i < Connections; i++)
            {
                var connection = await ConnectAsync();
                trickling.Add(connection);
                await connection.SendAsync([.. prefix, 0]);
            }

            // One more byte a second on each until the broker closes it (a trickled byte must not keep a connection
            // open), and a request every 250 ms from the working client. Memory is measured once, with them all open.
            var closed = trickling.Select(c => c.AssertClosedByBrokerAsync()).ToList();
            long? retained = null;
            long? allocated = null;
            var sent = 1;
            while (!closed.TrueForAll(c => c.IsCompleted) && stopwatch.Elapsed < IdleTimeout + Slack)
            {
                await client.ApiVersionsAsync();
                await Task.WhenAny(Task.WhenAll(closed), Task.Delay(TimeSpan.FromMilliseconds(250))); // the working client's pace, not a synchronisation
                if (retained is null && stopwatch.Elapsed > IdleTimeout / 2)
                {
                    retained = GC.GetTotalMemory(forceFullCollection: true) - retainedBefore;
                    allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
                    Assert.True(closed.TrueForAll(c => !c.IsCompleted), "a trickling connection was closed before the idle timeout");
                }

                if (stopwatch.Elapsed > TimeSpan.FromSeconds(sent))
                {
                    sent++;
                    for (var i = 0; i < Connections; i++)
                    {
                        if (!closed[i].IsCompleted)
                        {
                            await trickling[i].TrySendAsync([1]);
                        }
                    }
                }
            }

            await Task.WhenAll(closed);
            Assert.True(stopwatch.Elapsed < IdleTimeout + Slack, $"the trickling connections were closed after {stopwatch.Elapsed}");
            Assert.NotNull(retained);
            Assert.True(retained < 64 * 1024 * 1024, $"{retained} bytes more retained with {Connections} connections promising {Promised} bytes each");
            Assert.True(allocated < 64 * 1024 * 1024, $"{allocated} bytes allocated with {Connections} connections promising {Promised} bytes each");
            await _logs.WaitForLineAsync("Closing idle connection", "bytes of an unfinished request received");

            // The working client kept its connection, past the idle timeout, by completing requests.
            Assert.True(stopwatch.Elapsed > IdleTimeout);
            await client.ApiVersionsAsync();
        }
        finally
        {
            foreach (var connection in trickling)
            {
                await connection.DisposeAsync();
            }
        }
    }
}

[CollectionDefinition(nameof(IdleConnectionTests), DisableParallelization = true)]
public sealed class IdleConnectionTestsCollection;
