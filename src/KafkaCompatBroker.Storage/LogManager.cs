using System.Collections.Concurrent;
using System.Diagnostics;
using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage;

/// <summary>What <see cref="LogManager.Startup"/> found: partitions loaded, how many were recovered (no clean shutdown), and the time taken.</summary>
public readonly record struct LogManagerStartupSummary(int PartitionsLoaded, int PartitionsRecovered, int LogDirsCleanlyShutDown, TimeSpan Elapsed);

/// <summary>
/// All partition logs of one broker, spread over the directories of log.dirs. It opens (and, after a
/// crash, recovers) them at startup, creates and deletes logs, runs the background work (retention,
/// flush, checkpoints, compaction), and shuts down cleanly so the next startup can skip recovery.
/// <para>
/// Files per log dir (Kafka's names): ".lock" (held while running, so two brokers never share a dir),
/// ".kafka_cleanshutdown" (written last by a clean shutdown, deleted once startup has loaded the logs),
/// and the checkpoint files of <see cref="OffsetCheckpointFile"/>; each partition is a directory
/// "&lt;topic&gt;-&lt;partition&gt;", renamed "&lt;topic&gt;-&lt;partition&gt;.&lt;uuid&gt;-delete" while it is being deleted.
/// </para>
/// </summary>
public sealed partial class LogManager : IDisposable
{
    /// <summary>The clean-shutdown marker (Kafka's name).</summary>
    public const string CleanShutdownFileName = ".kafka_cleanshutdown";

    /// <summary>The log dir lock file (Kafka's name).</summary>
    public const string LockFileName = ".lock";

    /// <summary>The suffix of a partition directory being deleted (Kafka's).</summary>
    public const string DeleteDirSuffix = "-delete";

    /// <summary>KRaft's metadata log may share a log dir; it is the controller's, not ours.</summary>
    private const string MetadataTopic = "__cluster_metadata";

    private const long MaxTimerIntervalMs = uint.MaxValue - 1;

    private readonly LogManagerOptions _options;
    private readonly Func<TopicPartition, LogConfig> _configFor;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly LogDir[] _dirs;
    private readonly ConcurrentDictionary<TopicPartition, PartitionLog> _logs = new();
    private readonly ConcurrentDictionary<TopicPartition, long> _cleanedUpTo = new();
    private readonly ConcurrentDictionary<TopicPartition, byte> _uncleanable = new();
    private readonly Lock _stateLock = new();
    private readonly List<Task> _pendingDeletions = [];
    private readonly List<Task> _loops = [];
    private readonly CancellationTokenSource _stopping = new();
    private State _state = State.Created;
    private int _recoveryThreadsPerDataDir;
    private long _producerIdExpirationMs;
    private long _cleanerBackoffMs;
    private PeriodicTimer? _cleanerTimer;

    public LogManager(LogManagerOptions options, Func<TopicPartition, LogConfig> configFor, ILogger logger, TimeProvider? time = null)
    {
        if (options.LogDirs.Count == 0)
        {
            throw new ArgumentException("log.dirs lists no directory", nameof(options));
        }

        _options = options;
        _recoveryThreadsPerDataDir = options.NumRecoveryThreadsPerDataDir;
        _producerIdExpirationMs = options.ProducerIdExpirationMs;
        _cleanerBackoffMs = options.LogCleanerBackoffMs;
        _configFor = configFor;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        var paths = options.LogDirs.Select(d => Path.TrimEndingDirectorySeparator(Path.GetFullPath(d))).ToList();
        if (paths.Distinct(StringComparer.Ordinal).Count() != paths.Count)
        {
            throw new ArgumentException($"log.dirs lists a directory twice: {string.Join(',', options.LogDirs)}", nameof(options));
        }

        _dirs = [.. paths.Select(p => new LogDir(p, logger))];
    }

    /// <summary>A manager whose logs (those found at startup and those created without a config) all use <paramref name="config"/>.</summary>
    public LogManager(LogManagerOptions options, LogConfig config, ILogger logger, TimeProvider? time = null)
        : this(options, _ => config, logger, time)
    {
    }

    private enum State
    {
        Created,
        Running,
        ShutDown,
    }

    /// <summary>The log dirs, as full paths.</summary>
    public IReadOnlyList<string> LogDirs => [.. _dirs.Select(d => d.Path)];

