using System.Buffers;
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
/// deletes them when topics go, applies topic config changes (ReplicaManager.Metadata.cs, a metadata publisher),
/// and serves appends and reads. With one
/// broker the replica set is this broker alone, so the high watermark follows the log end offset.
/// </summary>
public sealed partial class ReplicaManager : IDisposable
{
    private readonly BrokerSettings _settings;
    private readonly MetadataStore _metadata;
    private readonly LogManager _logs;
    private readonly ILogger _logger;
    private CachedLogDefaults? _logDefaults;

    public ReplicaManager(BrokerSettings settings, MetadataStore metadata, LogManager logs, ILogger<ReplicaManager> logger)
    {
        _settings = settings;
        _metadata = metadata;
        _logs = logs;
        _logger = logger;
    }

    public AppendNotifier Notifier { get; } = new();

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

    /// <summary>The log of a partition this broker leads, or null (unknown topic or partition).</summary>
    public PartitionLog? GetLog(string topic, int partition)
    {
        var image = _metadata.Image.GetTopic(topic);
        if (image is null || !image.Partitions.TryGetValue(partition, out var p) || p.Leader != _settings.NodeId)
        {
            return null;
        }

        return _logs.GetLog(new TopicPartition(topic, partition));
    }

    /// <summary>
    /// Appends records for one partition and returns once they are acknowledgeable: when flush.messages asks for
    /// a flush, after it (run inline). For the coordinators' synchronous writes; produce requests use
    /// <see cref="AppendAsync"/>, which shares fsyncs between concurrent appends.
    /// </summary>
    public PartitionAppendResult Append(string topic, int partition, in ReadOnlySequence<byte> records, AppendOrigin origin = AppendOrigin.Client)
    {
        var log = GetLog(topic, partition);
        if (log is null)
        {
            return UnknownPartition(topic, partition);
        }

        try
        {
            var result = log.Append(records, LeaderEpoch(topic, partition), origin);
            Publish(log, result);
            return new(ErrorCode.None, null, result);
        }
        catch (LogAppendException e)
        {
            return new(e.Error, e.Message, default);
        }
        catch (KafkaStorageException e)
        {
            return StorageError(topic, partition, e);
        }
    }

    /// <summary>
    /// Appends a produce request's records for one partition. acks is accepted as Kafka does (0, 1, -1); with a
    /// single replica all three are satisfied once the batch is in the log, and, when flush.messages asks for a
    /// flush, on disk: the result then completes after a group-commit flush (<see cref="PartitionLog.WaitForFlushAsync"/>)
    /// that covers the records, which only then become visible to consumers. A failed flush is KAFKA_STORAGE_ERROR.
    /// Without a flush this completes synchronously and allocates nothing.
    /// </summary>
    public ValueTask<PartitionAppendResult> AppendAsync(string topic, int partition, in ReadOnlySequence<byte> records, AppendOrigin origin = AppendOrigin.Client)
    {
        var log = GetLog(topic, partition);
        if (log is null)
        {
            return ValueTask.FromResult(UnknownPartition(topic, partition));
        }

        LogAppendResult result;
        try
        {
            result = log.AppendWithoutFlush(records, LeaderEpoch(topic, partition), origin);
        }
        catch (LogAppendException e)
        {
            return ValueTask.FromResult(new PartitionAppendResult(e.Error, e.Message, default));
        }
        catch (KafkaStorageException e)
        {
            return ValueTask.FromResult(StorageError(topic, partition, e));
        }

        if (result.FlushRequired)
        {
            var flushed = log.WaitForFlushAsync(result.LastOffset + 1);
            if (!flushed.IsCompletedSuccessfully)
            {
                return CompleteAfterFlushAsync(topic, partition, log, result, flushed);
            }
        }

        Publish(log, result);
        return ValueTask.FromResult(new PartitionAppendResult(ErrorCode.None, null, result));
    }

    private async ValueTask<PartitionAppendResult> CompleteAfterFlushAsync(string topic, int partition, PartitionLog log, LogAppendResult result, ValueTask flushed)
    {
        try
        {
            await flushed.ConfigureAwait(false);
        }
        catch (KafkaStorageException e)
        {
            return StorageError(topic, partition, e);
        }

        Publish(log, result);
        return new(ErrorCode.None, null, result);
    }

    /// <summary>
    /// Moves the high watermark (one replica: the log end; after a flush, the end of the flushed records, since
    /// consumers must not see records whose flush is still pending) and wakes waiting fetches.
    /// </summary>
    private void Publish(PartitionLog log, LogAppendResult result)
    {
        log.UpdateHighWatermark(result.FlushRequired ? result.LastOffset + 1 : log.LogEndOffset);
        Notifier.NotifyAppended();
    }

    private int LeaderEpoch(string topic, int partition) => _metadata.Image.GetTopic(topic)!.Partitions[partition].LeaderEpoch;

    private static PartitionAppendResult UnknownPartition(string topic, int partition) =>
        new(ErrorCode.UnknownTopicOrPartition, $"This server does not host this topic-partition: {topic}-{partition}", default);

    private PartitionAppendResult StorageError(string topic, int partition, KafkaStorageException e)
    {
        _logger.LogError(e, "Append to {Topic}-{Partition} failed", topic, partition);
        return new(ErrorCode.KafkaStorageError, e.Message, default);
    }

    private sealed record CachedLogDefaults(IReadOnlyDictionary<string, string> ClusterDefaults, IReadOnlyDictionary<string, string> PerBroker, LogConfig Config);
}
