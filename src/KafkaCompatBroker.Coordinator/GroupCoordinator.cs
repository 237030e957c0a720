using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>Where a <c>__consumer_offsets</c> partition's shard stands (Kafka's CoordinatorRuntime shard states).</summary>
public enum CoordinatorShardState
{
    NotHosted,
    Loading,
    Active,
}

/// <summary>Replays one <c>__consumer_offsets</c> partition into a fresh shard (the broker's start-up loader).</summary>
public interface IGroupShardLoader
{
    void Load(int partition, GroupCoordinatorShard shard);
}

/// <summary>
/// The group coordinator's front (Kafka's CoordinatorRuntime + GroupCoordinatorService): one
/// <see cref="GroupCoordinatorShard"/> per <c>__consumer_offsets</c> partition, each with its own lock and state.
/// A request is routed to the shard of its group (<see cref="PartitionFor(string, int)"/>); a shard that is not
/// active answers from its state (NOT_COORDINATOR when not hosted, COORDINATOR_LOAD_IN_PROGRESS while loading),
/// and admin calls fan out over the active shards. <see cref="Load"/> and <see cref="Unload"/> are the entry points
/// of leadership changes (<see cref="OnElection"/>/<see cref="OnResignation"/>).
/// </summary>
public sealed partial class GroupCoordinator : IDisposable
{
    private readonly GroupCoordinatorShard?[] _shards;
    private readonly int[] _states; // CoordinatorShardState, read without the lifecycle lock
    private readonly int[] _epochs;
    private readonly Lock _lifecycleLock = new();
    private readonly Func<IGroupRecordLog?, IOffsetStore> _offsetStores;
    private readonly IGroupShardLoader? _loader;
    private readonly ITimer _retentionTimer;

    /// <param name="offsetStores">Makes the committed-offset store of each shard (one per loaded shard) over the shard's view of <paramref name="records"/>.</param>
    /// <param name="records">Where group state is persisted (<c>__consumer_offsets</c>); null keeps it in memory only.</param>
    /// <param name="loader">Replays a partition on <see cref="Load"/>; null hosts every shard, empty, from the start (tests).</param>
    public GroupCoordinator(
        GroupCoordinatorConfig config,
        Func<IGroupRecordLog?, IOffsetStore> offsetStores,
        TimeProvider time,
        ILogger<GroupCoordinator> log,
        IGroupRecordLog? records = null,
        IGroupShardLoader? loader = null)
    {
        Config = config;
        Time = time;
        Log = log;
        Records = records;
        _offsetStores = offsetStores;
        _loader = loader;
        _shards = new GroupCoordinatorShard?[config.OffsetsTopicPartitions];
        _states = new int[_shards.Length];
        _epochs = new int[_shards.Length];
        Offsets = new ShardedOffsetStore(this);
        if (loader is null)
        {
            for (var p = 0; p < _shards.Length; p++)
            {
                Load(p, 0);
            }
        }

        // One timer for every shard (Kafka schedules the expiration per shard; one sweep is the same).
        var interval = TimeSpan.FromMilliseconds(Math.Max(1, config.OffsetRetention.CheckIntervalMs));
        _retentionTimer = time.CreateTimer(static state => ((GroupCoordinator)state!).ExpireOffsets(), this, interval, interval);
    }

    public GroupCoordinatorConfig Config { get; }

    internal TimeProvider Time { get; }

    internal ILogger Log { get; }

    internal IGroupRecordLog? Records { get; }

    /// <summary>The committed offsets of every active shard (reads route by group).</summary>
    public IOffsetStore Offsets { get; }

    /// <summary>The cluster's topics; the broker sets it to its metadata image.</summary>
    public IGroupTopicView TopicView { get; init; } = EmptyGroupTopicView.Instance;

    /// <summary>The groups' own configs; the broker sets it to its metadata image.</summary>
    public IGroupConfigView GroupConfigs { get; init; } = EmptyGroupConfigView.Instance;

    /// <summary>How many <c>__consumer_offsets</c> partitions (and shards) there are.</summary>
    public int PartitionCount => _shards.Length;

    /// <summary>The partition of a group: Kafka's <c>Utils.abs(groupId.hashCode()) % partitionCount</c>.</summary>
    public static int PartitionFor(string groupId, int partitionCount)
    {
        var hash = 0;
        foreach (var c in groupId)
        {
            hash = unchecked((31 * hash) + c); // java.lang.String.hashCode over UTF-16 code units
        }

        return (hash & 0x7fffffff) % partitionCount;
    }

    public int PartitionFor(string groupId) => PartitionFor(groupId, _shards.Length);

    // ---------------------------------------------------------------- Shard lifecycle

    public CoordinatorShardState ShardState(int partition) => (CoordinatorShardState)Volatile.Read(ref _states[partition]);

    /// <summary>The leader epoch the partition's shard is loaded or loading at; null when the partition is not hosted.</summary>
    public int? HostedEpoch(int partition)
    {
        lock (_lifecycleLock)
        {
            return ShardState(partition) == CoordinatorShardState.NotHosted ? null : _epochs[partition];
        }
    }

