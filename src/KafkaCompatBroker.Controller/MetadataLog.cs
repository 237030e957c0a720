using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Controller;

/// <summary>One committed batch of the metadata log: its records with their offsets, and the offset after it.</summary>
public readonly record struct MetadataBatch(long BaseOffset, long NextOffset, long MaxTimestamp, IReadOnlyList<(long Offset, MetadataRecord Record)> Records);

/// <summary>
/// The metadata log: the partition "__cluster_metadata-0" and its snapshots (<c>&lt;offset&gt;-&lt;epoch&gt;.checkpoint</c>).
/// It appends an operation's records as one batch and fsyncs it, reads committed batches from an offset, and writes
/// and loads snapshots. This is the part the Raft layer replaces (Kafka's KafkaRaftClient with its ReplicatedLog):
/// ONE-REPLICA: today a batch is committed once it is on this node's disk (the high watermark follows the fsync);
/// with a quorum it is committed once a majority of voters has it. Appends come from the controller's event path
/// only (one at a time); reads and snapshots from the loader.
/// </summary>
public sealed class MetadataLog : IDisposable
{
    private readonly MetadataStoreOptions _options;
    private readonly ILogger _logger;
    private readonly PartitionLog _log;
    private readonly ArrayBufferWriter<byte> _writeBuffer = new();
    private volatile object? _latestSnapshot; // a boxed SnapshotId: written by the loader, read by anyone
    private int _closed;

    private MetadataLog(MetadataStoreOptions options, ILogger logger, PartitionLog log, SnapshotId? snapshot, ClusterImage snapshotImage)
    {
        _options = options;
        _logger = logger;
        _log = log;
        _latestSnapshot = snapshot;
        SnapshotImage = snapshotImage;
    }

    /// <summary>The directory "__cluster_metadata-0" holding the log segments and the snapshots.</summary>
    public string Directory => _log.Directory;

    /// <summary>The partition log (for the Raft layer and for tests).</summary>
    public PartitionLog Log => _log;

    /// <summary>The offset the next batch gets.</summary>
    public long EndOffset => _log.LogEndOffset;

    /// <summary>The offset up to which batches are committed (readable by the loader).</summary>
    public long CommittedOffset => _log.HighWatermark;

    /// <summary>The newest snapshot written or loaded, if any.</summary>
    public SnapshotId? LatestSnapshot => _latestSnapshot as SnapshotId?;

    /// <summary>The image of the snapshot loaded at open (the empty image without one); replay starts at its end offset.</summary>
    public ClusterImage SnapshotImage { get; }

    /// <summary>
    /// Opens (creating if needed) the metadata log in <see cref="MetadataStoreOptions.MetadataLogDir"/>: removes partial
    /// snapshots, loads the newest valid snapshot and recovers the log (a torn tail is cut off).
    /// </summary>
    public static MetadataLog Open(MetadataStoreOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var topicPartition = new TopicPartition(MetadataStore.MetadataTopicName, 0);
        var directory = Path.Combine(options.MetadataLogDir, topicPartition.DirectoryName);
        System.IO.Directory.CreateDirectory(directory);
        foreach (var partial in System.IO.Directory.EnumerateFiles(directory, "*" + SnapshotId.PartialSuffix))
        {
            logger.LogInformation("Removing partial snapshot {File}", partial);
            File.Delete(partial);
        }

        var initial = ClusterImage.Empty with { ClusterId = options.ClusterId };
        var (snapshot, image) = LoadNewestSnapshot(directory, initial, logger);

        var log = PartitionLog.Open(directory, topicPartition, options.LogConfig, new PartitionLogCheckpoint(snapshot?.EndOffset ?? 0, 0), cleanShutdown: false, logger, options.Time);
        try
        {
            if (snapshot is { } id)
            {
                if (id.EndOffset > log.LogEndOffset)
                {
                    logger.LogWarning("The metadata log ends at {LogEnd}, before snapshot {Snapshot}: starting the log at the snapshot", log.LogEndOffset, id);
                    log.TruncateFullyAndStartAt(id.EndOffset);
                }
                else if (log.LogStartOffset > id.EndOffset)
                {
                    throw new KafkaStorageException($"the metadata log starts at {log.LogStartOffset}, after snapshot {id}: records {id.EndOffset} to {log.LogStartOffset - 1} are missing");
                }
            }
            else if (log.LogStartOffset > 0)
            {
                throw new KafkaStorageException($"the metadata log starts at {log.LogStartOffset} and there is no snapshot: records below it are missing");
            }

            // ONE-REPLICA: everything on this node's disk is committed; a Raft follower learns the high watermark from the leader.
            log.UpdateHighWatermark(log.LogEndOffset);
            return new MetadataLog(options, logger, log, snapshot, image);
        }
        catch
        {
            log.Close();
            throw;
        }
    }

