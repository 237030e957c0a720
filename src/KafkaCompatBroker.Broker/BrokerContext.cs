using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>Everything a request handler may use: settings, cluster metadata, the hosted partitions, logging and time.</summary>
public sealed class BrokerContext(
    BrokerSettings settings,
    MetadataStore metadata,
    LogManager logs,
    ReplicaManager replicas,
    ILoggerFactory loggerFactory,
    TimeProvider time)
{
    public BrokerSettings Settings { get; } = settings;

    public MetadataStore Metadata { get; } = metadata;

    public LogManager Logs { get; } = logs;

    public ReplicaManager Replicas { get; } = replicas;

    public ILoggerFactory LoggerFactory { get; } = loggerFactory;

    public TimeProvider Time { get; } = time;

    /// <summary>The classic group coordinator and committed offsets (this node coordinates every group).</summary>
    public GroupCoordinator GroupCoordinator { get; } = new(
        new GroupCoordinatorConfig
        {
            InitialRebalanceDelayMs = settings.Config.GetInt("group.initial.rebalance.delay.ms"),
            MinSessionTimeoutMs = settings.Config.GetInt("group.min.session.timeout.ms"),
            MaxSessionTimeoutMs = settings.Config.GetInt("group.max.session.timeout.ms"),
            MaxSize = settings.Config.GetInt("group.max.size"),
            ConsumerSessionTimeoutMs = settings.Config.GetInt("group.consumer.session.timeout.ms"),
            ConsumerHeartbeatIntervalMs = settings.Config.GetInt("group.consumer.heartbeat.interval.ms"),
            ConsumerMaxSize = settings.Config.GetInt("group.consumer.max.size"),
            ConsumerAssignors = settings.Config.GetList("group.consumer.assignors"),
        },
        new InMemoryOffsetStore(),
        time,
        loggerFactory.CreateLogger<GroupCoordinator>())
    {
        TopicView = new MetadataGroupTopicView(metadata),
    };

    /// <summary>The registered handlers (set once they are all constructed; ApiVersions answers from it).</summary>
    public HandlerRegistry Registry { get; internal set; } = new([]);

    public string ClusterId => Metadata.Image.ClusterId;
}