    /// <summary>A snapshot of every open log.</summary>
    public IReadOnlyList<PartitionLog> AllLogs => [.. _logs.Values];

    public LogManagerOptions Options => _options;

    /// <summary>
    /// num.recovery.threads.per.data.dir in effect: starts as the option's value; the broker sets it from the dynamic
    /// broker configs (read before <see cref="Startup"/>, and at run time for the shutdown).
    /// </summary>
    public int RecoveryThreadsPerDataDir
    {
        get => Volatile.Read(ref _recoveryThreadsPerDataDir);
        set => Volatile.Write(ref _recoveryThreadsPerDataDir, value);
    }

    /// <summary>
    /// producer.id.expiration.ms in effect: starts as the option's value; the broker sets it from the dynamic broker
    /// configs, and the next expiration check uses it (Kafka's ProducerStateManagerConfig is reconfigurable).
    /// </summary>
    public long ProducerIdExpirationMs
    {
        get => Volatile.Read(ref _producerIdExpirationMs);
        set => Volatile.Write(ref _producerIdExpirationMs, value);
    }

    /// <summary>
    /// log.cleaner.backoff.ms in effect: starts as the option's value; set at run time it changes the running cleaner
    /// loop's period (Kafka's LogCleaner is reconfigurable), counted from now. A value a timer cannot take leaves the
    /// period as it is; set before <see cref="Startup"/> it decides whether the loop runs (0 turns it off).
    /// </summary>
    public long CleanerBackoffMs
    {
        get => Interlocked.Read(ref _cleanerBackoffMs);
        set
        {
            lock (_stateLock)
            {
                // Setting a timer's period restarts its wait, so an unchanged value leaves it alone.
                if (Interlocked.Exchange(ref _cleanerBackoffMs, value) == value)
                {
                    return;
                }

                if (_cleanerTimer is { } timer && value > 0 && value <= MaxTimerIntervalMs)
                {
                    timer.Period = TimeSpan.FromMilliseconds(value);
                }
            }
        }
    }

    /// <summary>The running cleaner loop's period (null when the loop does not run).</summary>
    public TimeSpan? CleanerPeriod
    {
        get
        {
            lock (_stateLock)
            {
                return _cleanerTimer?.Period;
            }
        }
    }

    // ------------------------------------------------------------------ startup