    /// <summary>NONE when the group's shard is active, else what a group API answers (Kafka's CoordinatorRuntime).</summary>
    public ErrorCode CoordinatorError(string groupId) => ShardState(PartitionFor(groupId)) switch
    {
        CoordinatorShardState.Active => ErrorCode.None,
        CoordinatorShardState.Loading => ErrorCode.CoordinatorLoadInProgress,
        _ => ErrorCode.NotCoordinator,
    };

    /// <summary>
    /// Hosts the partition's shard: a fresh shard replays the partition through the loader (the same replay path
    /// start-up uses) while the partition answers COORDINATOR_LOAD_IN_PROGRESS, then becomes active. A load for an
    /// epoch older than the one hosted is ignored. ONE-REPLICA: start-up loads every partition at epoch 0; a cluster
    /// calls this when this broker becomes the partition's leader.
    /// </summary>
    public void Load(int partition, int leaderEpoch)
    {
        GroupCoordinatorShard shard;
        GroupCoordinatorShard? previous;
        lock (_lifecycleLock)
        {
            if (ShardState(partition) != CoordinatorShardState.NotHosted && leaderEpoch < _epochs[partition])
            {
                return;
            }

            previous = _shards[partition];
            shard = new GroupCoordinatorShard(this, partition, _offsetStores);
            _shards[partition] = null;
            _epochs[partition] = leaderEpoch;
            Volatile.Write(ref _states[partition], (int)CoordinatorShardState.Loading);
        }

        previous?.Unload(ErrorCode.NotCoordinator);
        try
        {
            _loader?.Load(partition, shard);
            shard.OnLoaded();
        }
        catch
        {
            // A load that failed leaves the partition not hosted (NOT_COORDINATOR), not loading for ever.
            shard.Unload(ErrorCode.NotCoordinator);
            lock (_lifecycleLock)
            {
                if (_epochs[partition] == leaderEpoch && ShardState(partition) == CoordinatorShardState.Loading)
                {
                    Volatile.Write(ref _states[partition], (int)CoordinatorShardState.NotHosted);
                }
            }

            throw;
        }
        lock (_lifecycleLock)
        {
            if (_epochs[partition] != leaderEpoch || ShardState(partition) != CoordinatorShardState.Loading)
            {
                shard.Unload(ErrorCode.NotCoordinator); // unloaded or reloaded meanwhile
                return;
            }

            _shards[partition] = shard;
            Volatile.Write(ref _states[partition], (int)CoordinatorShardState.Active);
        }

        Log.LogDebug("Loaded __consumer_offsets-{Partition} at leader epoch {Epoch}", partition, leaderEpoch);
    }

    /// <summary>
    /// Stops hosting the partition: its shard's state is dropped and waiting joins and syncs are answered
    /// NOT_COORDINATOR. An unload for an epoch older than the one hosted is ignored (null: any epoch).
    /// </summary>
    public void Unload(int partition, int? leaderEpoch)
    {
        GroupCoordinatorShard? shard;
        lock (_lifecycleLock)
        {
            if (leaderEpoch is { } epoch && epoch < _epochs[partition])
            {
                return;
            }

            shard = _shards[partition];
            _shards[partition] = null;
            if (leaderEpoch is { } e)
            {
                _epochs[partition] = e;
            }

            Volatile.Write(ref _states[partition], (int)CoordinatorShardState.NotHosted);
        }

        shard?.Unload(ErrorCode.NotCoordinator);
    }

    /// <summary>The shape of the broker's ICoordinatorElectionListener: this broker leads the partition now.</summary>
    public void OnElection(int partition, int leaderEpoch) => Load(partition, leaderEpoch);

    /// <summary>The shape of the broker's ICoordinatorElectionListener: this broker no longer leads the partition.</summary>
    public void OnResignation(int partition, int? leaderEpoch) => Unload(partition, leaderEpoch);

    /// <summary>The active shard of the group, or null with the error to answer.</summary>
    internal GroupCoordinatorShard? ShardOf(string groupId, out ErrorCode error)
    {
        var partition = PartitionFor(groupId);
        if (Volatile.Read(ref _shards[partition]) is { } shard)
        {
            error = ErrorCode.None;
            return shard;
        }

        error = ShardState(partition) == CoordinatorShardState.Loading ? ErrorCode.CoordinatorLoadInProgress : ErrorCode.NotCoordinator;
        return null;
    }

    /// <summary>The active shards, in partition order (admin fan-out).</summary>
    internal List<GroupCoordinatorShard> ActiveShards()
    {
        var shards = new List<GroupCoordinatorShard>(_shards.Length);
        for (var p = 0; p < _shards.Length; p++)
        {
            if (Volatile.Read(ref _shards[p]) is { } shard)
            {
                shards.Add(shard);
            }
        }

        return shards;
    }

    // ---------------------------------------------------------------- Shutdown

    /// <summary>
    /// The broker is stopping: waiting JoinGroup and SyncGroup requests are answered NOT_COORDINATOR now, and later
    /// ones at once, so shutdown does not wait up to a rebalance timeout for them.
    /// </summary>
    public void BeginShutdown()
    {
        foreach (var shard in ActiveShards())
        {
            shard.BeginShutdown();
        }
    }

    public void Dispose()
    {
        _retentionTimer.Dispose();
        foreach (var shard in ActiveShards())
        {
            shard.Dispose();
        }
    }
}
