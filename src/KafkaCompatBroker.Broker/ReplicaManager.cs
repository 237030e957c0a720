using System.Buffers;
using System.Collections.Concurrent;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>The outcome of appending to one partition: the log's result, or a Kafka error with a message.</summary>
public readonly record struct PartitionAppendResult(ErrorCode Error, string? ErrorMessage, LogAppendResult Result);

/// <summary>
/// The partitions this broker hosts: creates their logs as topics appear in the cluster metadata,
/// deletes them when topics go, applies topic config changes (ReplicaManager.Metadata.cs, a metadata publisher), and serves appends and reads through a
/// <see cref="Partition"/> per hosted partition (Kafka's ReplicaManager). ONE-REPLICA: the replica set is this
/// broker alone, so each partition's high watermark follows its log end offset.
/// </summary>
public sealed partial class ReplicaManager : IDisposable
{
    private readonly BrokerSettings _settings;
    private readonly MetadataStore _metadata;
    private readonly LogManager _logs;
    private readonly ILogger _logger;
    private CachedLogDefaults? _logDefaults;

    // The partitions this broker hosts; read lock-free on the produce and fetch paths, written by the metadata reconciliation.
    private readonly ConcurrentDictionary<TopicPartition, Partition> _partitions = new();

    // 1 once the broker is stopping: parked fetches answer instead of waiting.
    private int _stopping;

    public ReplicaManager(BrokerSettings settings, MetadataStore metadata, LogManager logs, ILogger<ReplicaManager> logger)
    {
        _settings = settings;
        _metadata = metadata;
        _logs = logs;
        _logger = logger;
    }

    public ClusterImage Image => _metadata.Image;

    /// <summary>The effective log config of a topic: the broker's defaults with the topic's own configs applied.</summary>
    public LogConfig ConfigFor(string topic) => ConfigFor(_metadata.Image, topic);

    private LogConfig ConfigFor(ClusterImage image, string topic) =>
        LogDefaults(image).With(image.GetTopicConfigs(topic).Select(kv => new KeyValuePair<string, string>(kv.Key, kv.Value)));

    /// <summary>
    /// The topic defaults in effect: the broker's log.* configs with the image's dynamic broker configs applied
    /// (Kafka's DynamicLogConfig), so a dynamic log.retention.ms or message.max.bytes reaches every topic without
    /// its own override. Rebuilt only when the image's broker config maps change.
    /// </summary>
    private LogConfig LogDefaults(ClusterImage image)
    {
        var clusterDefaults = DynamicBrokerConfig.ClusterDefaults(image);
        var perBroker = DynamicBrokerConfig.PerBroker(image, _settings.NodeId);
        var cached = Volatile.Read(ref _logDefaults);
        if (cached is not null && ReferenceEquals(cached.ClusterDefaults, clusterDefaults) && ReferenceEquals(cached.PerBroker, perBroker))
        {
            return cached.Config;
        }

        var config = BrokerSettings.LogDefaultsFrom(_settings.Config.WithDynamic(clusterDefaults, perBroker));
        Volatile.Write(ref _logDefaults, new CachedLogDefaults(clusterDefaults, perBroker, config));
        return config;
    }

    /// <summary>
    /// The partition this broker hosts (leads) under that name, or null (unknown topic or partition). A request
    /// resolves it once and uses it for the leader epoch and the log; a lock-free read of the hosted map.
    /// </summary>
    public Partition? GetPartition(string topic, int partition) =>
        _partitions.TryGetValue(new TopicPartition(topic, partition), out var hosted) ? hosted : null;

    /// <summary>The log of a partition this broker leads, or null (unknown topic or partition).</summary>
    public PartitionLog? GetLog(string topic, int partition) => GetPartition(topic, partition)?.Log;

    /// <summary>The partitions this broker hosts.</summary>
    public IEnumerable<Partition> Partitions => _partitions.Values;

    /// <summary>True once <see cref="StopDelayedFetches"/> ran: a fetch answers with what it has instead of waiting.</summary>
    public bool IsStopping => Volatile.Read(ref _stopping) != 0;

    /// <summary>
    /// Appends records for one partition and returns once they are acknowledgeable: when flush.messages asks for
    /// a flush, after it (run inline). For the coordinators' synchronous writes; produce requests use
    /// <see cref="AppendAsync"/>, which shares fsyncs between concurrent appends.
    /// </summary>
    public PartitionAppendResult Append(string topic, int partition, in ReadOnlySequence<byte> records, AppendOrigin origin = AppendOrigin.Client)
    {
        if (GetPartition(topic, partition) is not { } hosted)
        {
            return UnknownPartition(topic, partition);
        }

        try
        {
            var result = hosted.Log.Append(records, hosted.LeaderEpoch, origin);
            Publish(hosted, result);
            return new(ErrorCode.None, null, result);
        }
        catch (LogAppendException e)
        {
            return new(e.Error, e.Message, default);
        }
        catch (KafkaStorageException e)
        {
            return StorageError(hosted, e);
        }
    }

