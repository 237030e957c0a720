namespace KafkaCompatBroker.Network.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class ReceiveBlockPoolTests
{
    [Fact]
    public void Rent_AnySizeUpToTheBlock_Gives64KiB()
    {
        using var pool = new ReceiveBlockPool();

        using var small = pool.Rent(1);
        using var whole = pool.Rent(ReceiveBlockPool.BlockSize);

        Assert.Equal(ReceiveBlockPool.BlockSize, small.Memory.Length);
        Assert.Equal(ReceiveBlockPool.BlockSize, whole.Memory.Length);
        Assert.Equal(ReceiveBlockPool.BlockSize, pool.MaxBufferSize);
    }

    [Fact]
    public void Rent_MoreThanABlock_Throws()
    {
        using var pool = new ReceiveBlockPool();

        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(ReceiveBlockPool.BlockSize + 1));
    }

    [Fact]
    public void Dispose_ThenRent_ReusesTheBlockOnce()
    {
        using var pool = new ReceiveBlockPool();
        var first = pool.Rent();
        first.Memory.Span[0] = 42;

        first.Dispose();
        first.Dispose(); // a second dispose must not put the block in the pool twice
        using var again = pool.Rent();
        using var other = pool.Rent();

        Assert.Same(first, again);
        Assert.NotSame(again, other);
    }

    [Fact]
    public void Dispose_MoreBlocksThanRetained_KeepsOnlyTheLimit()
    {
        using var pool = new ReceiveBlockPool();
        var blocks = Enumerable.Range(0, ReceiveBlockPool.MaxRetainedBlocks + 10).Select(_ => pool.Rent()).ToList();
        foreach (var block in blocks)
        {
            block.Dispose();
        }

        var reused = Enumerable.Range(0, ReceiveBlockPool.MaxRetainedBlocks + 10).Select(_ => pool.Rent()).Count(b => blocks.Contains(b));

        Assert.Equal(ReceiveBlockPool.MaxRetainedBlocks, reused);
    }
}
