using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Controller;

/// <summary>
/// The cluster metadata of one node (KRaft's design on a single-node quorum), in three parts: the controller decides
/// and commits (<see cref="Controller"/>: <see cref="LocalClusterController"/> over <see cref="ClusterController"/>),
/// the metadata log holds the records and snapshots (<see cref="MetadataLog"/>, "__cluster_metadata-0"), and the
/// loader replays committed records into images and publishes them (<see cref="Loader"/>). This class opens the three
/// together and is what readers hold: <see cref="Image"/> is lock-free.
/// </summary>
public sealed class MetadataStore : IDisposable
{
    public const string MetadataVersionFeature = "metadata.version";
    public const string TransactionVersionFeature = "transaction.version";
    public const string MetadataTopicName = "__cluster_metadata";

    private readonly LocalClusterController _controller;

    private MetadataStore(MetadataLog log, MetadataLoader loader, LocalClusterController controller)
    {
        MetadataLog = log;
        Loader = loader;
        _controller = controller;
    }

    /// <summary>The published image (what this broker serves); replaced atomically on every change.</summary>
    public ClusterImage Image => Loader.Image;

    /// <summary>Where metadata changes go (handlers and start-up).</summary>
    public IClusterController Controller => _controller;

    /// <summary>Publishes committed changes to the installed publishers.</summary>
    public MetadataLoader Loader { get; }

    /// <summary>The metadata log and its snapshots.</summary>
    public MetadataLog MetadataLog { get; }

    /// <summary>The directory "__cluster_metadata-0" holding the log segments and the snapshots.</summary>
    public string Directory => MetadataLog.Directory;

    /// <summary>The metadata partition log (for the Raft layer and for tests).</summary>
    public PartitionLog Log => MetadataLog.Log;

    /// <summary>The newest snapshot written or loaded, if any.</summary>
    public SnapshotId? LatestSnapshot => MetadataLog.LatestSnapshot;

    /// <summary>How many records <see cref="Open"/> replayed from the log (after the snapshot it loaded).</summary>
    public long RecordsReplayedAtOpen => Loader.RecordsReplayedAtOpen;

    /// <summary>
    /// Opens (creating if needed) the metadata log in <see cref="MetadataStoreOptions.MetadataLogDir"/>: loads the
    /// newest valid snapshot, recovers the log (a torn tail is cut off), replays the records after the snapshot,
    /// and bootstraps metadata.version in a new log.
    /// </summary>
    public static MetadataStore Open(MetadataStoreOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        logger ??= NullLogger.Instance;
        var log = MetadataLog.Open(options, logger);
        try
        {
            var loader = new MetadataLoader(log, options, logger);
            var controller = new LocalClusterController(new ClusterController(options.DefaultNumPartitions, options.DefaultReplicationFactor), log, loader);
            if (!loader.Image.Features.ContainsKey(MetadataVersionFeature))
            {
                controller.CommitBootstrap(image => ClusterController.Bootstrap(image, options.MetadataVersion, options.TransactionVersion));
            }

            return new MetadataStore(log, loader, controller);
        }
        catch
        {
            log.Dispose();
            throw;
        }
    }

    /// <summary>Writes a snapshot of the current image now (no-op if one exists at this offset); returns its id.</summary>
    public SnapshotId WriteSnapshot() => Loader.WriteSnapshot();

    /// <summary>Stops the controller and closes the metadata log (flushed).</summary>
    public void Dispose()
    {
        _controller.Close();
        MetadataLog.Dispose();
    }
}
