using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage;

public sealed partial class LogManager
{
    /// <summary>One directory of log.dirs: its lock, marker and checkpoint files.</summary>
    private sealed class LogDir(string path, ILogger logger)
    {
        private FileStream? _lock;

        public string Path { get; } = path;

        public bool CleanShutdown { get; private set; }

        public OffsetCheckpointFile RecoveryPoints { get; } = new(System.IO.Path.Combine(path, OffsetCheckpointFile.RecoveryPointFileName), logger);

        public OffsetCheckpointFile LogStartOffsets { get; } = new(System.IO.Path.Combine(path, OffsetCheckpointFile.LogStartOffsetFileName), logger);

        public OffsetCheckpointFile HighWatermarks { get; } = new(System.IO.Path.Combine(path, OffsetCheckpointFile.HighWatermarkFileName), logger);

        public OffsetCheckpointFile CleanerOffsets { get; } = new(System.IO.Path.Combine(path, OffsetCheckpointFile.CleanerOffsetFileName), logger);

        private string MarkerPath => System.IO.Path.Combine(Path, CleanShutdownFileName);

        /// <summary>Creates the dir if missing, takes its lock and notes whether it was shut down cleanly; each failure names its cause.</summary>
        public void Prepare(ILogger log)
        {
            if (File.Exists(Path))
            {
                throw new KafkaStorageException($"the log dir {Path} is not a directory");
            }

            if (!Directory.Exists(Path))
            {
                log.LogInformation("Creating the log dir {LogDir}", Path);
                try
                {
                    Directory.CreateDirectory(Path);
                    FileSync.FsyncDirectory(System.IO.Path.GetDirectoryName(Path) ?? Path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new KafkaStorageException($"cannot create the log dir {Path}: {e.Message}", e);
                }
            }

            var lockPath = System.IO.Path.Combine(Path, LockFileName);
            try
            {
                _lock = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw IsLockedByAnotherProcess(lockPath)
                    ? new KafkaStorageException($"the log dir {Path} is locked by another broker process (it holds {lockPath})", e)
                    : new KafkaStorageException($"the log dir {Path} is not writable: {e.Message}", e);
            }

            CleanShutdown = File.Exists(MarkerPath);
        }

        /// <summary>
        /// Whether another process holds the lock: .NET takes a shared advisory lock to read a file, which fails only
        /// while someone holds the exclusive one (a dir that is merely read-only can still be read).
        /// </summary>
        private static bool IsLockedByAnotherProcess(string lockPath)
        {
            try
            {
                new FileStream(lockPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite).Dispose();
                return false;
            }
            catch (FileNotFoundException)
            {
                return false;
            }
            catch (IOException)
            {
                return true;
            }
            catch (UnauthorizedAccessException)
            {
                return false;
            }
        }

        public void DeleteCleanShutdownMarker()
        {
            if (File.Exists(MarkerPath))
            {
                File.Delete(MarkerPath);
                FileSync.FsyncDirectory(Path);
            }
        }

        public void WriteCleanShutdownMarker()
        {
            using (var marker = File.OpenHandle(MarkerPath, FileMode.Create, FileAccess.Write))
            {
                FileSync.Fsync(marker);
            }

            FileSync.FsyncDirectory(Path);
        }

        public bool IsLocked => _lock is not null;

        public void ReleaseLock()
        {
            _lock?.Dispose();
            _lock = null;
        }

        public override string ToString() => Path;
    }
}
