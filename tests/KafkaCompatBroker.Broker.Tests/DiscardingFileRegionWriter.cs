using KafkaCompatBroker.Network;
using Microsoft.Win32.SafeHandles;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// The socket writer's zero-copy path (bytes buffered, file regions taken as regions and kept open until
/// sent) with sends that complete at once and discard what they get: the allocation baseline of that path without a socket.
/// </summary>
internal sealed class DiscardingFileRegionWriter : FileRegionPipeWriter
{
    /// <summary>Bytes "sent" (buffered bytes and file regions).</summary>
    public long Sent { get; private set; }

    /// <summary>File regions "sent" as regions.</summary>
    public int FileRegions { get; private set; }

    public void Reset()
    {
        Sent = 0;
        FileRegions = 0;
    }

    protected override ValueTask SendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        Sent += bytes.Length;
        return ValueTask.CompletedTask;
    }

    protected override ValueTask SendFileAsync(SafeFileHandle file, long position, int length, CancellationToken cancellationToken)
    {
        Sent += length;
        FileRegions++;
        return ValueTask.CompletedTask;
    }
}
