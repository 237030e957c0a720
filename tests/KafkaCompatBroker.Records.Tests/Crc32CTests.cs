using System.Text;

namespace KafkaCompatBroker.Records.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class Crc32CTests
{
    public static TheoryData<byte[], uint> PublishedVectors()
    {
        var ascending = new byte[32];
        var descending = new byte[32];
        for (var i = 0; i < 32; i++)
        {
            ascending[i] = (byte)i;
            descending[i] = (byte)(31 - i);
        }

        return new TheoryData<byte[], uint>
        {
            { new byte[32], 0x8A9136AAu },
            { Enumerable.Repeat((byte)0xFF, 32).ToArray(), 0x62A8AB43u },
            { ascending, 0x46DD794Eu },
            { descending, 0x113FDB5Cu },
            { Encoding.ASCII.GetBytes("123456789"), 0xE3069283u },
            { [], 0u },
        };
    }

    [Theory]
    [MemberData(nameof(PublishedVectors))]
    public void Compute_PublishedVector_MatchesExpected(byte[] data, uint expected)
    {
        Assert.Equal(expected, Crc32C.Compute(data));
        Assert.Equal(expected, Crc32C.AppendTable(0, data));
    }

    [Fact]
    public void Compute_RandomBuffersOfManyLengthsAndAlignments_HardwarePathEqualsTablePath()
    {
        TestSeed.Run(12345, random =>
        {
            var buffer = new byte[4096 + 16];
            random.NextBytes(buffer);
            for (var length = 0; length <= 300; length++)
            {
                for (var alignment = 0; alignment < 8; alignment++)
                {
                    var slice = buffer.AsSpan(alignment, length);
                    Assert.Equal(Crc32C.AppendTable(0, slice), Crc32C.Compute(slice));
                }
            }

            foreach (var length in new[] { 1023, 1024, 4096 })
            {
                var slice = buffer.AsSpan(3, length);
                Assert.Equal(Crc32C.AppendTable(0, slice), Crc32C.Compute(slice));
            }
        });
    }

    /// <summary>Lengths around the interleaved path's block boundaries (lanes of 256, 1024 and 4096 bytes, three per block).</summary>
    public static TheoryData<int> LaneBoundaryLengths()
    {
        var lengths = new SortedSet<int>();
        int[] lanes = [256, 1024, 4096];
        int[] blocks = [.. lanes.Select(lane => 3 * lane)];
        var anchors = new List<int>(blocks);
        anchors.AddRange(blocks.Select(block => 2 * block));
        anchors.Add(blocks[2] + blocks[1]);
        anchors.Add(blocks[2] + blocks[0]);
        anchors.Add(blocks[1] + blocks[0]);
        anchors.Add(blocks[2] + blocks[1] + blocks[0]);
        anchors.Add((2 * blocks[2]) + (2 * blocks[0]));
        foreach (var anchor in anchors)
        {
            for (var delta = -17; delta <= 17; delta++)
            {
                lengths.Add(anchor + delta);
            }
        }

        lengths.Add(17_000); // about a 16 × 1 KiB record batch
        lengths.Add(65_536 + 13);
        var data = new TheoryData<int>();
        foreach (var length in lengths)
        {
            data.Add(length);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LaneBoundaryLengths))]
    public void Compute_LengthsAroundLaneBoundaries_AllAlignments_EqualsTablePath(int length)
    {
        var buffer = new byte[length + 8];
        new Random(length).NextBytes(buffer);
        for (var alignment = 0; alignment < 8; alignment++)
        {
            var slice = buffer.AsSpan(alignment, length);
            var expected = Crc32C.AppendTable(0, slice);
            Assert.Equal(expected, Crc32C.Compute(slice));
            Assert.Equal(expected, Crc32C.AppendInterleavedTable(0, slice));
            Assert.Equal(Crc32C.AppendTable(0x1234_5678u, slice), Crc32C.Append(0x1234_5678u, slice));
        }
    }

    [Fact]
    public void Compute_EveryLengthUpToThreeLongLanes_EqualsTablePath()
    {
        const int MaxLength = (3 * 4096) + 100;
        var buffer = new byte[MaxLength + 8];
        new Random(99).NextBytes(buffer);
        for (var length = 0; length <= MaxLength; length++)
        {
            // An odd alignment that varies with the length, so every offset mod 8 is covered.
            var slice = buffer.AsSpan(((length * 3) + 1) % 8, length);
            var expected = Crc32C.AppendTable(0, slice);
            Assert.Equal(expected, Crc32C.Compute(slice));
            Assert.Equal(expected, Crc32C.AppendInterleavedTable(0, slice));
        }
    }

    [Fact]
    public void Append_LongBufferSplitAtLaneBoundaries_EqualsWholeCompute()
    {
        var data = new byte[(2 * 3 * 4096) + (3 * 1024) + 777];
        new Random(5).NextBytes(data);
        var whole = Crc32C.AppendTable(0, data);
        foreach (var split in new[] { 1, 255, 767, 768, 769, 3071, 3072, 3073, 12287, 12288, 12289, 20000 })
        {
            Assert.Equal(whole, Crc32C.Append(Crc32C.Compute(data.AsSpan(0, split)), data.AsSpan(split)));
        }
    }

    [Fact]
    public void Append_SplitAnywhere_EqualsWholeCompute()
    {
        var data = new byte[257];
        new Random(7).NextBytes(data);
        var whole = Crc32C.Compute(data);
        for (var split = 0; split <= data.Length; split++)
        {
            var crc = Crc32C.Append(Crc32C.Compute(data.AsSpan(0, split)), data.AsSpan(split));
            Assert.Equal(whole, crc);
            Assert.Equal(whole, Crc32C.AppendTable(Crc32C.AppendTable(0, data.AsSpan(0, split)), data.AsSpan(split)));
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(100)]
    public void Compute_MultiSegmentSequence_EqualsSpanCompute(int segmentSize)
    {
        var data = new byte[1000];
        new Random(segmentSize).NextBytes(data);
        var sequence = SequenceHelper.Split(data, segmentSize);
        Assert.Equal(Crc32C.Compute(data), Crc32C.Compute(sequence));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(61)]
    [InlineData(4096)]
    [InlineData(1_000_003)]
    public void Compute_AnyLength_EqualsSystemIoHashingsCrc32C(int length)
    {
        // The CRC32C benchmark compares this implementation with System.IO.Hashing's: they must compute the same thing.
        var data = new byte[length];
        new Random(length).NextBytes(data);

        Assert.Equal(System.IO.Hashing.Crc32.HashToUInt32(System.IO.Hashing.Crc32ParameterSet.Crc32C, data), Crc32C.Compute(data));
    }
}
