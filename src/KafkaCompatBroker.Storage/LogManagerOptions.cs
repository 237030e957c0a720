namespace KafkaCompatBroker.Storage;

/// <summary>
/// The broker settings of the <see cref="LogManager"/>, named after Kafka's broker configs, with Kafka's
/// defaults. An interval of 0, a negative one, or one too long for a timer (e.g. Kafka's Long.MaxValue
/// default of log.flush.scheduler.interval.ms) turns its background loop off.
/// </summary>
public sealed record LogManagerOptions
{
    /// <summary>log.dirs (or log.dir): the directories partition logs live in. Kafka's default is /tmp/kafka-logs.</summary>
    public IReadOnlyList<string> LogDirs { get; init; } = ["/tmp/kafka-logs"];

    /// <summary>num.recovery.threads.per.data.dir: logs opened (recovered) in parallel per log dir at startup, and closed at shutdown.</summary>
    public int NumRecoveryThreadsPerDataDir { get; init; } = 2;

    /// <summary>log.retention.check.interval.ms: how often retention (retention.ms, retention.bytes, log start offset) runs.</summary>
    public long LogRetentionCheckIntervalMs { get; init; } = 300_000;

    /// <summary>log.flush.scheduler.interval.ms: how often logs are checked for a due flush (flush.ms). Kafka's default never checks.</summary>
    public long LogFlushSchedulerIntervalMs { get; init; } = long.MaxValue;

    /// <summary>log.flush.offset.checkpoint.interval.ms: how often the recovery points are written to recovery-point-offset-checkpoint.</summary>
    public long LogFlushOffsetCheckpointIntervalMs { get; init; } = 60_000;

    /// <summary>log.flush.start.offset.checkpoint.interval.ms: how often the log start offsets are written to log-start-offset-checkpoint.</summary>
    public long LogFlushStartOffsetCheckpointIntervalMs { get; init; } = 60_000;

    /// <summary>producer.id.expiration.ms: a producer idle this long without an open transaction is forgotten by each partition.</summary>
    public long ProducerIdExpirationMs { get; init; } = 86_400_000;

    /// <summary>producer.id.expiration.check.interval.ms: how often partitions drop expired producers.</summary>
    public long ProducerIdExpirationCheckIntervalMs { get; init; } = 600_000;

    /// <summary>log.cleaner.enable: whether compacted logs are cleaned (needs <see cref="Cleaner"/>).</summary>
    public bool LogCleanerEnable { get; init; } = true;

    /// <summary>log.cleaner.backoff.ms: the pause between two passes of the cleaner over the compacted logs.</summary>
    public long LogCleanerBackoffMs { get; init; } = 15_000;

    /// <summary>
    /// The compaction extension point: called for each log whose cleanup.policy includes compact, with the
    /// first dirty offset (where the previous cleaning stopped, at least the log start offset); returns the
    /// offset the log is now cleaned up to (the next pass's first dirty offset), which is persisted in
    /// cleaner-offset-checkpoint. Returning the given offset means "nothing cleaned". Null: no compaction.
    /// </summary>
    public Func<PartitionLog, long, long>? Cleaner { get; init; }

    /// <summary>Splits a log.dirs value ("/data/a,/data/b") into directories.</summary>
    public static IReadOnlyList<string> ParseLogDirs(string value) =>
        value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
}