    /// <summary>
    /// Appends a produce request's records for one partition (<paramref name="hosted"/>: the partition the request
    /// resolved, null when this broker does not host it). acks is accepted as Kafka does (0, 1, -1); with a
    /// single replica all three are satisfied once the batch is in the log, and, when flush.messages asks for a
    /// flush, on disk: the result then completes after a group-commit flush (<see cref="PartitionLog.WaitForFlushAsync"/>)
    /// that covers the records, which only then become visible to consumers. A failed flush is KAFKA_STORAGE_ERROR.
    /// Without a flush this completes synchronously and allocates nothing.
    /// ONE-REPLICA: acks=-1 would wait for the partition's high watermark to pass the records (Kafka's DelayedProduce,
    /// keyed by partition like the delayed fetches); with the ISR being this broker it has once the append is published.
    /// </summary>
    public ValueTask<PartitionAppendResult> AppendAsync(Partition? hosted, string topic, int partition, in ReadOnlySequence<byte> records, AppendOrigin origin = AppendOrigin.Client)
    {
        if (hosted is null)
        {
            return ValueTask.FromResult(UnknownPartition(topic, partition));
        }

        LogAppendResult result;
        try
        {
            result = hosted.Log.AppendWithoutFlush(records, hosted.LeaderEpoch, origin);
        }
        catch (LogAppendException e)
        {
            return ValueTask.FromResult(new PartitionAppendResult(e.Error, e.Message, default));
        }
        catch (KafkaStorageException e)
        {
            return ValueTask.FromResult(StorageError(hosted, e));
        }

        if (result.FlushRequired)
        {
            var flushed = hosted.Log.WaitForFlushAsync(result.LastOffset + 1);
            if (!flushed.IsCompletedSuccessfully)
            {
                return CompleteAfterFlushAsync(hosted, result, flushed);
            }
        }

        Publish(hosted, result);
        return ValueTask.FromResult(new PartitionAppendResult(ErrorCode.None, null, result));
    }

    private async ValueTask<PartitionAppendResult> CompleteAfterFlushAsync(Partition hosted, LogAppendResult result, ValueTask flushed)
    {
        try
        {
            await flushed.ConfigureAwait(false);
        }
        catch (KafkaStorageException e)
        {
            return StorageError(hosted, e);
        }

        Publish(hosted, result);
        return new(ErrorCode.None, null, result);
    }

    /// <summary>
    /// Hands the partition this replica's end of acknowledgeable records: the log end, or after a flush the end of the
    /// flushed records, since consumers must not see records whose flush is still pending. The partition moves its
    /// high watermark from it and wakes the fetches parked on it.
    /// </summary>
    private static void Publish(Partition hosted, LogAppendResult result) =>
        hosted.OnAppended(result.FlushRequired ? result.LastOffset + 1 : hosted.Log.LogEndOffset);

    /// <summary>
    /// At shutdown: wakes every parked fetch for good, so it answers with what it has (Kafka's shutdown does not wait
    /// out max_wait_ms either: BrokerServer.shutdown shuts the fetch purgatory down without waiting for its timeouts).
    /// A fetch that registers after this sees <see cref="IsStopping"/> after its read.
    /// </summary>
    public void StopDelayedFetches()
    {
        // The interlocked write orders the flag before the reads of the watcher lists.
        Interlocked.Exchange(ref _stopping, 1);
        foreach (var hosted in _partitions.Values)
        {
            hosted.Watchers.WakeAll();
        }
    }

    /// <summary>
    /// Hosts (or keeps hosting) a partition this broker leads, at the leader epoch the metadata gives (Kafka's
    /// ReplicaManager.makeLeaders). A different log under the same name (a recreated topic) replaces the partition.
    /// </summary>
    private void HostPartition(KafkaUuid topicId, TopicPartition topicPartition, int leaderEpoch, PartitionLog log)
    {
        if (_partitions.TryGetValue(topicPartition, out var hosted) && ReferenceEquals(hosted.Log, log) && hosted.TopicId == topicId)
        {
            if (hosted.LeaderEpoch != leaderEpoch)
            {
                hosted.MakeLeader(leaderEpoch);
            }

            return;
        }

        var partition = new Partition(topicId, topicPartition, leaderEpoch, log);
        partition.MakeLeader(leaderEpoch);
        _partitions[topicPartition] = partition;
        hosted?.Stop();
    }

    /// <summary>
    /// Stops hosting a deleted topic's partition and deletes its log (Kafka's ReplicaManager.stopPartitions with
    /// delete). By topic id: a new topic of the same name may already have its own partition here.
    /// </summary>
    private void StopHosting(TopicPartition topicPartition, KafkaUuid topicId)
    {
        if (_partitions.TryGetValue(topicPartition, out var hosted) && hosted.TopicId == topicId)
        {
            // Stopped before the log closes: an append or read that meets the closed log answers UNKNOWN_TOPIC_OR_PARTITION.
            hosted.Stop();
            _partitions.TryRemove(KeyValuePair.Create(topicPartition, hosted));
        }

        _logs.DeleteLog(topicPartition, topicId);
    }

    private static PartitionAppendResult UnknownPartition(string topic, int partition) =>
        new(ErrorCode.UnknownTopicOrPartition, $"This server does not host this topic-partition: {topic}-{partition}", default);

    private PartitionAppendResult StorageError(Partition hosted, KafkaStorageException e)
    {
        if (hosted.IsStopped)
        {
            // Its topic was deleted while the append ran and the log closed under it.
            return UnknownPartition(hosted.TopicPartition.Topic, hosted.TopicPartition.Partition);
        }

        _logger.LogError(e, "Append to {Partition} failed", hosted.TopicPartition);
        return new(ErrorCode.KafkaStorageError, e.Message, default);
    }

    private sealed record CachedLogDefaults(IReadOnlyDictionary<string, string> ClusterDefaults, IReadOnlyDictionary<string, string> PerBroker, LogConfig Config);
}
