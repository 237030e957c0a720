using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Storage;

/// <summary>fsync for a file handle and for a directory (so that a new or renamed file's entry is durable too).</summary>
public static partial class FileSync
{
    public static void Fsync(SafeFileHandle file) => RandomAccess.FlushToDisk(file);

    /// <summary>
    /// Makes a directory's entries (files created, renamed or deleted in it) durable. .NET will not open
    /// a directory as a file handle, so this calls open/fsync directly; NTFS needs no such step.
    /// </summary>
    public static void FsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var fd = Open(directory, 0 /* O_RDONLY works for directories on every Unix */);
        if (fd < 0)
        {
            throw new KafkaStorageException($"cannot open directory {directory} to fsync it (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (Fsync(fd) != 0)
            {
                throw new KafkaStorageException($"fsync of directory {directory} failed (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
