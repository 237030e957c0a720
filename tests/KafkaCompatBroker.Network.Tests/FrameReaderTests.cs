using System.Buffers;

namespace KafkaCompatBroker.Network.Tests;

[Trait(Categories.Name, Categories.Unit)]
public class FrameReaderTests
{
    private static ReadOnlySequence<byte> Seq(params byte[] bytes) => new(bytes);

    [Fact]
    public void TryReadFrame_PartialPrefixOrBody_NeedsMoreData()
    {
        var buffer = Seq(0, 0, 0);
        Assert.Equal(FrameStatus.NeedMoreData, FrameReader.TryReadFrame(ref buffer, 100, out _, out _));
        buffer = Seq(0, 0, 0, 3, 1, 2);
        Assert.Equal(FrameStatus.NeedMoreData, FrameReader.TryReadFrame(ref buffer, 100, out _, out var size));
        Assert.Equal(3, size);
        Assert.Equal(6, buffer.Length);
    }

    [Fact]
    public void TryReadFrame_TwoFrames_TakesThemInOrder()
    {
        var buffer = Seq(0, 0, 0, 2, 7, 8, 0, 0, 0, 1, 9);
        Assert.Equal(FrameStatus.Frame, FrameReader.TryReadFrame(ref buffer, 100, out var first, out _));
        Assert.Equal(new byte[] { 7, 8 }, first.ToArray());
        Assert.Equal(FrameStatus.Frame, FrameReader.TryReadFrame(ref buffer, 100, out var second, out _));
        Assert.Equal(new byte[] { 9 }, second.ToArray());
        Assert.True(buffer.IsEmpty);
    }

    [Fact]
    public void TryReadFrame_SizeOverLimit_IsInvalidBeforeBodyArrives()
    {
        var buffer = Seq(0, 0, 1, 0); // 256 bytes announced, none present
        Assert.Equal(FrameStatus.Invalid, FrameReader.TryReadFrame(ref buffer, 255, out _, out var size));
        Assert.Equal(256, size);
    }

    [Fact]
    public void TryReadFrame_NegativeOrZeroSize_IsInvalid()
    {
        var buffer = Seq(0xff, 0xff, 0xff, 0xfe);
        Assert.Equal(FrameStatus.Invalid, FrameReader.TryReadFrame(ref buffer, 100, out _, out _));
        buffer = Seq(0, 0, 0, 0);
        Assert.Equal(FrameStatus.Invalid, FrameReader.TryReadFrame(ref buffer, 100, out _, out _));
    }
}
