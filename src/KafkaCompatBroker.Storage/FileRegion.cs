using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Storage;

/// <summary>
/// Bytes of a segment file to send as they are: the network layer can pass them to sendfile
/// instead of copying them through managed memory.
/// </summary>
public readonly record struct FileRegion(SafeFileHandle File, long Position, int Length)
{
    /// <summary>Copies the region into <paramref name="destination"/> (for paths that cannot send files directly).</summary>
    public void CopyTo(Span<byte> destination)
    {
        var done = 0;
        while (done < Length)
        {
            var n = RandomAccess.Read(File, destination.Slice(done, Length - done), Position + done);
            if (n == 0)
            {
                throw new KafkaStorageException($"segment file ended {Length - done} bytes before the region's end");
            }

            done += n;
        }
    }
}
