using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage;

/// <summary>Settings of the <see cref="LogCleaner"/> (Kafka's log.cleaner.* broker configs, where one exists).</summary>
public sealed record LogCleanerOptions
{
    /// <summary>
    /// The most distinct keys one pass maps (Kafka sizes this from log.cleaner.dedupe.buffer.size). An entry
    /// costs about 40 bytes, so the default bounds the map near 40 MiB. When the dirty section holds more
    /// keys, the pass cleans only up to the batch where the map filled, and the next pass continues from there.
    /// </summary>
    public int MaxOffsetMapEntries { get; init; } = 1_000_000;

    /// <summary>
    /// The most bytes one batch may decompress to. A batch that decompresses to more (or cannot be decoded)
    /// is left exactly as it is, its keys unmapped: compaction then keeps older values rather than guess.
    /// </summary>
    public int MaxDecompressedBatchBytes { get; init; } = 64 * 1024 * 1024;

    /// <summary>
    /// producer.id.expiration.ms: a producer whose newest batch is older than this (and that has no open
    /// transaction) is no longer active, so its last batch need not be kept for its sequence numbers.
    /// </summary>
    public long ProducerIdExpirationMs { get; init; } = 24L * 3600 * 1000;
}

/// <summary>
/// What one cleaning pass did. <see cref="CleanedUpTo"/> is the offset to checkpoint (Kafka's
/// cleaner-offset-checkpoint): the pass's first dirty offset when nothing advanced.
/// </summary>
public sealed record LogCleanResult
{
    public long FirstDirtyOffset { get; init; }

    public long CleanedUpTo { get; init; }

    /// <summary>The log changed underneath (segments deleted, truncated, closed): the pass was dropped without effect on the checkpoint.</summary>
    public bool Abandoned { get; init; }

    /// <summary>Segment groups rewritten (each became one segment).</summary>
    public int SegmentGroups { get; init; }

    public long BytesRead { get; init; }

    public long BytesWritten { get; init; }

    public long RecordsRead { get; init; }

    public long RecordsRetained { get; init; }

    /// <summary>Batches copied byte for byte, re-encoded with fewer records or a delete horizon, kept as an empty header, and removed.</summary>
    public long BatchesCopied { get; init; }

    public long BatchesRewritten { get; init; }

    public long BatchesEmptied { get; init; }

    public long BatchesRemoved { get; init; }

    /// <summary>Keyless records removed (they cannot be compacted; Kafka drops them too).</summary>
    public long KeylessRecordsRemoved { get; init; }

    /// <summary>
    /// The earliest delete horizon among the cleaned batches that still hold tombstones or transaction
    /// markers, or null: a pass at or after it can remove them.
    /// </summary>
    public long? NextDeleteHorizonMs { get; init; }
}

