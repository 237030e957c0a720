using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Controller;

/// <summary>
/// The in-process controller of a single-node quorum (Kafka's QuorumController, whose one event queue this lock
/// stands for): operations run one at a time — decide with <see cref="ClusterController"/> against the controller's
/// image, append the records to the <see cref="MetadataLog"/> (fsync included: this lock is the controller's event
/// path, which no request path or publisher holds while taking another lock), advance the image — and only then,
/// with the lock released, the <see cref="MetadataLoader"/> publishes the batch. The answer completes once it is published.
/// </summary>
public sealed class LocalClusterController : IClusterController
{
    private readonly Lock _lock = new(); // the controller's event path: _image, _disposed, appends to _log
    private readonly ClusterController _logic;
    private readonly MetadataLog _log;
    private readonly MetadataLoader _loader;
    private ClusterImage _image;
    private bool _disposed;

    public LocalClusterController(ClusterController logic, MetadataLog log, MetadataLoader loader)
    {
        ArgumentNullException.ThrowIfNull(logic);
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(loader);
        _logic = logic;
        _log = log;
        _loader = loader;
        _image = loader.Image;
    }

    /// <summary>Commits <paramref name="records"/> written by start-up (e.g. the bootstrap features) and publishes them.</summary>
    public void CommitBootstrap(Func<ClusterImage, IReadOnlyList<MetadataRecord>> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        RunAsync((image, _) => new ControllerResult<bool>(records(image), true)).AsTask().GetAwaiter().GetResult();
    }

    public ValueTask<CreateTopicResult> CreateTopicAsync(
        string name,
        int numPartitions = -1,
        short replicationFactor = -1,
        IReadOnlyDictionary<int, IReadOnlyList<int>>? assignments = null,
        IEnumerable<KeyValuePair<string, string?>>? configs = null,
        bool validateOnly = false)
    {
        ArgumentNullException.ThrowIfNull(name);
        return RunAsync((image, _) => _logic.CreateTopic(image, name, numPartitions, replicationFactor, assignments, configs, validateOnly));
    }

    public ValueTask<DeleteTopicResult> DeleteTopicAsync(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return RunAsync((image, _) => ClusterController.DeleteTopic(image, name));
    }

    public ValueTask<DeleteTopicResult> DeleteTopicAsync(KafkaUuid topicId) => RunAsync((image, _) => ClusterController.DeleteTopic(image, topicId));

    public ValueTask<MetadataResult> CreatePartitionsAsync(
        string topic, int newTotal, IReadOnlyList<IReadOnlyList<int>>? assignments = null, bool validateOnly = false, int maxNewPartitions = ClusterController.MaxRecordsPerUserOperation)
    {
        ArgumentNullException.ThrowIfNull(topic);
        return RunAsync((image, _) => _logic.CreatePartitions(image, topic, newTotal, assignments, validateOnly, maxNewPartitions));
    }

    public ValueTask<MetadataResult> AlterConfigsAsync(
        ConfigResource resource, IReadOnlyList<AlterConfigOp> ops, bool validateOnly = false, Func<IReadOnlyDictionary<string, string>, string?>? validate = null)
    {
        ArgumentNullException.ThrowIfNull(ops);
        return RunAsync((image, _) => ClusterController.AlterConfigs(image, resource, ops, validateOnly, validate));
    }

    public ValueTask<RegisterBrokerResult> RegisterBrokerAsync(int brokerId, KafkaUuid incarnationId, IReadOnlyList<BrokerEndpoint> endpoints, string? rack = null, bool fenced = false)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        return RunAsync((image, nextOffset) => ClusterController.RegisterBroker(image, nextOffset, brokerId, incarnationId, endpoints, rack, fenced));
    }

    public ValueTask<ProducerIdBlockResult> AllocateProducerIdsAsync(int brokerId, long brokerEpoch, int blockSize = ProducerIdBlock.DefaultSize) =>
        RunAsync((image, _) => ClusterController.AllocateProducerIds(image, brokerId, brokerEpoch, blockSize));

    /// <summary>Stops taking operations (before the log closes).</summary>
    public void Close()
    {
        lock (_lock)
        {
            _disposed = true;
        }
    }

    /// <summary>
    /// One controller event: decide against the image and the log's next offset, and commit the records, under the
    /// lock; then publish with the lock released and answer once published.
    /// </summary>
    private ValueTask<T> RunAsync<T>(Func<ClusterImage, long, ControllerResult<T>> operation)
    {
        ControllerResult<T> result;
        long end;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            result = operation(_image, _log.EndOffset);
            if (result.Records.Count == 0)
            {
                return ValueTask.FromResult(result.Response);
            }

            // Replayed onto a copy first, so a record that does not fit fails before anything is written.
            var image = _image;
            foreach (var record in result.Records)
            {
                image = image.Apply(record);
            }

            var (_, last) = _log.Append(result.Records);
            end = last + 1;
            _image = image.WithEndOffset(end);
        }

        var published = _loader.PublishAsync(end);
        return published.IsCompletedSuccessfully ? ValueTask.FromResult(result.Response) : AfterPublishedAsync(published, result.Response);
    }

    private static async ValueTask<T> AfterPublishedAsync<T>(ValueTask published, T response)
    {
        await published.ConfigureAwait(false);
        return response;
    }
}
