using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>The replica manager across a broker restart (a real data dir reopened), so integration.</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ReplicaManagerTests
{
    [Fact]
    public async Task Restart_SurvivingDirectoryOfDeletedTopic_IsNotServedAsTheRecreatedTopic()
    {
        string dataDir;
        string stray = Path.Combine(Path.GetTempPath(), "kcb-stray-" + Guid.NewGuid().ToString("N"));
        Protocol.KafkaUuid newId;
        using (var broker = new TestBroker(keepData: true))
        {
            dataDir = broker.DataDir;
            var oldId = DataPath.CreateTopic(broker, "t");
            await DataPath.ProduceAsync(broker, "t", DataPath.Batch(3));
            Assert.Equal(oldId, broker.Replicas.GetLog("t", 0)!.TopicId);
            CopyDirectory(Path.Combine(dataDir, "t-0"), stray);

            Assert.True(broker.Metadata.DeleteTopic("t").IsSuccess);
            newId = DataPath.CreateTopic(broker, "t");
            Assert.NotEqual(oldId, newId);
            await broker.Logs.WhenDeletionsComplete().WaitAsync(TimeSpan.FromSeconds(10));
        }

        // As after a crash that kept the deleted topic's directory and lost the new one's.
        Directory.Delete(Path.Combine(dataDir, "t-0"), recursive: true);
        Directory.Move(stray, Path.Combine(dataDir, "t-0"));

        using var restarted = new TestBroker(dataDir: dataDir);
        var log = restarted.Replicas.GetLog("t", 0)!;
        await restarted.Logs.WhenDeletionsComplete().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal((newId, 0L), (log.TopicId, log.LogEndOffset));
        Assert.DoesNotContain(Directory.GetDirectories(dataDir), d => Path.GetFileName(d).EndsWith(LogManager.DeleteDirSuffix, StringComparison.Ordinal));
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