/// <summary>
/// Kafka-style log compaction (cleanup.policy=compact or compact,delete) of a <see cref="PartitionLog"/>.
/// </summary>
/// <remarks>
/// <para>
/// One pass: (1) scan the batch headers of the log for aborted transactions, the first unstable offset
/// and the producers' last batches; (2) fix the cleanable range: from the log start to the first
/// uncleanable offset — the base offset of the segment holding the first of: the active segment, the
/// last stable offset (high watermark, or the first open transaction), the first segment with a record
/// younger than min.compaction.lag.ms; (3) map every key of the dirty section [first dirty offset,
/// first uncleanable offset) to its latest offset, skipping aborted transactions, stopping at a batch
/// boundary when the map is full; (4) rewrite the log from its start up to where the map ends, group by
/// group of consecutive segments (at most segment.bytes together), into a ".cleaned" segment, and swap it in
/// with <see cref="PartitionLog.ReplaceSegments"/> (crash-safe ".cleaned" → ".swap" → live).
/// </para>
/// <para>
/// A record stays when its key's latest offset is its own (or its key is not in the map, or it lies past
/// the mapped range); keyless records go. Tombstones stay until their batch's delete horizon (KIP-534):
/// the first pass that keeps a tombstone stamps now + delete.retention.ms into the batch, a pass after
/// that time removes it. Records of aborted transactions go; a COMMIT/ABORT marker stays until no batch
/// of its transaction is left and its own delete horizon has passed. Batches keep their offsets (gaps are
/// fine): an untouched batch is copied byte for byte, a batch that lost records is re-encoded with the same
/// base offset, lastOffsetDelta, producer id/epoch/base sequence, flags and compression; a batch that lost
/// all of them is removed unless it is the last batch of an active producer (kept as an empty header,
/// so the producer's sequence and epoch survive).
/// </para>
/// <para>
/// All reading and writing happens outside the log's lock, so appends and fetches never wait for
/// compaction; only the swap takes the lock briefly. Memory is bounded: batches stream through pooled
/// buffers, decompression is capped, the offset map holds at most <see cref="LogCleanerOptions.MaxOffsetMapEntries"/>
/// keys. Run at most one pass per log at a time. Instances are thread-safe (passes share no buffers).
/// </para>
/// <para>
/// For a log manager: keep a cleaned-up-to offset per log, persisted in the cleaner-offset-checkpoint
/// file; reset it to the log start offset when it falls outside [log start, log end]; call
/// <see cref="MaybeClean"/> (or <see cref="NeedsCleaning"/> then <see cref="CleanCompact"/>) every
/// log.cleaner.backoff.ms and persist the offset it returns when it advanced.
/// </para>
/// </remarks>
public sealed class LogCleaner
{
    private readonly ConditionalWeakTable<PartitionLog, StrongBox<long>> _deleteHorizons = [];
    private long _producerIdExpirationMs;

    public LogCleaner(LogCleanerOptions? options = null)
    {
        Options = options ?? new LogCleanerOptions();
        _producerIdExpirationMs = Options.ProducerIdExpirationMs;
    }

    public LogCleanerOptions Options { get; }

    /// <summary>
    /// producer.id.expiration.ms in effect: starts as the option's value; the broker sets it from the dynamic broker
    /// configs, and the next pass uses it.
    /// </summary>
    public long ProducerIdExpirationMs
    {
        get => Interlocked.Read(ref _producerIdExpirationMs);
        set => Interlocked.Exchange(ref _producerIdExpirationMs, value);
    }

    // ------------------------------------------------------------------ scheduling

    /// <summary>
    /// The log manager's entry point (fits <c>LogManagerOptions.Cleaner</c>): cleans when
    /// <see cref="NeedsCleaning"/> says so, or when a delete horizon an earlier pass of this cleaner saw has
    /// passed (so tombstones go even without new writes). Returns the new cleaned-up-to offset, or
    /// <paramref name="firstDirtyOffset"/> when nothing was cleaned.
    /// </summary>
    public long MaybeClean(PartitionLog log, long firstDirtyOffset)
    {
        ArgumentNullException.ThrowIfNull(log);
        var horizonPassed = _deleteHorizons.TryGetValue(log, out var horizon) && NowMs(log) >= horizon.Value;
        if (!log.Config.CleanupPolicy.HasFlag(CleanupPolicy.Compact) || (!horizonPassed && !NeedsCleaning(log, firstDirtyOffset)))
        {
            return firstDirtyOffset;
        }

        return Math.Max(firstDirtyOffset, Clean(log, firstDirtyOffset).CleanedUpTo);
    }

    /// <summary>
    /// Kafka's choice of logs to clean: the policy includes compact and either the dirty ratio exceeds
    /// min.cleanable.dirty.ratio, or a dirty segment's first batch is older than max.compaction.lag.ms and
    /// something is cleanable. <paramref name="lastStableOffset"/> bounds the cleanable range (default:
    /// the high watermark; a log manager that knows open transactions passes the last stable offset).
    /// </summary>
    public static bool NeedsCleaning(PartitionLog log, long firstDirtyOffset, long? lastStableOffset = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        if (!log.Config.CleanupPolicy.HasFlag(CleanupPolicy.Compact))
        {
            return false;
        }

        var (clean, cleanable) = MeasureDirt(log, firstDirtyOffset, lastStableOffset);
        if (clean + cleanable == 0)
        {
            return false;
        }

        return (double)cleanable / (clean + cleanable) > log.Config.MinCleanableDirtyRatio
               || (cleanable > 0 && MaxCompactionDelayMs(log, firstDirtyOffset) > 0);
    }

