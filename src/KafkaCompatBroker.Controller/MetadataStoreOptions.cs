using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Controller;

/// <summary>Settings of the metadata log, loader and controller (<see cref="MetadataStore"/>).</summary>
public sealed record MetadataStoreOptions
{
    /// <summary>metadata.log.dir: the directory holding "__cluster_metadata-0" (see <see cref="ResolveMetadataLogDir"/>).</summary>
    public required string MetadataLogDir { get; init; }

    /// <summary>The cluster id (meta.properties); carried in the image, not in the log.</summary>
    public string ClusterId { get; init; } = "";

    /// <summary>The leader epoch stamped on appended batches and in snapshot ids (ONE-REPLICA: a single-node quorum keeps one epoch).</summary>
    public int LeaderEpoch { get; init; } = 1;

    /// <summary>
    /// The metadata.version feature level written when the log is bootstrapped. 7 is 3.3-IV3, the lowest level
    /// Kafka 4 supports, which matches the record versions this store writes (PartitionRecord v0: no directory ids).
    /// </summary>
    public short MetadataVersion { get; init; } = 7;

    /// <summary>The transaction.version a new metadata log is bootstrapped with (2 = Transactions V2).</summary>
    public short TransactionVersion { get; init; } = 2;

    /// <summary>num.partitions: partitions of a topic created with numPartitions -1.</summary>
    public int DefaultNumPartitions { get; init; } = 1;

    /// <summary>default.replication.factor: replicas of a topic created with replicationFactor -1.</summary>
    public short DefaultReplicationFactor { get; init; } = 1;

    /// <summary>A snapshot is written after this many records were appended since the last one; 0 turns automatic snapshots off.</summary>
    public long SnapshotIntervalRecords { get; init; } = 10_000;

    /// <summary>Whether the log below a new snapshot is deleted (DeleteRecordsBefore).</summary>
    public bool DeleteLogBeforeSnapshot { get; init; } = true;

    /// <summary>Config of the metadata partition log (segment.bytes etc.).</summary>
    public LogConfig LogConfig { get; init; } = LogConfig.Default;

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>metadata.log.dir when set, otherwise the first entry of log.dirs (Kafka's rule).</summary>
    public static string ResolveMetadataLogDir(string? metadataLogDir, IReadOnlyList<string> logDirs)
    {
        ArgumentNullException.ThrowIfNull(logDirs);
        if (!string.IsNullOrWhiteSpace(metadataLogDir))
        {
            return metadataLogDir;
        }

        return logDirs.Count > 0 ? logDirs[0] : throw new ArgumentException("log.dirs lists no directory and metadata.log.dir is not set", nameof(logDirs));
    }
}
