using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The one place a broker is put together (its composition root): the server executable, the integration tests
/// and the handler tests all start a broker through it, so the wiring exists once. Order (as Kafka's
/// BrokerServer): lock and format the log dirs, replay the cluster metadata, open the logs with the effective
/// (dynamic) defaults, bind the listeners (requests wait at a gate), register the broker with the bound ports,
/// then the replica manager, the coordinators and the handlers, and open the gate. When a step fails, everything
/// started before it is closed again, in reverse order, listeners included.
/// </summary>
public sealed class BrokerBuilder(BrokerConfig config, ILoggerFactory loggerFactory)
{
    /// <summary>The clock every timer of the broker runs on (tests pass a fake one).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>
    /// False: no socket is bound; the broker advertises its listeners config as written and requests reach it only
    /// through <see cref="KafkaBroker.Dispatcher"/> (handler tests that need no network).
    /// </summary>
    public bool BindListeners { get; init; } = true;

    /// <summary>Runs once the metadata is open, before the replica manager is installed as a publisher (a test's publisher that must run first).</summary>
    public Action<MetadataStore>? OnMetadataOpened { get; init; }

    /// <summary>Runs after the listeners are bound and before the broker registers (tests: a start-up failure with sockets open).</summary>
    internal Action? OnListenersBound { get; init; }

    /// <summary>
    /// Starts the broker. A bad config throws <see cref="ConfigException"/> before anything is touched; a log dir
    /// that cannot be used throws <see cref="KafkaStorageException"/>; a listener that cannot bind throws
    /// <see cref="BrokerStartupException"/>.
    /// </summary>
    public async Task<KafkaBroker> StartAsync(CancellationToken cancellationToken = default)
    {
        var time = Time;
        var log = loggerFactory.CreateLogger<KafkaBroker>();
        foreach (var warning in config.Warnings)
        {
            log.LogWarning("{Warning}", warning);
        }

        var nodeId = config.GetInt("node.id");
        var listeners = BrokerListeners.FromConfig(config);
        log.LogInformation(
            "Starting KafkaCompatBroker {Version}: node {NodeId}, roles {Roles}, log dirs {LogDirs}",
            KafkaBroker.Version, nodeId, string.Join(',', config.GetList("process.roles")), string.Join(',', config.LogDirs));

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

        // What is started so far, closed in reverse order if a later step fails.
        var started = new Stack<Func<ValueTask>>();
        started.Push(() =>
        {
            logs.Shutdown();
            return ValueTask.CompletedTask;
        });
        StartupGate? gate = null;
        try
        {
            var clusterId = MetaProperties.EnsureFormatted(config.LogDirs, nodeId, config.GetString("cluster.id"));
            var metadata = MetadataStore.Open(
                new MetadataStoreOptions
                {
                    MetadataLogDir = MetadataStoreOptions.ResolveMetadataLogDir(config.GetString("metadata.log.dir"), config.LogDirs),
                    ClusterId = clusterId,
                    DefaultNumPartitions = config.GetInt("num.partitions"),
                    DefaultReplicationFactor = (short)config.GetInt("default.replication.factor"),
                    Time = time,
                },
                loggerFactory.CreateLogger<MetadataStore>());
            started.Push(Disposing(metadata));
            OnMetadataOpened?.Invoke(metadata);
            var effective = DynamicBrokerConfig.Effective(config, metadata.Image, nodeId);
            logDefaults = BrokerSettings.LogDefaultsFrom(effective);
            logs.RecoveryThreadsPerDataDir = effective.GetInt("num.recovery.threads.per.data.dir");
            DynamicConfigPublisher.ApplyToLogs(logs, cleaner, effective);
            logs.Startup();

            // Connections may arrive as soon as the listeners bind; requests wait at the gate until the broker is registered.
            // The listeners in effect include a dynamic per-broker listeners config (checked when it was stored).
            listeners = BrokerListeners.FromConfig(effective);
            gate = new StartupGate(loggerFactory.CreateLogger<RequestDispatcher>());
            ListenerHosts? listenerHosts = null;
            IReadOnlyList<int> ports;
            if (BindListeners)
            {
                listenerHosts = await ListenerHosts.StartAsync(config, listeners, loggerFactory, gate, time, cancellationToken);
                started.Push(listenerHosts.DisposeAsync);
                ports = listenerHosts.StartupPorts;
            }
            else
            {
                ports = [.. listeners.BindEndPoints.Select(e => e.Port)];
            }

            OnListenersBound?.Invoke();
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

            var replicas = new ReplicaManager(settings, metadata, logs, loggerFactory.CreateLogger<ReplicaManager>());
            started.Push(Disposing(replicas));
            var context = new BrokerContext(settings, metadata, logs, replicas, loggerFactory, time);
            started.Push(Disposing(context.GroupCoordinator));
            started.Push(Disposing(context.TransactionCoordinator));
            var dynamicConfig = new DynamicConfigPublisher(context, cleaner, listenerHosts);
            started.Push(Disposing(dynamicConfig));

            // The metadata publishers, in order (Kafka's BrokerMetadataPublisher): hosted logs first (the coordinators load
            // from them), then the coordinators' partitions, then the dynamic configs. Each first gets the loaded image.
            // ONE-REPLICA: the coordinators load every partition of their topics here, before they listen to elections
            // (the initial delta then elects each at the epoch already loaded); a cluster loads only what it leads.
            metadata.Loader.Install(replicas);
            context.LoadGroups();
            context.LoadTransactions();
            metadata.Loader.Install(new CoordinatorElectionPublisher(
                nodeId,
                new GroupCoordinatorElections(context.GroupCoordinator, loggerFactory.CreateLogger<GroupCoordinatorElections>()),
                new LoggingCoordinatorElectionListener("Transaction coordinator", loggerFactory.CreateLogger<TransactionCoordinatorElections>())));
            metadata.Loader.Install(dynamicConfig);
            var registry = HandlerDiscovery.CreateRegistry(context);
            var dispatcher = new RequestDispatcher(registry, loggerFactory.CreateLogger<RequestDispatcher>());
            gate.Open(dispatcher);
            log.LogInformation(
                "Broker {NodeId} started: {Listeners}, cluster id {ClusterId}, {Apis} APIs",
                nodeId, BindListeners ? "listening on " + listeners.Describe(ports, advertised) : "no listeners bound", clusterId, registry.Handlers.Count);
            return new KafkaBroker(listenerHosts, logs, cleaner, metadata, replicas, dynamicConfig, context, dispatcher, ports);
        }
        catch
        {
            gate?.Fail();
            while (started.TryPop(out var close))
            {
                await close();
            }

            throw;
        }
    }

    /// <summary>Logger category of the transaction coordinator's election listener (it is not sharded yet: elections are only logged).</summary>
    private sealed class TransactionCoordinatorElections;

    private static Func<ValueTask> Disposing(IDisposable disposable) => () =>
    {
        disposable.Dispose();
        return ValueTask.CompletedTask;
    };
}
