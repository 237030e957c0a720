using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// Writes a batch held in two pieces (a patched header copy and the rest, still in the network
/// buffer) with one pwritev call. RandomAccess.Write's list overload pins each piece with a GCHandle
/// and allocates per call; on the append path that costs about as much as the syscall itself.
/// </summary>
internal static unsafe partial class GatherWrite
{
    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>Writes <paramref name="first"/> then <paramref name="second"/> at <paramref name="position"/>.</summary>
    public static void Write(SafeFileHandle file, ReadOnlySpan<byte> first, ReadOnlySpan<byte> second, long position)
    {
        if (OperatingSystem.IsWindows())
        {
            RandomAccess.Write(file, first, position);
            RandomAccess.Write(file, second, position + first.Length);
            return;
        }

        var added = false;
        file.DangerousAddRef(ref added);
        try
        {
            var fd = (int)file.DangerousGetHandle();
            // Pinning spans with fixed is free (no GCHandle): the buffers stay put for the call's duration.
            fixed (byte* a = first)
            fixed (byte* b = second)
            {
                long done = 0;
                long total = first.Length + second.Length;
                var iov = stackalloc IoVec[2];
                while (done < total)
                {
                    // After a partial write, continue from where it stopped.
                    var count = 0;
                    if (done < first.Length)
                    {
                        iov[count++] = new IoVec { Base = a + done, Length = (nuint)(first.Length - done) };
                        iov[count++] = new IoVec { Base = b, Length = (nuint)second.Length };
                    }
                    else
                    {
                        iov[count++] = new IoVec { Base = b + (done - first.Length), Length = (nuint)(total - done) };
                    }

                    var written = PWriteV(fd, iov, count, position + done);
                    if (written < 0)
                    {
                        var errno = Marshal.GetLastPInvokeError();
                        if (errno == 4 /* EINTR */)
                        {
                            continue;
                        }

                        throw new IOException($"pwritev failed with errno {errno}");
                    }

                    if (written == 0)
                    {
                        throw new IOException("pwritev wrote nothing");
                    }

                    done += written;
                }
            }
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "pwritev", SetLastError = true)]
    private static partial nint PWriteV(int fd, IoVec* iov, int iovcnt, long offset);
}
