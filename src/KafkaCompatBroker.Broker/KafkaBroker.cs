using System.Reflection;
using System.Runtime.CompilerServices;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// One running broker: formats and opens its data directories, replays the cluster metadata, opens
/// the partition logs, listens on its Kafka listeners and registers itself. Used by the server
/// executable and by integration tests (which listen on port 0 with a temporary data directory).
/// </summary>
public sealed class KafkaBroker : IAsyncDisposable
{
    private readonly ListenerHosts _listeners;
    private readonly LogManager _logs;
    private readonly MetadataStore _metadata;
    private readonly ReplicaManager _replicas;
    private readonly DynamicConfigPublisher _dynamicConfig;
    private bool _stopped;

    private KafkaBroker(ListenerHosts listeners, LogManager logs, LogCleaner cleaner, MetadataStore metadata, ReplicaManager replicas, DynamicConfigPublisher dynamicConfig, BrokerContext context, IReadOnlyList<int> ports)
    {
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

    /// <summary>The log cleaner (compaction) the log manager runs.</summary>
    internal LogCleaner Cleaner { get; }

    /// <summary>The bound port of each listener bound at start-up, in the order of the listeners config in effect then.</summary>
    public IReadOnlyList<int> Ports { get; }

    /// <summary>The bound port of the open listener named <paramref name="name"/> (listeners may change at run time), or null.</summary>
    public int? ListenerPort(string name) => _listeners.Port(name);

    /// <summary>host:port of the first advertised listener (what a client bootstraps from).</summary>
    public string BootstrapServers => $"{Context.Settings.AdvertisedListeners[0].Host}:{Context.Settings.AdvertisedListeners[0].Port}";

    /// <summary>This build's version (the assembly's informational version, e.g. 0.1.0+commit).</summary>
    public static string Version { get; } =
        typeof(KafkaBroker).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(KafkaBroker).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    /// <summary>
    /// Starts a broker. A bad config throws <see cref="ConfigException"/> before anything is touched; a log dir
    /// that cannot be used throws <see cref="KafkaStorageException"/>; a listener that cannot bind throws
    /// <see cref="BrokerStartupException"/>. On any failure what was opened is closed again (the log dirs unlocked).
    /// </summary>
    public static async Task<KafkaBroker> StartAsync(BrokerConfig config, ILoggerFactory loggerFactory, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        time ??= TimeProvider.System;
        var log = loggerFactory.CreateLogger<KafkaBroker>();
        foreach (var warning in config.Warnings)
        {
            log.LogWarning("{Warning}", warning);
        }

        var nodeId = config.GetInt("node.id");
        var listeners = BrokerListeners.FromConfig(config);
        log.LogInformation(
            "Starting KafkaCompatBroker {Version}: node {NodeId}, roles {Roles}, log dirs {LogDirs}",
            Version, nodeId, string.Join(',', config.GetList("process.roles")), string.Join(',', config.LogDirs));

        // Dynamic broker configs live in the metadata, which is read before the logs open (as Kafka does), so the
        // logs open with the effective defaults; the dirs are locked first, so nothing below writes to a dir another
        // broker uses.
        LogConfig? logDefaults = null;
        var cleaner = new LogCleaner();
        var logs = new LogManager(
            new LogManagerOptions
            {
                LogDirs = config.LogDirs,
                NumRecoveryThreadsPerDataDir = config.GetInt("num.recovery.threads.per.data.dir"),
                LogRetentionCheckIntervalMs = config.GetLong("log.retention.check.interval.ms"),
                LogFlushSchedulerIntervalMs = config.GetLong("log.flush.scheduler.interval.ms"),
                LogFlushOffsetCheckpointIntervalMs = config.GetLong("log.flush.offset.checkpoint.interval.ms"),
                LogFlushStartOffsetCheckpointIntervalMs = config.GetLong("log.flush.start.offset.checkpoint.interval.ms"),
                LogCleanerEnable = config.GetBool("log.cleaner.enable"),
                LogCleanerBackoffMs = config.GetLong("log.cleaner.backoff.ms"),
                ProducerIdExpirationMs = config.GetInt("producer.id.expiration.ms"),
                ProducerIdExpirationCheckIntervalMs = config.GetInt("producer.id.expiration.check.interval.ms"),
                Cleaner = cleaner.MaybeClean,
            },
            _ => logDefaults ?? throw new InvalidOperationException("the log defaults are read from the metadata before the logs open"),
            loggerFactory.CreateLogger<LogManager>(),
            time);
        logs.LockDirs();

        MetadataStore? metadata = null;
        ListenerHosts? listenerHosts = null;
        ReplicaManager? replicas = null;
        BrokerContext? context = null;
        DynamicConfigPublisher? dynamicConfig = null;
        try
        {
            var clusterId = MetaProperties.EnsureFormatted(config.LogDirs, nodeId, config.GetString("cluster.id"));
            metadata = MetadataStore.Open(
                new MetadataStoreOptions
                {
                    MetadataLogDir = MetadataStoreOptions.ResolveMetadataLogDir(config.GetString("metadata.log.dir"), config.LogDirs),
                    ClusterId = clusterId,
                    DefaultNumPartitions = config.GetInt("num.partitions"),
                    DefaultReplicationFactor = (short)config.GetInt("default.replication.factor"),
                    Time = time,
                },
                loggerFactory.CreateLogger<MetadataStore>());
            var effective = DynamicBrokerConfig.Effective(config, metadata.Image, nodeId);
            logDefaults = BrokerSettings.LogDefaultsFrom(effective);
            logs.RecoveryThreadsPerDataDir = effective.GetInt("num.recovery.threads.per.data.dir");
            DynamicConfigPublisher.ApplyToLogs(logs, cleaner, effective);
            logs.Startup();

            // Connections may arrive as soon as the listeners bind; requests wait until the broker is registered.
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var registryHolder = new BrokerContextHolder();
            // The listeners in effect include a dynamic per-broker listeners config (checked when it was stored).
            listeners = BrokerListeners.FromConfig(effective);
            listenerHosts = await ListenerHosts.StartAsync(config, listeners, loggerFactory, new StartupGate(started.Task, registryHolder, loggerFactory.CreateLogger<RequestDispatcher>()), time, cancellationToken);
            var ports = listenerHosts.StartupPorts;
            var advertised = listeners.Resolve(ports);
            var settings = new BrokerSettings
            {
                NodeId = nodeId,
                Config = config,
                Rack = config.GetString("broker.rack"),
                AdvertisedListeners = advertised,
                AutoCreateTopics = config.GetBool("auto.create.topics.enable"),
                DefaultNumPartitions = config.GetInt("num.partitions"),
                DefaultReplicationFactor = (short)config.GetInt("default.replication.factor"),
            };
            var registration = await metadata.Controller.RegisterBrokerAsync(nodeId, KafkaUuid.NewRandom(), [.. advertised.Select(a => new BrokerEndpoint(a.Name, a.Host, a.Port, 0))], settings.Rack);
            if (registration.Error != ErrorCode.None)
            {
                throw new KafkaStorageException($"cannot register broker {nodeId}: {registration.ErrorMessage}");
            }

            replicas = new ReplicaManager(settings, metadata, logs, loggerFactory.CreateLogger<ReplicaManager>());
            context = new BrokerContext(settings, metadata, logs, replicas, loggerFactory, time);
            dynamicConfig = new DynamicConfigPublisher(context, cleaner, listenerHosts);

            // The metadata publishers, in order (Kafka's BrokerMetadataPublisher): hosted logs first (the coordinators load
            // from them), then the coordinators' partitions, then the dynamic configs. Each first gets the loaded image.
            metadata.Loader.Install(replicas);
            metadata.Loader.Install(new CoordinatorElectionPublisher(
                nodeId,
                new LoggingCoordinatorElectionListener("Group coordinator", loggerFactory.CreateLogger<GroupCoordinatorElections>()),
                new LoggingCoordinatorElectionListener("Transaction coordinator", loggerFactory.CreateLogger<TransactionCoordinatorElections>())));
            metadata.Loader.Install(dynamicConfig);
            context.LoadGroups();
            context.LoadTransactions();
            var registry = HandlerDiscovery.CreateRegistry(context);
            registryHolder.Dispatcher = new RequestDispatcher(registry, loggerFactory.CreateLogger<RequestDispatcher>());
            started.SetResult();
            log.LogInformation(
                "Broker {NodeId} started: listening on {Listeners}, cluster id {ClusterId}, {Apis} APIs",
                nodeId, listeners.Describe(ports, advertised), clusterId, registry.Handlers.Count);
            return new KafkaBroker(listenerHosts, logs, cleaner, metadata, replicas, dynamicConfig, context, ports);
        }
        catch
        {
            if (listenerHosts is not null)
            {
                await listenerHosts.DisposeAsync();
            }

            dynamicConfig?.Dispose();
            context?.GroupCoordinator.Dispose();
            context?.TransactionCoordinator.Dispose();
            replicas?.Dispose();
            metadata?.Dispose();
            logs.Shutdown();
            throw;
        }
    }

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
        _replicas.Notifier.Stop();
        Context.GroupCoordinator.BeginShutdown();
        await _listeners.StopAsync();
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
        await _listeners.DisposeAsync();
    }

    /// <summary>Logger categories of the coordinators' election listeners.</summary>
    private sealed class GroupCoordinatorElections;

    /// <inheritdoc cref="GroupCoordinatorElections"/>
    private sealed class TransactionCoordinatorElections;

    private sealed class BrokerContextHolder
    {
        public RequestDispatcher? Dispatcher { get; set; }
    }

    /// <summary>Holds requests until the broker finished starting, then hands them to the dispatcher.</summary>
    private sealed class StartupGate(Task started, BrokerContextHolder holder, ILogger logger) : IKafkaRequestProcessor
    {
        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // every request passes here: no state machine allocated when it waits
        public async ValueTask<RequestOutcome> ProcessAsync(KafkaConnection connection, System.Buffers.ReadOnlySequence<byte> frame, System.IO.Pipelines.PipeWriter output, CancellationToken cancellationToken)
        {
            if (!started.IsCompleted)
            {
                await started.WaitAsync(cancellationToken);
            }

            if (holder.Dispatcher is not { } dispatcher)
            {
                logger.LogWarning("Closing {Connection}: the broker failed to start", connection);
                return RequestOutcome.Close;
            }

            return await dispatcher.ProcessAsync(connection, frame, output, cancellationToken);
        }
    }
}
