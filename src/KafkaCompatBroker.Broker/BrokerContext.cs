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

    /// <summary>The published cluster metadata (reads: <see cref="MetadataStore.Image"/>).</summary>
    public MetadataStore Metadata { get; } = metadata;

    /// <summary>Where metadata changes go: topics, configs, producer-id blocks.</summary>
    public IClusterController Controller => Metadata.Controller;

    public LogManager Logs { get; } = logs;

    public ReplicaManager Replicas { get; } = replicas;

    public ILoggerFactory LoggerFactory { get; } = loggerFactory;

    public TimeProvider Time { get; } = time;

    /// <summary>__consumer_offsets: where the group coordinator persists offsets and groups.</summary>
    public ConsumerOffsetsTopic ConsumerOffsets { get; } = new(settings, metadata, replicas, time, loggerFactory.CreateLogger<ConsumerOffsetsTopic>());

    /// <summary>Writes COMMIT / ABORT markers to partitions (the transaction coordinator and WriteTxnMarkers use it).</summary>
    public TransactionMarkerWriter MarkerWriter => _markerWriter ??= new TransactionMarkerWriter(this);

    private TransactionMarkerWriter? _markerWriter;

    /// <summary>The group coordinator and committed offsets (ONE-REPLICA: this node coordinates every group).</summary>
    public GroupCoordinator GroupCoordinator => _groupCoordinator ??= CreateGroupCoordinator();

    private GroupCoordinator? _groupCoordinator;

    /// <summary>
    /// Loads every __consumer_offsets shard (at start-up, before requests are served). ONE-REPLICA: this broker leads
    /// every partition at epoch 0; in a cluster the metadata publisher calls Load/Unload on leadership changes.
    /// </summary>
    public void LoadGroups()
    {
        var coordinator = GroupCoordinator;
        for (var partition = 0; partition < coordinator.PartitionCount; partition++)
        {
            coordinator.Load(partition, 0);
        }
    }

    private GroupCoordinator CreateGroupCoordinator()
    {
        var config = Settings.Config;
        return new GroupCoordinator(
            new GroupCoordinatorConfig
            {
                InitialRebalanceDelayMs = config.GetInt("group.initial.rebalance.delay.ms"),
                MinSessionTimeoutMs = config.GetInt("group.min.session.timeout.ms"),
                MaxSessionTimeoutMs = config.GetInt("group.max.session.timeout.ms"),
                MaxSize = config.GetInt("group.max.size"),
                OffsetMetadataMaxBytes = config.GetInt("offset.metadata.max.bytes"),
                OffsetRetention = new OffsetRetentionConfig(
                    config.GetInt("offsets.retention.minutes") * 60_000L, config.GetLong("offsets.retention.check.interval.ms")),
                ConsumerSessionTimeoutMs = config.GetInt("group.consumer.session.timeout.ms"),
                ConsumerHeartbeatIntervalMs = config.GetInt("group.consumer.heartbeat.interval.ms"),
                ConsumerMaxSize = config.GetInt("group.consumer.max.size"),
                ConsumerAssignors = config.GetList("group.consumer.assignors"),
                ConsumerMigrationPolicy = Enum.Parse<ConsumerGroupMigrationPolicy>(config.GetString("group.consumer.migration.policy")!, ignoreCase: true),

                // An existing topic keeps the partition count it was created with (groups are placed by it).
                OffsetsTopicPartitions = Metadata.Image.GetTopic(ConsumerOffsetsTopic.Name)?.Partitions.Count ?? config.GetInt("offsets.topic.num.partitions"),
            },
            log => new PersistentOffsetStore(log!),
            Time,
            LoggerFactory.CreateLogger<GroupCoordinator>(),
            ConsumerOffsets,
            ConsumerOffsets)
        {
            TopicView = new MetadataGroupTopicView(Metadata),
            GroupConfigs = new MetadataGroupConfigView(Metadata),
        };
    }

    /// <summary>__transaction_state: where the transaction coordinator persists transactional ids.</summary>
    public TransactionStateTopic TransactionState => _transactionState ??= new(Settings, Metadata, Replicas, Time, LoggerFactory.CreateLogger<TransactionStateTopic>());

    private TransactionStateTopic? _transactionState;

    /// <summary>The transaction coordinator (ONE-REPLICA: this node coordinates every transactional id).</summary>
    public TransactionCoordinator TransactionCoordinator => _transactionCoordinator ??= CreateTransactionCoordinator();

    private TransactionCoordinator? _transactionCoordinator;

    /// <summary>Reads __transaction_state back into the coordinator and completes prepared transactions (at start-up).</summary>
    public void LoadTransactions() => TransactionState.Load(TransactionCoordinator);

    private TransactionCoordinator CreateTransactionCoordinator()
    {
        var config = Settings.Config;
        return new TransactionCoordinator(
            new TransactionCoordinatorConfig
            {
                TransactionMaxTimeoutMs = config.GetInt("transaction.max.timeout.ms"),
                TransactionalIdExpirationMs = config.GetInt("transactional.id.expiration.ms"),
                AbortTimedOutTransactionsIntervalMs = config.GetInt("transaction.abort.timed.out.transaction.cleanup.interval.ms"),
                RemoveExpiredTransactionalIdsIntervalMs = config.GetInt("transaction.remove.expired.transaction.cleanup.interval.ms"),
                PartitionVerificationEnable = config.GetBool("transaction.partition.verification.enable"),
                TwoPhaseCommitEnable = config.GetBool("transaction.two.phase.commit.enable"),
                TransactionVersionLevel = Metadata.Image.Features.GetValueOrDefault(MetadataStore.TransactionVersionFeature),
            },
            TransactionState,
            MarkerWriter,
            new ProducerIdManager(Settings.NodeId, Metadata),
            Time,
            LoggerFactory.CreateLogger<TransactionCoordinator>());
    }

    /// <summary>
    /// The transaction coordinator's check that a group's offsets partition is in the producer's transaction
    /// (TxnOffsetCommit). Tests may replace it; null skips the check.
    /// </summary>
    public ITransactionVerifier? TransactionVerifier
    {
        get => _verifierReplaced ? _verifier : _verifier ??= new OffsetsPartitionVerifier(this);
        set => (_verifier, _verifierReplaced) = (value, true);
    }

    private ITransactionVerifier? _verifier;
    private bool _verifierReplaced;

    /// <summary>The registered handlers (set once they are all constructed; ApiVersions answers from it).</summary>
    public HandlerRegistry Registry { get; internal set; } = new([]);

    public string ClusterId => Metadata.Image.ClusterId;
}
