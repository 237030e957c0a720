using System.Runtime.InteropServices;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Controller;

/// <summary>
/// fsync of a directory, so that a snapshot file renamed into it survives power loss. .NET will not
/// open a directory as a file handle, so this calls open/fsync directly; NTFS needs no such step.
/// </summary>
internal static partial class DirectorySync
{
    public static void Fsync(string directory)
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
            if (FsyncFd(fd) != 0)
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
    private static partial int FsyncFd(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
