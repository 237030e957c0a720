using System.Buffers;

namespace KafkaCompatBroker.Records.Tests;

/// <summary>Builds multi-segment ReadOnlySequences to exercise the segment-crossing paths.</summary>
internal static class SequenceHelper
{
    public static ReadOnlySequence<byte> Split(ReadOnlySpan<byte> data, int segmentSize)
    {
        if (data.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        Segment? first = null;
        Segment? last = null;
        for (var offset = 0; offset < data.Length; offset += segmentSize)
        {
            var chunk = data.Slice(offset, Math.Min(segmentSize, data.Length - offset)).ToArray();
            var segment = new Segment(chunk, last is null ? 0 : last.RunningIndex + last.Memory.Length);
            if (last is null)
            {
                first = segment;
            }
            else
            {
                last.SetNext(segment);
            }

            last = segment;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
