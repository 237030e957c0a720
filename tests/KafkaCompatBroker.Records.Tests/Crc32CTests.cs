using System.Text;

namespace KafkaCompatBroker.Records.Tests;

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
        var random = new Random(12345);
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
}
