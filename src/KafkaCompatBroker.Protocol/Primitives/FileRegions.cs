using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Protocol;

/// <summary>
/// Implemented by a <see cref="System.Buffers.MemoryManager{T}"/> whose bytes live in a file (e.g. a
/// Fetch response's records in a log segment): a writer that can send files (<see cref="IFileRegionWriter"/>)
/// is handed the file region instead of the bytes, so they never pass through managed memory.
/// </summary>
public interface IFileBackedMemory
{
    /// <summary>The file; kept open by the memory's owner until it is disposed.</summary>
    SafeFileHandle File { get; }

    /// <summary>Where the memory's first byte is in <see cref="File"/>.</summary>
    long Position { get; }
}

/// <summary>
/// An output that can take part of a file in place of bytes: <see cref="ProtocolWriter.WriteRecords"/>
/// hands it the records of <see cref="IFileBackedMemory"/> instead of copying them.
/// </summary>
public interface IFileRegionWriter
{
    /// <summary>
    /// Appends <paramref name="length"/> bytes of <paramref name="file"/> from <paramref name="position"/>
    /// after the bytes written (advanced) so far. False when this writer cannot send that file; the caller then copies the bytes.
    /// </summary>
    bool TryWriteFileRegion(SafeFileHandle file, long position, int length);
}
