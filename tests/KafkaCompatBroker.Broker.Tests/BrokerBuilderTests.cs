using System.Net;
using System.Net.Sockets;
using KafkaCompatBroker.Broker.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>The composition root: a start-up that fails after the listeners are bound leaves nothing behind.</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class BrokerBuilderTests : IDisposable
{
    private readonly string _dataDir = Path.Combine(Path.GetTempPath(), "kcb-builder-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    private BrokerConfig Config(int port) =>
        BrokerConfig.Load($"log.dirs={_dataDir}\nlisteners=PLAINTEXT://127.0.0.1:{port}\n", [], new System.Collections.Hashtable());

    [Fact]
    public async Task StartAsync_FailsAfterListenersBound_ReleasesPortAndDirs()
    {
        var port = FreePort();
        Directory.CreateDirectory(_dataDir);
        var boundSeen = false;
        var failing = new BrokerBuilder(Config(port), NullLoggerFactory.Instance)
        {
            OnListenersBound = () =>
            {
                // The listener really is bound at this point: a client connects.
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Loopback, port);
                boundSeen = true;
                throw new InvalidOperationException("injected start-up failure");
            },
        };

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => failing.StartAsync());
        Assert.Equal("injected start-up failure", error.Message);
        Assert.True(boundSeen);

        // The port is closed again and the log dirs are unlocked: a broker starts on both at once.
        await using var broker = await new BrokerBuilder(Config(port), NullLoggerFactory.Instance).StartAsync();
        Assert.Equal(port, broker.Ports[0]);
    }

    [Fact]
    public async Task StartAsync_WithoutListeners_AdvertisesConfiguredPortAndBindsNothing()
    {
        var port = FreePort();
        Directory.CreateDirectory(_dataDir);
        await using var broker = await new BrokerBuilder(Config(port), NullLoggerFactory.Instance) { BindListeners = false }.StartAsync();

        Assert.Equal($"127.0.0.1:{port}", broker.BootstrapServers);
        using var probe = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, port));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