    /// <summary>
    /// Kafka's cleanable ratio: bytes of the segments in [first dirty offset, first uncleanable offset)
    /// over those plus the bytes of the segments before the first dirty offset (0 when both are empty).
    /// </summary>
    public static double DirtyRatio(PartitionLog log, long firstDirtyOffset, long? lastStableOffset = null)
    {
        ArgumentNullException.ThrowIfNull(log);
        var (clean, cleanable) = MeasureDirt(log, firstDirtyOffset, lastStableOffset);
        return clean + cleanable == 0 ? 0 : (double)cleanable / (clean + cleanable);
    }

    /// <summary>
    /// How long past max.compaction.lag.ms the oldest dirty segment is (by its first batch's timestamp); 0
    /// when none is overdue. Above 0 the log must be cleaned whatever its dirty ratio.
    /// </summary>
    public static long MaxCompactionDelayMs(PartitionLog log, long firstDirtyOffset)
    {
        ArgumentNullException.ThrowIfNull(log);
        var segments = log.Segments;
        var firstDirty = ValidFirstDirty(log, firstDirtyOffset);
        var earliest = long.MaxValue;
        for (var i = PartitionLog.FloorSegment(segments, firstDirty); i < segments.Count - 1; i++)
        {
            var first = FirstBatchTimestamp(segments[i]);
            if (first > 0)
            {
                earliest = Math.Min(earliest, first);
            }
        }

        var cleanUntil = NowMs(log) - Math.Max(log.Config.MaxCompactionLagMs, 0);
        return earliest < cleanUntil ? cleanUntil - earliest : 0;
    }

    // ------------------------------------------------------------------ cleaning

    /// <summary>
    /// Runs one cleaning pass (whatever the dirty ratio) and returns the new cleaned-up-to offset to
    /// checkpoint: <paramref name="firstDirtyOffset"/> when nothing advanced.
    /// </summary>
    public long CleanCompact(PartitionLog log, long firstDirtyOffset) => Clean(log, firstDirtyOffset).CleanedUpTo;

    /// <summary>
    /// Runs one cleaning pass over <paramref name="log"/> whatever its dirty ratio (see the class remarks),
    /// starting the dirty section at <paramref name="firstDirtyOffset"/> (reset to the log start offset
    /// when outside [log start, log end]). Throws <see cref="KafkaStorageException"/> on a corrupt batch
    /// (the log should then not be cleaned again until an operator looks), <see cref="OperationCanceledException"/>
    /// when cancelled (nothing is swapped in after that).
    /// </summary>
    public LogCleanResult Clean(PartitionLog log, long firstDirtyOffset, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(log);
        var firstDirty = ValidFirstDirty(log, firstDirtyOffset);
        using var pass = new CleanerPass(this, log, firstDirty, cancellationToken);
        LogCleanResult result;
        try
        {
            result = pass.Run();
        }
        catch (ObjectDisposedException)
        {
            // A segment was deleted (retention, truncation, close) while the pass read it.
            log.Logger.LogInformation("Compaction of {Partition} abandoned: the log changed during the pass", log.TopicPartition);
            result = pass.Result(abandoned: true);
        }

        if (result.NextDeleteHorizonMs is { } horizon)
        {
            _deleteHorizons.AddOrUpdate(log, new StrongBox<long>(horizon));
        }
        else if (!result.Abandoned)
        {
            _deleteHorizons.Remove(log);
        }

        return result;
    }

    // ------------------------------------------------------------------ helpers

    private static long NowMs(PartitionLog log) => log.Time.GetUtcNow().ToUnixTimeMilliseconds();

    private static long ValidFirstDirty(PartitionLog log, long firstDirtyOffset) =>
        firstDirtyOffset < log.LogStartOffset || firstDirtyOffset > log.LogEndOffset ? log.LogStartOffset : firstDirtyOffset;

