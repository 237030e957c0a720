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
    private bool _stopped;

    private KafkaBroker(WebApplication app, LogManager logs, MetadataStore metadata, ReplicaManager replicas, BrokerContext context, IReadOnlyList<int> ports)
    {
        _app = app;
        _logs = logs;
        _metadata = metadata;
        _replicas = replicas;
        Context = context;
        Ports = ports;
    }

    public BrokerContext Context { get; }

    /// <summary>The bound port of each listener, in the order of the listeners config.</summary>
    public IReadOnlyList<int> Ports { get; }

    /// <summary>host:port of the first advertised listener (what a client bootstraps from).</summary>
    public string BootstrapServers => $"{Context.Settings.AdvertisedListeners[0].Host}:{Context.Settings.AdvertisedListeners[0].Port}";

    public static async Task<KafkaBroker> StartAsync(BrokerConfig config, ILoggerFactory loggerFactory, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        time ??= TimeProvider.System;
        var log = loggerFactory.CreateLogger<KafkaBroker>();
        foreach (var warning in config.Warnings)
        {
            log.LogWarning("{Warning}", warning);
        }

        var nodeId = config.GetInt("node.id");
        var listeners = config.GetList("listeners").Select(l => ListenerAddress.Parse(l)).ToList();
        if (listeners.Count == 0)
        {
            throw new ConfigException("Invalid value for configuration listeners: at least one listener is required");
        }

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

        // The metadata is loaded before the logs, as Kafka does, so dynamic broker configs in it apply from the start.
        var effective = DynamicBrokerConfig.Effective(config, metadata.Image, nodeId);
        var logs = new LogManager(
            new LogManagerOptions
            {
                LogDirs = config.LogDirs,
                NumRecoveryThreadsPerDataDir = effective.GetInt("num.recovery.threads.per.data.dir"),
                LogRetentionCheckIntervalMs = config.GetLong("log.retention.check.interval.ms"),
                LogFlushSchedulerIntervalMs = config.GetLong("log.flush.scheduler.interval.ms"),
                LogFlushOffsetCheckpointIntervalMs = config.GetLong("log.flush.offset.checkpoint.interval.ms"),
                LogFlushStartOffsetCheckpointIntervalMs = config.GetLong("log.flush.start.offset.checkpoint.interval.ms"),
                LogCleanerEnable = config.GetBool("log.cleaner.enable"),
                LogCleanerBackoffMs = config.GetLong("log.cleaner.backoff.ms"),
                ProducerIdExpirationMs = config.GetInt("producer.id.expiration.ms"),
                ProducerIdExpirationCheckIntervalMs = config.GetInt("producer.id.expiration.check.interval.ms"),
                Cleaner = new LogCleaner().MaybeClean,
            },
            BrokerSettings.LogDefaultsFrom(effective),
            loggerFactory.CreateLogger<LogManager>(),
            time);
        logs.Startup();

        // Connections may arrive as soon as the listeners bind; requests wait until the broker is registered.
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var registryHolder = new BrokerContextHolder();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.AddSingleton(typeof(ILogger<>), typeof(Logger<>));
        builder.Services.AddSingleton(new NetworkOptions { SocketRequestMaxBytes = config.GetInt("socket.request.max.bytes"), SendFile = config.GetBool("socket.sendfile.enable") });
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, ReceiveBlockPoolFactory>();
        builder.Services.AddSingleton<IKafkaRequestProcessor>(sp =>
            new StartupGate(started.Task, registryHolder, loggerFactory.CreateLogger<RequestDispatcher>()));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var listener in listeners)
            {
                kestrel.ListenKafka(listener.BindEndPoint);
            }
        });
        var app = builder.Build();
        await app.StartAsync(cancellationToken);
        var bound = app.Services.GetRequiredService<IServer>().BoundPorts();
        var ports = listeners.Select((l, i) => l.Port != 0 || i >= bound.Count ? l.Port : bound[i]).ToList();

        var advertised = (config.IsSet("advertised.listeners") ? config.GetList("advertised.listeners").Select(l => ListenerAddress.Parse(l, "advertised.listeners")) : listeners)
            .Select((l, i) => new AdvertisedListener(
                l.Name,
                l.Host.Length == 0 || l.Host == "0.0.0.0" ? System.Net.Dns.GetHostName() : l.Host,
                l.Port == 0 && i < ports.Count ? ports[i] : l.Port))
            .ToList();
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

        var replicas = new ReplicaManager(settings, metadata, logs, loggerFactory.CreateLogger<ReplicaManager>());
        var context = new BrokerContext(settings, metadata, logs, replicas, loggerFactory, time);
        context.LoadGroups();
        context.LoadTransactions();
        var registry = HandlerDiscovery.CreateRegistry(context);
        registryHolder.Dispatcher = new RequestDispatcher(registry, loggerFactory.CreateLogger<RequestDispatcher>());
        started.SetResult();
        log.LogInformation(
            "Broker {NodeId} of cluster {ClusterId} started: listening on {Listeners}, log dirs {LogDirs}, {Apis} APIs",
            nodeId, clusterId, string.Join(", ", advertised.Select(a => $"{a.Name}://{a.Host}:{a.Port}")), string.Join(',', config.LogDirs), registry.Handlers.Count);
        return new KafkaBroker(app, logs, metadata, replicas, context, ports);
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
