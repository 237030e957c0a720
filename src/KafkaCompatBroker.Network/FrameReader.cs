using System.Buffers;
using System.Buffers.Binary;

namespace KafkaCompatBroker.Network;

public enum FrameStatus
{
    /// <summary>A whole frame was taken from the buffer.</summary>
    Frame,

    /// <summary>More bytes are needed.</summary>
    NeedMoreData,

    /// <summary>The size prefix is negative or zero, or larger than allowed: the connection must be closed.</summary>
    Invalid,
}

/// <summary>Kafka's framing: a 4-byte big-endian size, then that many bytes (request header + body).</summary>
public static class FrameReader
{
    /// <summary>
    /// Takes one frame off the front of <paramref name="buffer"/>. The size is checked against
    /// <paramref name="maxFrameBytes"/> as soon as its 4 bytes arrive, before the body is buffered.
    /// </summary>
    public static FrameStatus TryReadFrame(ref ReadOnlySequence<byte> buffer, int maxFrameBytes, out ReadOnlySequence<byte> frame, out int size)
    {
        frame = default;
        size = 0;
        if (buffer.Length < 4)
        {
            return FrameStatus.NeedMoreData;
        }

        Span<byte> prefix = stackalloc byte[4];
        buffer.Slice(0, 4).CopyTo(prefix);
        size = BinaryPrimitives.ReadInt32BigEndian(prefix);
        if (size <= 0 || size > maxFrameBytes)
        {
            return FrameStatus.Invalid;
        }

        if (buffer.Length - 4 < size)
        {
            return FrameStatus.NeedMoreData;
        }

        frame = buffer.Slice(4, size);
        buffer = buffer.Slice(frame.End);
        return FrameStatus.Frame;
    }
}