    private static (long Clean, long Cleanable) MeasureDirt(PartitionLog log, long firstDirtyOffset, long? lastStableOffset)
    {
        var segments = log.Segments;
        var firstDirty = ValidFirstDirty(log, firstDirtyOffset);
        var firstUncleanable = FirstUncleanableOffset(segments, firstDirty, lastStableOffset ?? log.HighWatermark, NowMs(log), log.Config);
        long clean = 0, cleanable = 0;
        for (var i = 0; i < segments.Count && segments[i].BaseOffset < firstDirty; i++)
        {
            clean += segments[i].Size;
        }

        if (firstUncleanable > firstDirty)
        {
            for (var i = PartitionLog.FloorSegment(segments, firstDirty); i < segments.Count && segments[i].BaseOffset < firstUncleanable; i++)
            {
                cleanable += segments[i].Size;
            }
        }

        return (clean, cleanable);
    }

    /// <summary>
    /// The base offset of the segment holding the first offset that may not be cleaned: the smallest of the
    /// active segment's base offset, <paramref name="stableOffset"/>, and the base offset of the first dirty
    /// segment holding a record younger than min.compaction.lag.ms.
    /// </summary>
    internal static long FirstUncleanableOffset(IReadOnlyList<LogSegment> segments, long firstDirty, long stableOffset, long nowMs, LogConfig config)
    {
        var active = segments[^1];
        var uncleanable = Math.Min(stableOffset, active.BaseOffset);
        if (config.MinCompactionLagMs > 0)
        {
            for (var i = PartitionLog.FloorSegment(segments, firstDirty); i < segments.Count - 1; i++)
            {
                if (segments[i].LargestTimestamp > nowMs - config.MinCompactionLagMs)
                {
                    uncleanable = Math.Min(uncleanable, segments[i].BaseOffset);
                    break;
                }
            }
        }

        return uncleanable >= active.BaseOffset ? active.BaseOffset : segments[PartitionLog.FloorSegment(segments, uncleanable)].BaseOffset;
    }

    private static long FirstBatchTimestamp(LogSegment segment)
    {
        if (segment.FirstBatchTimestamp >= 0)
        {
            return segment.FirstBatchTimestamp;
        }

        try
        {
            return segment.TryReadHeader(0, out var header) ? header.MaxTimestamp : -1;
        }
        catch (ObjectDisposedException)
        {
            return -1;
        }
    }

    /// <summary>The type of a control batch's first record, or null when it has none.</summary>
    internal static ControlRecordType? ReadControlType(ReadOnlySpan<byte> batch, PooledBufferWriter scratch, int maxBatchBytes)
    {
        foreach (var record in RecordBatch.ReadRecords(batch, scratch, maxBatchBytes))
        {
            return ControlRecords.ReadType(record.Key);
        }

        return null;
    }

    /// <summary>The state of one cleaning pass over one log.</summary>
    private sealed class CleanerPass : IDisposable
    {
        private readonly LogCleaner _cleaner;
        private readonly PartitionLog _log;
        private readonly LogConfig _config;
        private readonly long _now;
        private readonly long _firstDirty;
        private readonly int _maxBatchBytes;
        private readonly CancellationToken _cancellationToken;
        private readonly LogSegment[] _segments;
        private readonly CleanerBatchReader _reader = new();
        private readonly PooledBufferWriter _scratch = new();
        private readonly PooledBufferWriter _output = new();
        private readonly RecordBatchBuilder _builder = new();
        private readonly List<bool> _keep = [];
        private readonly CleanerOffsetMap _map;
        private CleanerLogScan? _scan;
        private CleanerTransactionTracker? _transactions;
        private long _endOffset;
        private int _groups;
        private long _bytesRead;
        private long _bytesWritten;
        private long _recordsRead;
        private long _recordsRetained;
        private long _batchesCopied;
        private long _batchesRewritten;
        private long _batchesEmptied;
        private long _batchesRemoved;
        private long _keyless;
        private long _nextDeleteHorizon = long.MaxValue;

