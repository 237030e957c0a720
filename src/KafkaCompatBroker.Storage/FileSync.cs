using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Storage;

/// <summary>fsync for a file handle and for a directory (so that a new or renamed file's entry is durable too).</summary>
internal static class FileSync
{
    public static void Fsync(SafeFileHandle file) => RandomAccess.FlushToDisk(file);

    public static void FsyncDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // NTFS makes directory entries durable with the file.
        }

        try
        {
            using var handle = File.OpenHandle(directory, FileMode.Open, FileAccess.Read);
            RandomAccess.FlushToDisk(handle);
        }
        catch (UnauthorizedAccessException)
        {
            // Some platforms refuse to open directories; their file systems order metadata themselves.
        }
        catch (IOException)
        {
        }
    }
}
