namespace KafkaCompatBroker.Records.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class VarIntTests
{
    [Theory]
    [InlineData(0, new byte[] { 0x00 })]
    [InlineData(-1, new byte[] { 0x01 })]
    [InlineData(1, new byte[] { 0x02 })]
    [InlineData(63, new byte[] { 0x7E })]
    [InlineData(-64, new byte[] { 0x7F })]
    [InlineData(64, new byte[] { 0x80, 0x01 })]
    [InlineData(int.MaxValue, new byte[] { 0xFE, 0xFF, 0xFF, 0xFF, 0x0F })]
    [InlineData(int.MinValue, new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })]
    public void WriteVarInt_KnownValue_MatchesKafkaEncoding(int value, byte[] expected)
    {
        var buffer = new byte[VarInt.MaxVarIntBytes];
        var written = VarInt.WriteVarInt(buffer, value);
        Assert.Equal(expected, buffer.AsSpan(0, written).ToArray());
        Assert.Equal(expected.Length, VarInt.SizeOfVarInt(value));

        var position = 0;
        Assert.Equal(value, VarInt.ReadVarInt(expected, ref position));
        Assert.Equal(expected.Length, position);
    }

    [Fact]
    public void ReadVarLong_RoundTripOfExtremes_ReturnsSameValue()
    {
        var buffer = new byte[VarInt.MaxVarLongBytes];
        foreach (var value in new[] { 0L, 1L, -1L, 300L, -300L, int.MaxValue + 1L, long.MaxValue, long.MinValue, 1700000000000L })
        {
            var written = VarInt.WriteVarLong(buffer, value);
            Assert.Equal(VarInt.SizeOfVarLong(value), written);
            var position = 0;
            Assert.Equal(value, VarInt.ReadVarLong(buffer.AsSpan(0, written), ref position));
            Assert.Equal(written, position);
        }

        Assert.Equal(10, VarInt.SizeOfVarLong(long.MinValue));
    }

    [Fact]
    public void ReadVarInt_Truncated_ThrowsInvalidRecord()
    {
        var exception = Assert.Throws<RecordsException>(() =>
        {
            var position = 0;
            VarInt.ReadVarInt([0x80, 0x80], ref position);
        });
        Assert.Equal(RecordBatchError.InvalidRecord, exception.Error);
        Assert.Equal(87, exception.ErrorCode);
        Assert.Contains("truncated", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadVarInt_Empty_ThrowsInvalidRecord()
    {
        Assert.Throws<RecordsException>(() =>
        {
            var position = 0;
            VarInt.ReadVarInt([], ref position);
        });
    }

    [Fact]
    public void ReadVarInt_SixBytes_ThrowsInvalidRecord()
    {
        Assert.Throws<RecordsException>(() =>
        {
            var position = 0;
            VarInt.ReadVarInt([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], ref position);
        });
    }

    [Fact]
    public void ReadVarInt_FifthByteOverflows32Bits_ThrowsInvalidRecord()
    {
        Assert.Throws<RecordsException>(() =>
        {
            var position = 0;
            VarInt.ReadVarInt([0xFF, 0xFF, 0xFF, 0xFF, 0x1F], ref position);
        });
    }

    [Fact]
    public void ReadVarLong_ElevenBytesOrOverflow_ThrowsInvalidRecord()
    {
        Assert.Throws<RecordsException>(() =>
        {
            var position = 0;
            VarInt.ReadVarLong([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], ref position);
        });
        Assert.Throws<RecordsException>(() =>
        {
            var position = 0;
            VarInt.ReadVarLong([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02], ref position);
        });
        Assert.Throws<RecordsException>(() =>
        {
            var position = 0;
            VarInt.ReadVarLong([0xFF, 0xFF, 0xFF], ref position);
        });
    }
}