        public CleanerPass(LogCleaner cleaner, PartitionLog log, long firstDirty, CancellationToken cancellationToken)
        {
            _cleaner = cleaner;
            _log = log;
            _config = log.Config;
            _now = NowMs(log);
            _firstDirty = firstDirty;
            _endOffset = firstDirty;
            _maxBatchBytes = cleaner.Options.MaxDecompressedBatchBytes;
            _cancellationToken = cancellationToken;
            _segments = [.. log.Segments];
            _map = new CleanerOffsetMap(cleaner.Options.MaxOffsetMapEntries);
        }

        public LogCleanResult Run()
        {
            if (_segments.Length < 2)
            {
                return Result(abandoned: false);
            }

            _scan = CleanerLogScan.Run(_segments, _reader, _scratch, _maxBatchBytes, _cancellationToken);
            var stable = Math.Min(_log.HighWatermark, _scan.FirstUnstableOffset ?? long.MaxValue);
            var firstUncleanable = FirstUncleanableOffset(_segments, _firstDirty, stable, _now, _config);
            if (_firstDirty < firstUncleanable)
            {
                _endOffset = BuildOffsetMap(firstUncleanable);
            }

            // Rewrite from the log start through the mapped range, never past the first uncleanable offset.
            var groups = GroupSegments(Math.Min(_endOffset, firstUncleanable));
            _transactions = new CleanerTransactionTracker(_scan.Aborted, _segments[0].BaseOffset);
            foreach (var group in groups)
            {
                var cleaned = CleanGroup(group);
                if (!_log.ReplaceSegments(group, cleaned))
                {
                    _log.Logger.LogInformation(
                        "Compaction of {Partition} abandoned at segment {BaseOffset}: the log changed during the pass", _log.TopicPartition, group[0].BaseOffset);
                    return Result(abandoned: true);
                }

                _groups++;
            }

            var result = Result(abandoned: false);
            if (_groups > 0)
            {
                _log.Logger.LogInformation(
                    "Compacted {Partition} up to offset {End} in {Groups} segment group(s): {BytesRead} bytes → {BytesWritten}, {Retained} of {Read} records kept ({Copied} batches copied, {Rewritten} re-encoded, {Emptied} emptied, {Removed} removed)",
                    _log.TopicPartition, result.CleanedUpTo, _groups, _bytesRead, _bytesWritten, _recordsRetained, _recordsRead, _batchesCopied, _batchesRewritten, _batchesEmptied, _batchesRemoved);
            }

            return result;
        }

        public LogCleanResult Result(bool abandoned) => new()
        {
            FirstDirtyOffset = _firstDirty,
            CleanedUpTo = abandoned ? _firstDirty : Math.Max(_firstDirty, _endOffset),
            Abandoned = abandoned,
            SegmentGroups = _groups,
            BytesRead = _bytesRead,
            BytesWritten = _bytesWritten,
            RecordsRead = _recordsRead,
            RecordsRetained = _recordsRetained,
            BatchesCopied = _batchesCopied,
            BatchesRewritten = _batchesRewritten,
            BatchesEmptied = _batchesEmptied,
            BatchesRemoved = _batchesRemoved,
            KeylessRecordsRemoved = _keyless,
            NextDeleteHorizonMs = _nextDeleteHorizon == long.MaxValue ? null : _nextDeleteHorizon,
        };

        /// <summary>
        /// Maps the keys of [first dirty, <paramref name="firstUncleanable"/>) to their latest offsets. Returns
        /// where the mapped range ends: <paramref name="firstUncleanable"/>, or the end of the last batch that
        /// fit when the map filled up.
        /// </summary>
        private long BuildOffsetMap(long firstUncleanable)
        {
            var transactions = new CleanerTransactionTracker(_scan!.Aborted, _firstDirty);
            var mappedThrough = _firstDirty - 1;
            for (var i = PartitionLog.FloorSegment(_segments, _firstDirty); i < _segments.Length && _segments[i].BaseOffset < firstUncleanable; i++)
            {
                var segment = _segments[i];
                if (segment.FindBatch(_firstDirty) is not var (start, _))
                {
                    continue;
                }

                _reader.Reset(segment, start);
                while (_reader.TryRead(out _, out var header, out var batch))
                {
                    _cancellationToken.ThrowIfCancellationRequested();
                    if (header.LastOffset < _firstDirty)
                    {
                        continue;
                    }

                    if (header.IsControl)
                    {
                        transactions.OnControlBatchRead(header, header.RecordsCount > 0 ? ReadControlType(batch, _scratch, _maxBatchBytes) : null);
                    }
                    else if (!transactions.OnBatchRead(header) && header.RecordsCount > 0)
                    {
                        if (_map.Count > 0 && _map.Count + header.RecordsCount > _map.MaxEntries)
                        {
                            _log.Logger.LogInformation(
                                "Compaction offset map of {Partition} is full ({Entries} keys): this pass cleans up to offset {End}",
                                _log.TopicPartition, _map.Count, mappedThrough + 1);
                            return mappedThrough + 1;
                        }

                        MapBatch(header, batch);
                    }

                    mappedThrough = header.LastOffset;
                }
            }

            return firstUncleanable;
        }

