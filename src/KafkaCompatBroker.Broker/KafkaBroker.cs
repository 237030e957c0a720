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
    private readonly WebApplication _app;
    private readonly LogManager _logs;
    private readonly MetadataStore _metadata;
    private readonly ReplicaManager _replicas;
    private readonly DynamicConfigPublisher _dynamicConfig;
    private bool _stopped;

    private KafkaBroker(WebApplication app, LogManager logs, LogCleaner cleaner, MetadataStore metadata, ReplicaManager replicas, DynamicConfigPublisher dynamicConfig, BrokerContext context, IReadOnlyList<int> ports)
    {
        Cleaner = cleaner;
        _app = app;
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

    /// <summary>The bound port of each listener, in the order of the listeners config.</summary>
    public IReadOnlyList<int> Ports { get; }

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
        WebApplication? app = null;
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
            app = BuildWebHost(config, listeners, loggerFactory, new StartupGate(started.Task, registryHolder, loggerFactory.CreateLogger<RequestDispatcher>()));
            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (IOException e)
            {
                throw BindFailure(listeners, e);
            }

            var bound = app.Services.GetRequiredService<IServer>().BoundPorts();
            var ports = listeners.Bind.Select((l, i) => l.Port != 0 || i >= bound.Count ? l.Port : bound[i]).ToList();
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
            var registration = metadata.RegisterBroker(nodeId, KafkaUuid.NewRandom(), [.. advertised.Select(a => new BrokerEndpoint(a.Name, a.Host, a.Port, 0))], settings.Rack);
            if (registration.Error != ErrorCode.None)
            {
                throw new KafkaStorageException($"cannot register broker {nodeId}: {registration.ErrorMessage}");
            }

            replicas = new ReplicaManager(settings, metadata, logs, loggerFactory.CreateLogger<ReplicaManager>());
            context = new BrokerContext(settings, metadata, logs, replicas, loggerFactory, time);
            context.LoadGroups();
            context.LoadTransactions();
            dynamicConfig = new DynamicConfigPublisher(context, cleaner);
            var registry = HandlerDiscovery.CreateRegistry(context);
            registryHolder.Dispatcher = new RequestDispatcher(registry, loggerFactory.CreateLogger<RequestDispatcher>());
            started.SetResult();
            log.LogInformation(
                "Broker {NodeId} started: listening on {Listeners}, cluster id {ClusterId}, {Apis} APIs",
                nodeId, listeners.Describe(ports, advertised), clusterId, registry.Handlers.Count);
            return new KafkaBroker(app, logs, cleaner, metadata, replicas, dynamicConfig, context, ports);
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync();
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

    private static WebApplication BuildWebHost(BrokerConfig config, BrokerListeners listeners, ILoggerFactory loggerFactory, IKafkaRequestProcessor processor)
    {
        // Kestrel is only the socket layer here: no content root or appsettings from the working directory, and
        // none of the web host's own lines (hosting environment, "Now listening on: http://...") in the broker's log.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(loggerFactory));
        builder.Logging.SetMinimumLevel(LogLevel.Trace); // the broker's own logger factory decides
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None); // a failed start is reported once, by the caller
        builder.Services.AddSingleton(new NetworkOptions { SocketRequestMaxBytes = config.GetInt("socket.request.max.bytes"), SendFile = config.GetBool("socket.sendfile.enable") });
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, ReceiveBlockPoolFactory>();
        builder.Services.AddSingleton(processor);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var endPoint in listeners.BindEndPoints)
            {
                kestrel.ListenKafka(endPoint);
            }
        });
        return builder.Build();
    }

    /// <summary>One line naming the listener that could not bind and why (Kestrel's exception names the address).</summary>
    private static BrokerStartupException BindFailure(BrokerListeners listeners, IOException error)
    {
        var index = Enumerable.Range(0, listeners.Bind.Count).FirstOrDefault(i => error.Message.Contains($"//{listeners.BindEndPoints[i]}", StringComparison.Ordinal));
        var listener = $"{listeners.Bind[index].Name}://{listeners.BindEndPoints[index]}";
        Exception inner = error;
        while (inner.InnerException is not null && inner is not AddressInUseException)
        {
            inner = inner.InnerException;
        }

        var reason = inner is AddressInUseException
            ? "the address is already in use (is another broker running?)"
            : inner.Message.TrimEnd('.');
        return new BrokerStartupException($"cannot listen on {listener}: {reason}", error);
    }

    /// <summary>Graceful stop: stop accepting, finish in-flight requests, then flush and close the logs.</summary>
    public async Task StopAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        await _app.StopAsync();
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
        await _app.DisposeAsync();
    }

    /// <summary>Hands the web host's loggers to the broker's logger factory (which the caller owns and disposes).</summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => factory.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }

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
