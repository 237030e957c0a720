using System.Collections;
using System.Net;
using System.Net.Sockets;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// What the broker advertises, as Kafka decides it (KafkaConfig.effectiveAdvertisedBrokerListeners,
/// ListenerInfo.withWildcardHostnamesResolved / withEphemeralPortsCorrected): advertised.listeners when set,
/// else listeners; an empty host becomes the canonical host name; port 0 the port actually bound by the
/// listener of the same name; 0.0.0.0 cannot be advertised. And a broker that fails to bind lets go of its dir.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class AdvertisedListenerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-advertised-" + Guid.NewGuid().ToString("N"));

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

    private Task<KafkaBroker> StartAsync(string properties) =>
        KafkaBroker.StartAsync(BrokerConfig.Load($"log.dirs={_dir}\n{properties}", [], new Hashtable()), NullLoggerFactory.Instance);

    [Fact]
    public async Task StartAsync_NoAdvertisedListeners_AdvertisesListenersWithTheBoundPort()
    {
        await using var broker = await StartAsync("listeners=PLAINTEXT://127.0.0.1:0");

        Assert.Equal(new[] { new AdvertisedListener("PLAINTEXT", "127.0.0.1", broker.Ports[0]) }, broker.Context.Settings.AdvertisedListeners);
        await using var connection = await RawConnection.OpenAsync("127.0.0.1", broker.Ports[0]);
        var advertised = Assert.Single(await connection.MetadataBrokersAsync());
        Assert.Equal(("127.0.0.1", broker.Ports[0]), (advertised.Host, advertised.Port));
    }

    [Fact]
    public async Task StartAsync_EmptyHost_AdvertisesTheCanonicalHostName()
    {
        await using var broker = await StartAsync("listeners=PLAINTEXT://:0");

        Assert.Equal(new AdvertisedListener("PLAINTEXT", Dns.GetHostEntry(Dns.GetHostName()).HostName, broker.Ports[0]), broker.Context.Settings.AdvertisedListeners[0]);
    }

    [Fact]
    public async Task StartAsync_AdvertisedPortZero_TakesTheBoundPortOfTheListenerWithTheSameName()
    {
        await using var broker = await StartAsync(
            """
            listeners=PLAINTEXT://127.0.0.1:0,EXTERNAL://127.0.0.1:0
            listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT
            advertised.listeners=EXTERNAL://external.example:0,PLAINTEXT://internal.example:0
            """);

        Assert.Equal(
            new[] { new AdvertisedListener("EXTERNAL", "external.example", broker.Ports[1]), new AdvertisedListener("PLAINTEXT", "internal.example", broker.Ports[0]) },
            broker.Context.Settings.AdvertisedListeners);
    }

    [Fact]
    public async Task Metadata_OnEachListener_AnswersThatListenersAdvertisedEndpoint()
    {
        // Kafka answers Metadata with the endpoints of the listener the request came in on (KafkaApis.handleTopicMetadataRequest: request.context.listenerName).
        await using var broker = await StartAsync(
            """
            listeners=PLAINTEXT://127.0.0.1:0,EXTERNAL://127.0.0.1:0
            listener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTERNAL:PLAINTEXT
            advertised.listeners=EXTERNAL://external.example:0,PLAINTEXT://internal.example:0
            """);

        await using var onPlaintext = await RawConnection.OpenAsync("127.0.0.1", broker.Ports[0]);
        await using var onExternal = await RawConnection.OpenAsync("127.0.0.1", broker.Ports[1]);
        var plaintext = Assert.Single(await onPlaintext.MetadataBrokersAsync());
        var external = Assert.Single(await onExternal.MetadataBrokersAsync());

        Assert.Equal(("internal.example", broker.Ports[0]), (plaintext.Host, plaintext.Port));
        Assert.Equal(("external.example", broker.Ports[1]), (external.Host, external.Port));
    }

    [Fact]
    public async Task StartAsync_WildcardAddressWouldBeAdvertised_ThrowsAsKafkaDoes()
    {
        var error = await Assert.ThrowsAsync<ConfigException>(() => StartAsync("listeners=PLAINTEXT://0.0.0.0:0"));

        Assert.Contains("advertised.listeners cannot advertise 0.0.0.0", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir), "a config error must stop start-up before the log dir is touched");
    }

    [Fact]
    public async Task StartAsync_AdvertisedNameNotAListener_Throws()
    {
        var error = await Assert.ThrowsAsync<ConfigException>(() => StartAsync("listeners=PLAINTEXT://127.0.0.1:0\nadvertised.listeners=OTHER://h:1"));

        Assert.Contains("advertised.listeners", error.Message, StringComparison.Ordinal);
        Assert.Contains("OTHER", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StartAsync_PortInUse_ThrowsNamingTheAddressAndReleasesTheLogDir()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;

        var error = await Assert.ThrowsAsync<BrokerStartupException>(() => StartAsync($"listeners=PLAINTEXT://127.0.0.1:{port}"));

        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        taken.Stop();
        await using var broker = await StartAsync("listeners=PLAINTEXT://127.0.0.1:0"); // the dir's lock was released
    }

    [Fact]
    public async Task StartAsync_LogDirLocked_ThrowsStorageErrorNamingTheDir()
    {
        await using var first = await StartAsync("listeners=PLAINTEXT://127.0.0.1:0");

        var error = await Assert.ThrowsAsync<KafkaStorageException>(() => StartAsync("listeners=PLAINTEXT://127.0.0.1:0"));

        Assert.Contains(_dir, error.Message, StringComparison.Ordinal);
        Assert.Contains("locked by another", error.Message, StringComparison.Ordinal);
    }
}