    private static (SnapshotId? Id, ClusterImage Image) LoadNewestSnapshot(string directory, ClusterImage initial, ILogger logger)
    {
        var snapshots = MetadataSnapshots.List(directory);
        for (var i = snapshots.Count - 1; i >= 0; i--)
        {
            var path = Path.Combine(directory, snapshots[i].FileName);
            try
            {
                var image = MetadataSnapshots.Read(path, initial).WithEndOffset(snapshots[i].EndOffset);
                return (snapshots[i], image);
            }
            catch (Exception e) when (e is MetadataParseException or MetadataReplayException or RecordsException or KafkaProtocolException or IOException)
            {
                logger.LogWarning(e, "Skipping invalid metadata snapshot {Path}", path);
            }
        }

        return (null, initial);
    }

    /// <summary>
    /// Appends <paramref name="records"/> as one batch, fsyncs it and commits it (moves the high watermark); returns
    /// the batch's first and last offsets. Called by the controller's event path only, one batch at a time.
    /// </summary>
    public (long FirstOffset, long LastOffset) Append(IReadOnlyList<MetadataRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        var now = _options.Time.GetUtcNow().ToUnixTimeMilliseconds();
        _writeBuffer.ResetWrittenCount();
        MetadataBatches.Write(_writeBuffer, records, now, _options.LeaderEpoch);
        var result = _log.Append(new ReadOnlySequence<byte>(_writeBuffer.WrittenMemory), _options.LeaderEpoch, AppendOrigin.Coordinator);
        _log.Flush();
        _log.UpdateHighWatermark(_log.LogEndOffset);
        return (result.FirstOffset, result.LastOffset);
    }

    /// <summary>
    /// Visits the committed batches from <paramref name="from"/> (a batch boundary) in offset order; control batches
    /// are skipped. The records list a visitor gets is reused for the next batch.
    /// </summary>
    public void ReadCommitted(long from, Action<MetadataBatch> visit)
    {
        ArgumentNullException.ThrowIfNull(visit);
        var committed = CommittedOffset;
        if (from >= committed)
        {
            return;
        }

        var records = new List<(long Offset, MetadataRecord Record)>();
        using var scratch = new PooledBufferWriter();
        _log.ForEachBatch(from, (ReadOnlySpan<byte> batch, in RecordBatchHeader header) =>
        {
            // Batches past the high watermark (appended meanwhile, not committed yet) wait for the next read.
            if (header.NextOffset <= from || header.BaseOffset >= committed)
            {
                return;
            }

            records.Clear();
            if (!header.IsControl)
            {
                MetadataBatches.Read(batch, from, scratch, records);
            }

            visit(new MetadataBatch(header.BaseOffset, header.NextOffset, header.MaxTimestamp, records));
        });
    }

    /// <summary>
    /// Writes a snapshot of <paramref name="image"/> (no-op if one exists at its offset), deletes older snapshots and,
    /// unless configured otherwise, the log below it. Called by the loader, whose image it is, one at a time.
    /// </summary>
    public SnapshotId WriteSnapshot(ClusterImage image, long lastContainedLogTimestamp)
    {
        ArgumentNullException.ThrowIfNull(image);
        var id = new SnapshotId(image.EndOffset, _options.LeaderEpoch);
        if (LatestSnapshot == id)
        {
            return id;
        }

        var now = _options.Time.GetUtcNow().ToUnixTimeMilliseconds();
        var path = MetadataSnapshots.Write(Directory, id, image, lastContainedLogTimestamp, now);
        _latestSnapshot = id;
        _logger.LogInformation("Wrote metadata snapshot {Path}", path);

        foreach (var older in MetadataSnapshots.List(Directory))
        {
            if (older != id && older.EndOffset <= id.EndOffset)
            {
                File.Delete(Path.Combine(Directory, older.FileName));
            }
        }

        if (_options.DeleteLogBeforeSnapshot)
        {
            _log.DeleteRecordsBefore(id.EndOffset);
        }

        return id;
    }

    /// <summary>Closes the log (flushed). Idempotent.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            _log.Close();
        }
    }
}
