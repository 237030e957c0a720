using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Storage.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class OffsetCheckpointFileTests : IDisposable
{
    private readonly TempDir _dir = new();
    private readonly ListLogger _logger = new();

    public void Dispose() => _dir.Dispose();

    private OffsetCheckpointFile Checkpoint(string name = OffsetCheckpointFile.RecoveryPointFileName) =>
        new(Path.Combine(_dir.Path, name), _logger);

    [Fact]
    public void Write_ThenRead_RoundTripsInKafkaTextFormat()
    {
        var file = Checkpoint();
        var offsets = new Dictionary<TopicPartition, long>
        {
            [new("orders", 1)] = 99,
            [new("orders", 0)] = 1234,
            [new("my-topic.v2", 12)] = 0,
        };

        file.Write(offsets);

        Assert.Equal("0\n3\nmy-topic.v2 12 0\norders 0 1234\norders 1 99\n", File.ReadAllText(file.FilePath));
        Assert.Equal(offsets, file.Read());
        Assert.False(File.Exists(file.FilePath + ".tmp"));
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public void Write_Twice_ReplacesContents()
    {
        var file = Checkpoint();
        file.Write([KeyValuePair.Create(new TopicPartition("a", 0), 5L), KeyValuePair.Create(new TopicPartition("b", 0), 6L)]);
        file.Write([KeyValuePair.Create(new TopicPartition("a", 0), 7L)]);

        Assert.Equal(new Dictionary<TopicPartition, long> { [new("a", 0)] = 7 }, file.Read());
    }

    [Fact]
    public void Write_Empty_ReadsBackEmpty()
    {
        var file = Checkpoint();
        file.Write([]);

        Assert.Equal("0\n0\n", File.ReadAllText(file.FilePath));
        Assert.Empty(file.Read());
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public void Read_MissingFile_IsEmptyWithoutWarning()
    {
        Assert.Empty(Checkpoint().Read());
        Assert.Empty(_logger.Warnings);
    }

    [Fact]
    public void Read_KafkaWrittenFileWithCrLfAndNoFinalNewline_IsAccepted()
    {
        var file = Checkpoint(OffsetCheckpointFile.LogStartOffsetFileName);
        File.WriteAllText(file.FilePath, "0\r\n2\r\nt 0 10\r\n__consumer_offsets 49 -1");

        Assert.Equal(new Dictionary<TopicPartition, long> { [new("t", 0)] = 10, [new("__consumer_offsets", 49)] = -1 }, file.Read());
    }

    [Theory]
    [InlineData("")]
    [InlineData("0\n")]
    [InlineData("1\n1\nt 0 10\n")] // unknown version
    [InlineData("0\n2\nt 0 10\n")] // fewer entries than counted
    [InlineData("0\n1\nt 0 10\nt 1 11\n")] // more entries than counted
    [InlineData("0\n1\nt 0\n")] // missing offset
    [InlineData("0\n1\nt x 10\n")] // bad partition
    [InlineData("0\n1\nt 0 ten\n")] // bad offset
    [InlineData("zero\n1\nt 0 10\n")]
    [InlineData("\0\0\0\0garbage")]
    public void Read_MalformedFile_WarnsAndIsEmpty(string text)
    {
        var file = Checkpoint(OffsetCheckpointFile.CleanerOffsetFileName);
        File.WriteAllText(file.FilePath, text);

        Assert.Empty(file.Read());
        var warning = Assert.Single(_logger.Warnings);
        Assert.Contains(OffsetCheckpointFile.CleanerOffsetFileName, warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Write_LeftoverTmpFromCrash_IsReplaced()
    {
        var file = Checkpoint();
        File.WriteAllText(file.FilePath + ".tmp", "0\n1\nhalf-writ");
        file.Write([KeyValuePair.Create(new TopicPartition("t", 3), 42L)]);

        Assert.Equal(42, file.Read()[new TopicPartition("t", 3)]);
        Assert.False(File.Exists(file.FilePath + ".tmp"));
    }

    [Fact]
    public async Task Write_Concurrently_LeavesOneCompleteFile()
    {
        var file = Checkpoint();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() =>
        {
            for (var n = 0; n < 20; n++)
            {
                file.Write([KeyValuePair.Create(new TopicPartition("t", i), (long)n)]);
            }
        })));

        var offsets = file.Read();
        Assert.Single(offsets);
        Assert.Equal(19, offsets.Single().Value);
        Assert.Empty(_logger.Warnings);
    }
}
