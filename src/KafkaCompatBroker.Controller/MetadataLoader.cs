using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Controller;

/// <summary>
/// Reads committed batches of the <see cref="MetadataLog"/>, replays them into the next <see cref="ClusterImage"/> and
/// hands each <see cref="MetadataDelta"/> with its image to the installed <see cref="IMetadataPublisher"/>s in order
/// (Kafka's MetadataLoader), then writes a snapshot when enough records went by (Kafka's SnapshotGenerator).
/// One thread publishes at a time — the "publishing role", taken under <see cref="_lock"/> but held without any lock:
/// a thread whose operation committed publishes everything committed so far; a thread that finds another one
/// publishing waits for it (a task) instead. So publishers see every delta once, in log order, with no lock of the
/// controller or the loader held. <see cref="Image"/> is replaced before the publishers of its delta run.
/// </summary>
public sealed class MetadataLoader
{
    private readonly Lock _lock = new(); // _publishing, _owner, _waiters, _publishers: never held while reading or publishing
    private readonly MetadataLog _log;
    private readonly ILogger _logger;
    private readonly long _snapshotIntervalRecords;
    private readonly List<(long Offset, TaskCompletionSource Done)> _waiters = [];
    private volatile IMetadataPublisher[] _publishers = []; // copied on write
    private ClusterImage _image;
    private bool _publishing;
    private int _owner;

    // Held by the publishing role.
    private long _recordsSinceSnapshot;
    private long _lastAppendTimestamp;

    /// <summary>Loads the image: the log's snapshot with the committed records after it replayed (no publishers yet).</summary>
    public MetadataLoader(MetadataLog log, MetadataStoreOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        _log = log;
        _logger = logger;
        _snapshotIntervalRecords = options.SnapshotIntervalRecords;

        var image = log.SnapshotImage;
        var from = image.EndOffset;
        long replayed = 0;
        log.ReadCommitted(from, batch =>
        {
            foreach (var (offset, record) in batch.Records)
            {
                image = Replay(image, offset, record);
                replayed++;
            }
        });
        _image = image.WithEndOffset(log.CommittedOffset);
        RecordsReplayedAtOpen = _recordsSinceSnapshot = replayed;
        logger.LogInformation(
            "Loaded cluster metadata: snapshot {Snapshot}, {Replayed} record(s) replayed from offset {From}, {Topics} topic(s), {Brokers} broker(s)",
            log.LatestSnapshot?.ToString() ?? "none",
            replayed,
            from,
            _image.TopicsByName.Count,
            _image.Brokers.Count);
    }

    /// <summary>The newest published image; replaced atomically before its publishers run.</summary>
    public ClusterImage Image => Volatile.Read(ref _image);

    /// <summary>How many records were replayed at open (after the snapshot loaded).</summary>
    public long RecordsReplayedAtOpen { get; }

    /// <summary>
    /// Adds a publisher: it first gets the initial delta (empty image → <see cref="Image"/>), then every later delta.
    /// Publishers run in the order they were installed. Not from a publisher.
    /// </summary>
    public void Install(IMetadataPublisher publisher)
    {
        ArgumentNullException.ThrowIfNull(publisher);
        AcquireRole();
        var image = Image;
        Notify(publisher, MetadataDelta.Initial(image), image);
        lock (_lock)
        {
            _publishers = [.. _publishers, publisher];
        }

        Drain();
    }

    /// <summary>Removes a publisher (a delta being published on another thread may still reach it).</summary>
    public void Remove(IMetadataPublisher publisher)
    {
        lock (_lock)
        {
            _publishers = [.. _publishers.Where(p => p != publisher)];
        }
    }

    /// <summary>
    /// Publishes everything committed up to <paramref name="offset"/> (exclusive), on this thread unless another one is
    /// publishing: then the task completes when that thread got there. Called after each commit.
    /// </summary>
    public ValueTask PublishAsync(long offset)
    {
        lock (_lock)
        {
            if (Image.EndOffset >= offset)
            {
                return default;
            }

            if (_publishing)
            {
                // Another thread publishes (or this one, from inside a publisher): it takes this offset on its way.
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((offset, done));
                return new ValueTask(done.Task);
            }

            (_publishing, _owner) = (true, Environment.CurrentManagedThreadId);
        }

        Drain();
        return default;
    }

