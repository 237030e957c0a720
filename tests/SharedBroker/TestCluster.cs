using System.Collections;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Testing;

/// <summary>
/// In-process brokers for integration tests: each on 127.0.0.1 port 0 with a temp data dir of its own, started
/// through the server's own <see cref="BrokerBuilder"/>, stopped and their dirs deleted on dispose (also when a
/// start fails). One broker today; n brokers forming one cluster come with the metadata quorum (issue 17), which
/// is why the shape is a cluster already. Linked into the test projects that reference the Broker project.
/// </summary>
internal sealed class TestCluster : IAsyncDisposable
{
    private readonly string _extraConfig;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly KafkaBroker?[] _brokers;
    private readonly string[] _dataDirs;
    private readonly int[] _ports;

    private TestCluster(int size, string extraConfig, ILoggerFactory loggerFactory, TimeProvider time)
    {
        _extraConfig = extraConfig;
        _loggerFactory = loggerFactory;
        _time = time;
        _brokers = new KafkaBroker?[size];
        _ports = new int[size];
        _dataDirs = [.. Enumerable.Range(0, size).Select(_ => Path.Combine(Path.GetTempPath(), "kcb-cluster-" + Guid.NewGuid().ToString("N")))];
    }

    /// <param name="brokers">How many brokers: 1 until the metadata quorum lands (issue 17).</param>
    /// <param name="extraConfig">server.properties lines added to (and overriding) the test defaults.</param>
    /// <param name="loggerFactory">Where the brokers log; nowhere when null.</param>
    /// <param name="time">The clock every broker runs on; the system clock when null.</param>
    public static async Task<TestCluster> StartAsync(int brokers = 1, string extraConfig = "", ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        // ONE-REPLICA: until brokers share a metadata quorum, n brokers would be n separate single-node clusters.
        ArgumentOutOfRangeException.ThrowIfNotEqual(brokers, 1);
        var cluster = new TestCluster(brokers, extraConfig, loggerFactory ?? NullLoggerFactory.Instance, time ?? TimeProvider.System);
        try
        {
            for (var i = 0; i < brokers; i++)
            {
                await cluster.StartBrokerAsync(i, port: 0);
            }
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        return cluster;
    }

    public int Size => _brokers.Length;

    /// <summary>A running broker (throws when it is stopped).</summary>
    public KafkaBroker this[int index] => _brokers[index] ?? throw new InvalidOperationException($"broker {index} is stopped");

    /// <summary>The first broker (the only one today).</summary>
    public KafkaBroker Broker => this[0];

    /// <summary>host:port of every broker, comma-separated (a client's bootstrap.servers).</summary>
    public string BootstrapServers => string.Join(',', _ports.Select(p => $"127.0.0.1:{p}"));

    /// <summary>The port broker <paramref name="index"/> listens on (kept across restarts).</summary>
    public int Port(int index) => _ports[index];

    public string DataDir(int index) => _dataDirs[index];

    /// <summary>Stops broker <paramref name="index"/> cleanly (its data dir stays).</summary>
    public async Task StopAsync(int index)
    {
        if (_brokers[index] is { } broker)
        {
            _brokers[index] = null;
            await broker.DisposeAsync();
        }
    }

    /// <summary>Stops broker <paramref name="index"/> cleanly and starts it again on the same port and data dir.</summary>
    public async Task RestartAsync(int index)
    {
        await StopAsync(index);
        await StartBrokerAsync(index, _ports[index]);
    }

    private async Task StartBrokerAsync(int index, int port)
    {
        Directory.CreateDirectory(_dataDirs[index]);
        var config = BrokerConfig.Load(
            $"""
            process.roles=broker,controller
            node.id={index + 1}
            listeners=PLAINTEXT://127.0.0.1:{port}
            log.dirs={_dataDirs[index]}
            {_extraConfig}
            """,
            [],
            new Hashtable());
        var broker = await new BrokerBuilder(config, _loggerFactory) { Time = _time }.StartAsync();
        _brokers[index] = broker;
        _ports[index] = broker.Ports[0];
    }

    public async ValueTask DisposeAsync()
    {
        for (var i = 0; i < _brokers.Length; i++)
        {
            await StopAsync(i);
            try
            {
                Directory.Delete(_dataDirs[i], recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
            catch (IOException)
            {
                // A file still open elsewhere: the temp dir is left behind, the test result stands.
            }
        }
    }
}