        private void MapBatch(in RecordBatchHeader header, ReadOnlySpan<byte> batch)
        {
            try
            {
                foreach (var record in RecordBatch.ReadRecords(batch, _scratch, _maxBatchBytes))
                {
                    if (!record.IsKeyNull && record.Offset >= _firstDirty)
                    {
                        _map.Put(record.Key, record.Offset);
                    }
                }
            }
            catch (RecordsException e)
            {
                // Unmapped keys only make compaction keep more (older values of those keys survive).
                _log.Logger.LogWarning("Compaction of {Partition} cannot decode the batch at offset {Offset} ({Error}); its keys are not compacted", _log.TopicPartition, header.BaseOffset, e.Message);
            }
        }

        /// <summary>
        /// Groups consecutive segments below <paramref name="cleanUpTo"/> so that each group's data fits
        /// segment.bytes, its indexes fit their limits, and its offsets fit int32 relative offsets.
        /// </summary>
        private List<List<LogSegment>> GroupSegments(long cleanUpTo)
        {
            var groups = new List<List<LogSegment>>();
            var maxBytes = Math.Min(_config.SegmentBytes, int.MaxValue);
            var i = 0;
            while (i < _segments.Length - 1 && _segments[i].BaseOffset < cleanUpTo)
            {
                var group = new List<LogSegment> { _segments[i] };
                var bytes = _segments[i].Size;
                var indexEntries = _segments[i].Index.Count + 1;
                var timeIndexEntries = _segments[i].TimeIndex.Count + 1;
                i++;
                while (i < _segments.Length - 1 && _segments[i].BaseOffset < cleanUpTo)
                {
                    var next = _segments[i];
                    if (bytes + next.Size > maxBytes
                        || indexEntries + next.Index.Count + 1 > group[0].Index.MaxEntries
                        || timeIndexEntries + next.TimeIndex.Count + 1 > group[0].TimeIndex.MaxEntries
                        || next.NextOffset - 1 - group[0].BaseOffset > int.MaxValue)
                    {
                        break;
                    }

                    group.Add(next);
                    bytes += next.Size;
                    indexEntries += next.Index.Count + 1;
                    timeIndexEntries += next.TimeIndex.Count + 1;
                    i++;
                }

                groups.Add(group);
            }

            return groups;
        }

        /// <summary>Writes the cleaned form of <paramref name="group"/> into a new ".cleaned" segment.</summary>
        private LogSegment CleanGroup(List<LogSegment> group)
        {
            var cleaned = LogSegment.Create(_log.Directory, group[0].BaseOffset, _config, _now, PartitionLog.CleanedSuffixValue);
            try
            {
                var last = default(RecordBatchHeader);
                var any = false;
                foreach (var segment in group)
                {
                    _reader.Reset(segment, 0);
                    while (_reader.TryRead(out _, out var header, out var batch))
                    {
                        _cancellationToken.ThrowIfCancellationRequested();
                        if (RecordBatch.TryValidate(batch, out _, out var error) != RecordBatchError.None)
                        {
                            throw new KafkaStorageException($"compaction of {_log.TopicPartition} found a corrupt batch at offset {header.BaseOffset} in {segment.LogPath}: {error}");
                        }

                        _bytesRead += header.TotalSize;
                        CleanBatch(cleaned, header, batch);
                        (last, any) = (header, true);
                    }
                }

                // The cleaned segment must end where the group did: recovery of an interrupted swap replaces the
                // old segments whose base offsets lie below the swap segment's next offset.
                if (any && cleaned.NextOffset < last.NextOffset)
                {
                    WriteEmptyBatch(cleaned, last, keepProducer: false);
                }

                cleaned.OnRolled();
                return cleaned;
            }
            catch
            {
                cleaned.DeleteFiles();
                throw;
            }
        }

