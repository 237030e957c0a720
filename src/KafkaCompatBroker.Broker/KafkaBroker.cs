using System.Reflection;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// One running broker: formats and opens its data directories, replays the cluster metadata, opens
/// the partition logs, listens on its Kafka listeners and registers itself. Used by the server
/// executable and by integration tests (which listen on port 0 with a temporary data directory).
/// </summary>
public sealed class KafkaBroker : IAsyncDisposable
{
    private readonly ListenerHosts? _listeners;
    private readonly LogManager _logs;
    private readonly MetadataStore _metadata;
    private readonly ReplicaManager _replicas;
    private readonly DynamicConfigPublisher _dynamicConfig;
    private bool _stopped;

    internal KafkaBroker(ListenerHosts? listeners, LogManager logs, LogCleaner cleaner, MetadataStore metadata, ReplicaManager replicas, DynamicConfigPublisher dynamicConfig, BrokerContext context, RequestDispatcher dispatcher, IReadOnlyList<int> ports)
    {
        Dispatcher = dispatcher;
        Cleaner = cleaner;
        _listeners = listeners;
        _logs = logs;
        _metadata = metadata;
        _replicas = replicas;
        _dynamicConfig = dynamicConfig;
        Context = context;
        Ports = ports;
    }

    public BrokerContext Context { get; }

    /// <summary>Decodes, handles and answers one request frame (what the listeners call; handler tests call it directly).</summary>
    public RequestDispatcher Dispatcher { get; }

    /// <summary>Applies dynamic config changes to the running broker.</summary>
    internal DynamicConfigPublisher DynamicConfig => _dynamicConfig;

    /// <summary>The log cleaner (compaction) the log manager runs.</summary>
    internal LogCleaner Cleaner { get; }

    /// <summary>The bound port of each listener bound at start-up, in the order of the listeners config in effect then (the configured ports when none was bound).</summary>
    public IReadOnlyList<int> Ports { get; }

    /// <summary>The bound port of the open listener named <paramref name="name"/> (listeners may change at run time), or null.</summary>
    public int? ListenerPort(string name) => _listeners?.Port(name);

    /// <summary>host:port of the first advertised listener (what a client bootstraps from).</summary>
    public string BootstrapServers => $"{Context.Settings.AdvertisedListeners[0].Host}:{Context.Settings.AdvertisedListeners[0].Port}";

    /// <summary>This build's version (the assembly's informational version, e.g. 0.1.0+commit).</summary>
    public static string Version { get; } =
        typeof(KafkaBroker).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(KafkaBroker).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    /// <summary>Starts a broker (<see cref="BrokerBuilder"/> says how; on failure what was opened is closed again).</summary>
    public static Task<KafkaBroker> StartAsync(BrokerConfig config, ILoggerFactory loggerFactory, TimeProvider? time = null, CancellationToken cancellationToken = default) =>
        new BrokerBuilder(config, loggerFactory) { Time = time ?? TimeProvider.System }.StartAsync(cancellationToken);

    /// <summary>Graceful stop: wake parked fetches, stop accepting, finish in-flight requests, then flush and close the logs.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;

        // Parked fetches and group joins/syncs answer now (and new ones do not wait), so the listeners' graceful
        // stop, which waits for every request in flight, is not held up by a max_wait_ms or rebalance timeout.
        _replicas.StopDelayedFetches();
        Context.GroupCoordinator.BeginShutdown();
        if (_listeners is not null)
        {
            await _listeners.StopAsync();
        }

        _dynamicConfig.Dispose();
        Context.GroupCoordinator.Dispose();
        Context.TransactionCoordinator.Dispose();
        _replicas.Dispose();
        _metadata.Dispose();
        _logs.Shutdown();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_listeners is not null)
        {
            await _listeners.DisposeAsync();
        }
    }
}