    /// <summary>Writes a snapshot of the published image now (no-op if one exists at this offset); returns its id. Not from a publisher.</summary>
    public SnapshotId WriteSnapshot()
    {
        AcquireRole();
        try
        {
            _recordsSinceSnapshot = 0;
            return _log.WriteSnapshot(Image, _lastAppendTimestamp);
        }
        finally
        {
            Drain();
        }
    }

    private void AcquireRole()
    {
        var spin = default(SpinWait);
        while (true)
        {
            lock (_lock)
            {
                if (!_publishing)
                {
                    (_publishing, _owner) = (true, Environment.CurrentManagedThreadId);
                    return;
                }

                if (_owner == Environment.CurrentManagedThreadId)
                {
                    throw new InvalidOperationException("a metadata publisher cannot install publishers or write snapshots");
                }
            }

            spin.SpinOnce();
        }
    }

    /// <summary>Publishes until nothing committed is left, completing waiters on the way, then gives up the role.</summary>
    private void Drain()
    {
        while (true)
        {
            try
            {
                PublishCommitted();
            }
            catch (Exception e)
            {
                List<(long Offset, TaskCompletionSource Done)> failed;
                lock (_lock)
                {
                    _publishing = false;
                    failed = [.. _waiters];
                    _waiters.Clear();
                }

                foreach (var (_, done) in failed)
                {
                    done.TrySetException(e);
                }

                throw;
            }

            lock (_lock)
            {
                var end = Image.EndOffset;
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (_waiters[i].Offset <= end)
                    {
                        _waiters[i].Done.TrySetResult(); // continuations run asynchronously, not under this lock
                        _waiters.RemoveAt(i);
                    }
                }

                if (_log.CommittedOffset <= end)
                {
                    _publishing = false;
                    return;
                }
            }
        }
    }

    private void PublishCommitted()
    {
        _log.ReadCommitted(Image.EndOffset, batch =>
        {
            var builder = new MetadataDelta.Builder(Image);
            foreach (var (offset, record) in batch.Records)
            {
                try
                {
                    builder.Apply(record);
                }
                catch (MetadataReplayException e)
                {
                    throw new MetadataReplayException($"replay of the metadata record at offset {offset} failed: {e.Message}");
                }
            }

            var (delta, image) = builder.Build(batch.NextOffset);
            Volatile.Write(ref _image, image);
            if (batch.Records.Count == 0)
            {
                return;
            }

            foreach (var publisher in _publishers)
            {
                Notify(publisher, delta, image);
            }

            _recordsSinceSnapshot += batch.Records.Count;
            _lastAppendTimestamp = batch.MaxTimestamp;
            if (_snapshotIntervalRecords > 0 && _recordsSinceSnapshot >= _snapshotIntervalRecords)
            {
                _recordsSinceSnapshot = 0;
                _log.WriteSnapshot(image, _lastAppendTimestamp);
            }
        });
    }

    private void Notify(IMetadataPublisher publisher, MetadataDelta delta, ClusterImage image)
    {
        try
        {
            publisher.OnMetadataUpdate(delta, image);
        }
#pragma warning disable CA1031 // a publisher's failure must not stop the others or turn a committed change into a failure
        catch (Exception e)
#pragma warning restore CA1031
        {
            _logger.LogError(e, "Metadata publisher {Publisher} failed at metadata offset {Offset}", publisher.Name, image.EndOffset);
        }
    }

    private static ClusterImage Replay(ClusterImage image, long offset, in MetadataRecord record)
    {
        try
        {
            return image.Apply(record);
        }
        catch (MetadataReplayException e)
        {
            throw new MetadataReplayException($"replay of the metadata record at offset {offset} failed: {e.Message}");
        }
    }
}