        /// <summary>Kafka's MemoryRecords.filterTo with the cleaner's RecordFilter, for one batch.</summary>
        private void CleanBatch(LogSegment cleaned, in RecordBatchHeader header, ReadOnlySpan<byte> batch)
        {
            var transactions = _transactions!;
            var canDiscard = header.IsControl
                ? transactions.OnControlBatchRead(header, header.RecordsCount > 0 ? ReadControlType(batch, _scratch, _maxBatchBytes) : null)
                : transactions.OnBatchRead(header);

            // Markers piggy-back on the tombstone rule: they go once their transaction is gone and their own horizon passed.
            var discardRecords = header.IsControl ? canDiscard && header.HasDeleteHorizon && header.BaseTimestamp <= _now : canDiscard;
            var retainEmpty = header.ProducerId >= 0 && IsLastBatchOfActiveProducer(header);
            var markerForEmptyTransaction = canDiscard && header.IsControl;
            _recordsRead += header.RecordsCount;
            if (discardRecords && !retainEmpty)
            {
                _batchesRemoved++;
                return;
            }

            var retained = 0;
            var allKept = true;
            var tombstones = false;
            _keep.Clear();
            if (header.RecordsCount > 0)
            {
                var retainDeletes = !header.HasDeleteHorizon || _now < header.BaseTimestamp;
                try
                {
                    foreach (var record in RecordBatch.ReadRecords(batch, _scratch, _maxBatchBytes))
                    {
                        var keep = !discardRecords && (header.IsControl || ShouldRetainRecord(record, retainDeletes));
                        _keep.Add(keep);
                        allKept &= keep;
                        if (keep)
                        {
                            retained++;
                            tombstones |= record.IsValueNull;
                        }
                    }
                }
                catch (RecordsException e) when (!header.IsControl)
                {
                    _log.Logger.LogWarning("Compaction of {Partition} cannot decode the batch at offset {Offset} ({Error}); it is kept as it is", _log.TopicPartition, header.BaseOffset, e.Message);
                    Append(cleaned, header, batch);
                    _batchesCopied++;
                    _recordsRetained += header.RecordsCount;
                    return;
                }
            }

            _recordsRetained += retained;
            if (retained > 0)
            {
                var needHorizon = (tombstones || markerForEmptyTransaction) && !header.HasDeleteHorizon;
                long? horizon = needHorizon ? _now + _config.DeleteRetentionMs : header.HasDeleteHorizon ? header.BaseTimestamp : null;
                if (horizon is { } h && (tombstones || header.IsControl))
                {
                    _nextDeleteHorizon = Math.Min(_nextDeleteHorizon, h);
                }

                if (allKept && !needHorizon)
                {
                    Append(cleaned, header, batch);
                    _batchesCopied++;
                }
                else
                {
                    Rewrite(cleaned, header, batch, horizon);
                    _batchesRewritten++;
                }
            }
            else if (retainEmpty)
            {
                WriteEmptyBatch(cleaned, header, keepProducer: true);
                _batchesEmptied++;
            }
            else
            {
                _batchesRemoved++;
            }
        }

        private bool ShouldRetainRecord(in Record record, bool retainDeletes)
        {
            if (record.Offset >= _endOffset)
            {
                return true; // past the mapped range: not cleaned in this pass
            }

            if (record.IsKeyNull)
            {
                _keyless++;
                return false;
            }

            if (_map.Count > 0 && record.Offset < _map.Get(record.Key))
            {
                return false; // a newer record has the same key
            }

            return !record.IsValueNull || retainDeletes;
        }