    /// <summary>
    /// Locks and loads every log dir: creates missing dirs, notes the clean-shutdown marker, reads the
    /// checkpoints, finishes pending topic deletions and opens every partition directory (recovering
    /// from its recovery point unless the dir was shut down cleanly), num.recovery.threads.per.data.dir
    /// at a time per dir. Then it checkpoints, deletes the markers (so a later crash is noticed) and
    /// starts the background loops.
    /// </summary>
    public LogManagerStartupSummary Startup()
    {
        lock (_stateLock)
        {
            if (_state != State.Created)
            {
                throw new InvalidOperationException($"the log manager was already started ({_state})");
            }

            var stopwatch = Stopwatch.StartNew();
            try
            {
                LockDirsLocked();

                var work = _dirs.Select(dir => (Dir: dir, Partitions: FindPartitions(dir))).ToList();
                foreach (var (dir, partitions) in work)
                {
                    // A new or empty dir has nothing to recover, whatever its marker says.
                    if (dir.CleanShutdown)
                    {
                        _logger.LogInformation("Log dir {LogDir} was shut down cleanly: skipping recovery", dir.Path);
                    }
                    else if (partitions.Count > 0)
                    {
                        _logger.LogInformation("Log dir {LogDir} has no clean-shutdown marker: recovering each log from its recovery point", dir.Path);
                    }
                }

                var duplicate = work.SelectMany(w => w.Partitions.Select(p => (w.Dir, Tp: p))).GroupBy(p => p.Tp).FirstOrDefault(g => g.Count() > 1);
                if (duplicate is not null)
                {
                    throw new KafkaStorageException(
                        $"duplicate log directories for {duplicate.Key} found in {string.Join(" and ", duplicate.Select(d => d.Dir.Path))}; remove one before starting");
                }

                var recovered = 0;
                var loaded = work.Select(w => Task.Run(() =>
                {
                    var (dir, partitions) = w;
                    var recoveryPoints = dir.RecoveryPoints.Read();
                    var logStartOffsets = dir.LogStartOffsets.Read();
                    var highWatermarks = dir.HighWatermarks.Read();
                    foreach (var (tp, offset) in dir.CleanerOffsets.Read())
                    {
                        if (partitions.Contains(tp))
                        {
                            _cleanedUpTo[tp] = offset;
                        }
                    }

                    Parallel.ForEach(
                        partitions,
                        new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, RecoveryThreadsPerDataDir) },
                        tp =>
                        {
                            var checkpoint = new PartitionLogCheckpoint(recoveryPoints.GetValueOrDefault(tp), logStartOffsets.GetValueOrDefault(tp), highWatermarks.GetValueOrDefault(tp, -1));
                            PartitionLog log;
                            try
                            {
                                log = PartitionLog.Open(Path.Combine(dir.Path, tp.DirectoryName), tp, _configFor(tp), checkpoint, dir.CleanShutdown, _logger, _time);
                            }
                            catch (Exception e)
                            {
                                throw new KafkaStorageException($"cannot load the log of {tp} in {dir.Path}: {e.Message}", e);
                            }

                            _logs[tp] = log;
                            if (!dir.CleanShutdown)
                            {
                                Interlocked.Increment(ref recovered);
                            }
                        });
                })).ToArray();
                Task.WaitAll(loaded);

                foreach (var dir in _dirs)
                {
                    WriteCheckpoints(dir);
                    dir.DeleteCleanShutdownMarker();
                }

                var summary = new LogManagerStartupSummary(_logs.Count, recovered, _dirs.Count(d => d.CleanShutdown), stopwatch.Elapsed);
                if (summary.PartitionsLoaded > 0)
                {
                    _logger.LogInformation(
                        "Loaded {Partitions} partition log(s) from {Dirs} log dir(s) in {Elapsed} ms; {Recovered} recovered after an unclean shutdown",
                        summary.PartitionsLoaded, _dirs.Length, (long)summary.Elapsed.TotalMilliseconds, summary.PartitionsRecovered);
                }

                _state = State.Running;
                StartLoops();
                return summary;
            }
            catch (Exception e)
            {
                // Not logged here: the caller reports the failure once (the broker's start-up fails with it).
                var error = e is AggregateException a ? a.Flatten().InnerExceptions[0] : e;
                foreach (var log in _logs.Values)
                {
                    try
                    {
                        log.Close();
                    }
                    catch (Exception closeError)
                    {
                        _logger.LogWarning(closeError, "Closing the log of {Partition} after the failed startup failed", log.TopicPartition);
                    }
                }

                _logs.Clear();
                foreach (var dir in _dirs)
                {
                    dir.ReleaseLock();
                }

                _state = State.ShutDown;
                throw error is KafkaStorageException ? error : new KafkaStorageException($"log manager startup failed: {error.Message}", error);
            }
        }
    }

    /// <summary>
    /// Creates and locks every log dir (and notes its clean-shutdown marker) without loading anything, so the
    /// broker can write meta.properties and read its metadata before the logs open; <see cref="Startup"/> does it
    /// when it was not done. On failure no dir stays locked.
    /// </summary>
    public void LockDirs()
    {
        lock (_stateLock)
        {
            if (_state != State.Created)
            {
                throw new InvalidOperationException($"the log manager was already started ({_state})");
            }

            try
            {
                LockDirsLocked();
            }
            catch
            {
                foreach (var dir in _dirs)
                {
                    dir.ReleaseLock();
                }

                throw;
            }
        }
    }

    private void LockDirsLocked()
    {
        foreach (var dir in _dirs)
        {
            if (!dir.IsLocked)
            {
                dir.Prepare(_logger);
            }
        }
    }

    /// <summary>The partitions of a log dir to load; directories of unfinished deletions are removed (in the background).</summary>
    private HashSet<TopicPartition> FindPartitions(LogDir dir)
    {
        var partitions = new HashSet<TopicPartition>();
        foreach (var path in Directory.EnumerateDirectories(dir.Path))
        {
            var name = Path.GetFileName(path);
            if (name.EndsWith(DeleteDirSuffix, StringComparison.Ordinal))
            {
                _logger.LogInformation("Finishing the deletion of {Directory}", path);
                DeleteDirectoryInBackground(path);
            }
            else if (!TopicPartition.TryParseDirectoryName(name, out var tp))
            {
                _logger.LogWarning("Skipping {Directory} in log dir {LogDir}: not a partition directory (<topic>-<partition>)", name, dir.Path);
            }
            else if (tp.Topic != MetadataTopic)
            {
                partitions.Add(tp);
            }
        }

        return partitions;
    }

    // ------------------------------------------------------------------ logs

    /// <summary>The log of <paramref name="topicPartition"/>, or null when this broker has none.</summary>
    public PartitionLog? GetLog(TopicPartition topicPartition) => _logs.GetValueOrDefault(topicPartition);

    /// <summary>
    /// The log of <paramref name="topicPartition"/>, created (in the log dir holding the fewest partitions)
    /// with <paramref name="config"/>, or the manager's config for it, when there is none yet. With
    /// <paramref name="topicId"/> (the metadata image's id of the topic) a new log records it in its partition.metadata,
    /// an existing log without one adopts it, and an existing log of another topic id is a stray (its topic was deleted
    /// and a new one of the same name created while its directory survived, as Kafka's KRaft stray replicas): it is
    /// renamed for deletion and a fresh log takes its place.
    /// </summary>
    public PartitionLog GetOrCreateLog(TopicPartition topicPartition, LogConfig? config = null, KafkaUuid? topicId = null)
    {
        if (_logs.TryGetValue(topicPartition, out var existing) && (topicId is null || existing.TopicId == topicId))
        {
            return existing;
        }

        lock (_stateLock)
        {
            ThrowIfNotRunning();
            if (_logs.TryGetValue(topicPartition, out existing))
            {
                var existingId = existing.TopicId;
                if (topicId is not { } id || existingId == id)
                {
                    return existing;
                }

                if (existingId is null)
                {
                    existing.AssignTopicId(id); // a log written before partition.metadata
                    return existing;
                }

                var renamed = DeleteLogLocked(topicPartition, existing);
                _logger.LogWarning(
                    "The log of {Partition} belongs to topic id {OldId}, not {NewId} (a deleted topic of the same name): renamed it to {Directory} for deletion, starting a fresh log",
                    topicPartition, existingId, id, renamed);
            }

            var dir = _dirs.Length == 1 ? _dirs[0] : LeastLoadedDir(); // one dir: no count over every log per new partition
            var created = PartitionLog.Open(Path.Combine(dir.Path, topicPartition.DirectoryName), topicPartition, config ?? _configFor(topicPartition), default, cleanShutdown: true, _logger, _time);
            if (topicId is { } newId)
            {
                created.AssignTopicId(newId);
            }

            _logs[topicPartition] = created;
            _logger.LogDebug("Created the log of {Partition} in {LogDir}", topicPartition, dir.Path); // the caller logs a line per topic
            return created;
        }
    }

    /// <summary>The log dir holding the fewest partition logs; ties: the first in log.dirs (under <c>_stateLock</c>).</summary>
    private LogDir LeastLoadedDir()
    {
        var counts = _dirs.ToDictionary(d => d.Path, _ => 0, StringComparer.Ordinal);
        foreach (var log in _logs.Values)
        {
            if (Path.GetDirectoryName(log.Directory) is { } parent && counts.ContainsKey(parent))
            {
                counts[parent]++;
            }
        }

        return _dirs.MinBy(d => counts[d.Path])!;
    }

    /// <summary>
    /// Deletes the log of <paramref name="topicPartition"/> (the topic or partition was deleted): closes it,
    /// renames its directory to "&lt;name&gt;.&lt;uuid&gt;-delete" (so a new log of the same name can be created
    /// at once, and a crash finishes the deletion at the next startup) and removes that in the background.
    /// False when there is no such log, or (with <paramref name="topicId"/>) when the log belongs to another topic id.
    /// </summary>
    public bool DeleteLog(TopicPartition topicPartition, KafkaUuid? topicId = null)
    {
        lock (_stateLock)
        {
            ThrowIfNotRunning();
            if (!_logs.TryGetValue(topicPartition, out var log) || (topicId is not null && log.TopicId is { } own && own != topicId))
            {
                return false;
            }

            var target = DeleteLogLocked(topicPartition, log);
            _logger.LogInformation("Deleted the log of {Partition}: {Directory} is removed in the background", topicPartition, target);
            return true;
        }
    }

    /// <summary>Forgets <paramref name="log"/>, renames its directory for deletion and removes it in the background; returns the new name.</summary>
    private string DeleteLogLocked(TopicPartition topicPartition, PartitionLog log)
    {
        _logs.TryRemove(topicPartition, out _);
        _cleanedUpTo.TryRemove(topicPartition, out _);
        _uncleanable.TryRemove(topicPartition, out _);
        log.CloseWithoutFlush();
        var target = $"{log.Directory}.{Guid.NewGuid():N}{DeleteDirSuffix}";
        try
        {
            Directory.Move(log.Directory, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The files are closed and the partition forgotten; the directory is loaded again at the next startup.
            throw new KafkaStorageException($"cannot rename {log.Directory} for deletion: {e.Message}", e);
        }

        var parent = Path.GetDirectoryName(log.Directory)!;
        FileSync.FsyncDirectory(parent);
        if (_dirs.FirstOrDefault(d => d.Path == parent) is { } dir)
        {
            WriteCheckpoints(dir);
        }

        DeleteDirectoryInBackground(target);
        return target;
    }

    private void DeleteDirectoryInBackground(string path)
    {
        var task = Task.Run(() =>
        {
            try
            {
                Directory.Delete(path, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
            catch (Exception e)
            {
                _logger.LogWarning(e, "Could not remove {Directory}; the next startup retries", path);
            }
        });
        lock (_pendingDeletions)
        {
            _pendingDeletions.RemoveAll(t => t.IsCompleted);
            _pendingDeletions.Add(task);
        }
    }

    /// <summary>Completes when every directory deletion started so far has finished.</summary>
    public Task WhenDeletionsComplete()
    {
        lock (_pendingDeletions)
        {
            return Task.WhenAll([.. _pendingDeletions]);
        }
    }

    // ------------------------------------------------------------------ shutdown

    /// <summary>
    /// A clean shutdown: stops the loops, closes (flushes) every log, writes all checkpoints, then writes
    /// each log dir's clean-shutdown marker, fsynced, last, so the next startup skips recovery. A dir
    /// where something failed gets no marker (its logs are recovered next time).
    /// </summary>
    public void Shutdown()
    {
        lock (_stateLock)
        {
            if (_state != State.Running)
            {
                if (_state == State.Created)
                {
                    foreach (var dir in _dirs)
                    {
                        dir.ReleaseLock(); // locked by LockDirs, never started
                    }
                }

                _state = State.ShutDown;
                return;
            }

            _state = State.ShutDown;
            _cleanerTimer = null; // its loop disposes it
        }

        var stopwatch = Stopwatch.StartNew();
        _logger.LogDebug("Shutting down the log manager");
        _stopping.Cancel();
        try
        {
            Task.WaitAll([.. _loops]);
        }
        catch (AggregateException e)
        {
            _logger.LogError(e.Flatten(), "A background loop failed while stopping");
        }

        var failedDirs = new ConcurrentDictionary<string, byte>(StringComparer.Ordinal);
        var closing = _dirs.Select(dir => Task.Run(() => Parallel.ForEach(
            LogsIn(dir),
            new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, RecoveryThreadsPerDataDir) },
            log =>
            {
                try
                {
                    log.Close();
                }
                catch (Exception e)
                {
                    failedDirs[dir.Path] = 0;
                    _logger.LogError(e, "Closing the log of {Partition} failed; {LogDir} gets no clean-shutdown marker", log.TopicPartition, dir.Path);
                }
            }))).ToArray();
        Task.WaitAll(closing);

        try
        {
            WhenDeletionsComplete().Wait(TimeSpan.FromSeconds(30));
        }
        catch (AggregateException)
        {
            // logged by the deletion itself
        }

        foreach (var dir in _dirs)
        {
            try
            {
                WriteCheckpoints(dir);
                if (!failedDirs.ContainsKey(dir.Path))
                {
                    dir.WriteCleanShutdownMarker();
                }
            }
            catch (Exception e)
            {
                _logger.LogError(e, "Writing the checkpoints of {LogDir} failed; it gets no clean-shutdown marker", dir.Path);
            }
            finally
            {
                dir.ReleaseLock();
            }
        }

        var closed = _logs.Count;
        _logs.Clear();
        _logger.LogInformation("Log manager shut down: {Count} log(s) closed in {Elapsed} ms", closed, stopwatch.ElapsedMilliseconds);
    }

    public void Dispose()
    {
        Shutdown();
        _stopping.Dispose();
    }

    private void ThrowIfNotRunning()
    {
        if (_state != State.Running)
        {
            throw new InvalidOperationException(_state == State.Created ? "the log manager has not been started" : "the log manager is shut down");
        }
    }
}
