using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Storage.Tests;

/// <summary>Counts the process's file descriptors, so it runs alone: other tests' files would be counted too.</summary>
[Trait(Categories.Name, Categories.Unit)]
[Collection(nameof(FileDescriptorTests))]
public sealed class FileDescriptorTests
{
    [Fact]
    public void Open_NewEmptyLogs_HoldOneFileDescriptorEach()
    {
        // An empty partition keeps its log file open and nothing else, as Kafka does (it closes mapped index
        // files): ten thousand new partitions must not take three times as many descriptors.
        using var dir = new TempDir();
        const int logs = 200;
        var opened = new List<PartitionLog>(logs);
        var before = Directory.GetFiles("/proc/self/fd").Length;
        try
        {
            for (var i = 0; i < logs; i++)
            {
                var tp = new TopicPartition("fd-count", i);
                opened.Add(PartitionLog.Open(Path.Combine(dir.Path, tp.DirectoryName), tp, new LogConfig(), default, cleanShutdown: true, new ListLogger(), new ManualTime()));
            }

            var perLog = (double)(Directory.GetFiles("/proc/self/fd").Length - before) / logs;
            Assert.True(perLog < 1.5, $"{perLog:F2} file descriptors per empty log");
        }
        finally
        {
            opened.ForEach(log => log.Dispose());
        }
    }
}

[CollectionDefinition(nameof(FileDescriptorTests), DisableParallelization = true)]
public sealed class FileDescriptorTestsCollection
{
}