        /// <summary>
        /// Whether the batch holds the state Kafka keeps for an active producer: its last data batch (last
        /// sequence number), or, when a marker with a newer epoch ended it, that marker (its epoch, for fencing).
        /// </summary>
        private bool IsLastBatchOfActiveProducer(in RecordBatchHeader header)
        {
            if (!_scan!.Producers.TryGetValue(header.ProducerId, out var producer))
            {
                return false;
            }

            var expired = _now - producer.LastTimestamp >= _cleaner.ProducerIdExpirationMs
                          && !_scan.HasOpenTransaction(header.ProducerId);
            if (expired)
            {
                return false;
            }

            return producer.LastDataOffset >= 0
                ? header.LastOffset == producer.LastDataOffset
                : header.IsControl && header.ProducerEpoch == producer.Epoch;
        }

        private void Append(LogSegment cleaned, in RecordBatchHeader header, ReadOnlySpan<byte> batch)
        {
            cleaned.AppendRaw(header, batch);
            _bytesWritten += batch.Length;
        }

        /// <summary>Re-encodes the kept records with the batch's own offsets, producer fields, flags and compression.</summary>
        private void Rewrite(LogSegment cleaned, in RecordBatchHeader header, ReadOnlySpan<byte> batch, long? deleteHorizon)
        {
            var builder = _builder;
            builder.Reset();
            builder.DeleteHorizonMs = deleteHorizon;
            builder.Compression = header.CompressionType;
            builder.ProducerId = header.ProducerId;
            builder.ProducerEpoch = header.ProducerEpoch;
            builder.BaseSequence = header.BaseSequence;
            builder.IsTransactional = header.IsTransactional;
            builder.IsControl = header.IsControl;
            builder.BaseOffset = header.BaseOffset;
            builder.PartitionLeaderEpoch = header.PartitionLeaderEpoch;
            builder.TimestampType = header.TimestampType;
            builder.LastOffsetDeltaOverride = header.LastOffsetDelta;
            var index = 0;
            foreach (var record in RecordBatch.ReadRecords(batch, _scratch, _maxBatchBytes))
            {
                if (_keep[index++])
                {
                    // baseTimestamp + delta is the stored timestamp (also under LogAppendTime or an old horizon).
                    builder.AppendRecord(record, header.BaseTimestamp + record.TimestampDelta);
                }
            }

            _output.Clear();
            builder.WriteTo(_output);
            var written = MemoryMarshal.AsMemory(_output.WrittenMemory).Span;
            if (header.TimestampType == TimestampType.LogAppendTime)
            {
                RecordBatch.SetMaxTimestamp(written, TimestampType.LogAppendTime, header.MaxTimestamp);
            }

            Append(cleaned, RecordBatchHeader.Read(written), written);
        }

        /// <summary>
        /// Writes a header-only batch spanning the same offsets (Kafka's writeEmptyHeader): with the producer's
        /// fields to keep its sequence and epoch, or without them as a placeholder that only keeps the offsets.
        /// </summary>
        private void WriteEmptyBatch(LogSegment cleaned, in RecordBatchHeader header, bool keepProducer)
        {
            Span<byte> bytes = stackalloc byte[RecordBatchHeader.Size];
            var attributes = RecordBatchHeader.MakeAttributes(
                CompressionType.None, header.TimestampType, keepProducer && header.IsTransactional, keepProducer && header.IsControl);
            new RecordBatchHeader(
                header.BaseOffset,
                RecordBatchHeader.MinBatchLength,
                header.PartitionLeaderEpoch,
                (sbyte)RecordBatchHeader.CurrentMagic,
                0,
                attributes,
                header.LastOffsetDelta,
                -1,
                header.MaxTimestamp,
                keepProducer ? header.ProducerId : -1,
                keepProducer ? header.ProducerEpoch : (short)-1,
                keepProducer ? header.BaseSequence : -1,
                0).Write(bytes);
            RecordBatch.WriteCrc(bytes);
            Append(cleaned, RecordBatchHeader.Read(bytes), bytes);
        }

        public void Dispose()
        {
            _reader.Dispose();
            _scratch.Dispose();
            _output.Dispose();
            _builder.Dispose();
        }
    }
}
