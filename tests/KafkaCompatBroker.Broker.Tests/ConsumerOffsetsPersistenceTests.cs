using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.GroupCoordinatorRecords;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>Offsets and groups written to __consumer_offsets and read back after a restart.</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ConsumerOffsetsPersistenceTests : IDisposable
{
    private const string Config = "group.initial.rebalance.delay.ms=0";
    private readonly List<string> _dirs = [];

    public void Dispose()
    {
        foreach (var dir in _dirs)
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private TestBroker Start(string? dataDir = null, string extraConfig = "")
    {
        var broker = new TestBroker($"{Config}\n{extraConfig}", dataDir, keepData: true);
        if (dataDir is null)
        {
            _dirs.Add(broker.DataDir);
        }

        return broker;
    }

    [Theory]
    [InlineData("my-group", 36)]
    [InlineData("test-consumer-group", 17)]
    [InlineData("console-consumer-12345", 6)]
    [InlineData("ü-group", 12)]
    public void PartitionFor_MatchesJavaStringHashCode(string groupId, int expected)
    {
        // Expected values computed with java.lang.String.hashCode (jshell): Kafka's placement.
        Assert.Equal(expected, ConsumerOffsetsTopic.PartitionFor(groupId, 50));
    }

    [Fact]
    public async Task FindCoordinator_FirstGroupLookup_CreatesInternalCompactedTopic()
    {
        using var broker = Start(extraConfig: "offsets.topic.num.partitions=7");
        Assert.Null(broker.Metadata.Image.GetTopic(ConsumerOffsetsTopic.Name));

        var found = await BrokerExchange.SendAsync<FindCoordinatorResponse>(broker, ApiKey.FindCoordinator, 3, new FindCoordinatorRequest { Key = "g", KeyType = 0 });

        Assert.Equal(0, found.ErrorCode);
        var topic = broker.Metadata.Image.GetTopic(ConsumerOffsetsTopic.Name);
        Assert.NotNull(topic);
        Assert.Equal(7, topic.Partitions.Count);
        Assert.Equal("compact", broker.Replicas.ConfigFor(ConsumerOffsetsTopic.Name).CleanupPolicy.ToString().ToLowerInvariant());
        var metadata = await BrokerExchange.SendAsync<MetadataResponse>(broker, ApiKey.Metadata, 12, new MetadataRequest { Topics = null });
        Assert.True(Assert.Single(metadata.Topics, t => t.Name == ConsumerOffsetsTopic.Name).IsInternal);
    }

    [Fact]
    public async Task OffsetCommit_ThenRestart_OffsetMetadataAndLeaderEpochSurvive()
    {
        string dir;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            var commit = await GroupFlow.CommitAsync(broker, "g", -1, "", "t", 42, version: 8);
            Assert.Equal(0, Assert.Single(Assert.Single(commit.Topics).Partitions).ErrorCode);
            await GroupFlow.CommitAsync(broker, "g", -1, "", "t", 43, version: 8);
        }

        using var restarted = Start(dir);
        var fetched = Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(restarted, "g", "t", 0)).Topics).Partitions);
        Assert.Equal((43L, 3, "meta"), (fetched.CommittedOffset, fetched.CommittedLeaderEpoch, fetched.Metadata));
        Assert.Equal(ClassicGroupState.Empty, restarted.Context.GroupCoordinator.GroupState("g"));
    }

    [Fact]
    public async Task StableGroup_ThenRestart_MemberKeepsGenerationAndAssignment()
    {
        string dir;
        string member;
        int generation;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            (member, generation) = await GroupFlow.StableMemberAsync(broker, "g");
        }

        using var restarted = Start(dir);
        Assert.Equal(ClassicGroupState.Stable, restarted.Context.GroupCoordinator.GroupState("g"));
        Assert.Equal(0, (await GroupFlow.HeartbeatAsync(restarted, "g", generation, member)).ErrorCode);
        var sync = await GroupFlow.SyncAsync(restarted, "g", generation, member);
        Assert.Equal(0, sync.ErrorCode);
        Assert.Equal(GroupFlow.Assignment, sync.Assignment);
        Assert.Equal("range", sync.ProtocolName);
    }

    [Fact]
    public async Task GroupWhoseMembersLeft_ThenRestart_IsEmptyWithItsOffsets()
    {
        string dir;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            var (member, generation) = await GroupFlow.StableMemberAsync(broker, "g");
            await GroupFlow.CommitAsync(broker, "g", generation, member, "t", 5);
            await GroupFlow.LeaveAsync(broker, "g", member);
            await GroupFlow.WaitForStateAsync(broker, "g", ClassicGroupState.Empty);
        }

        using var restarted = Start(dir);
        Assert.Equal(ClassicGroupState.Empty, restarted.Context.GroupCoordinator.GroupState("g"));
        Assert.Equal(5, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(restarted, "g", "t", 0)).Topics).Partitions).CommittedOffset);
        Assert.Equal(ErrorCode.UnknownMemberId, (ErrorCode)(await GroupFlow.HeartbeatAsync(restarted, "g", 1, "gone")).ErrorCode);
    }

    [Fact]
    public async Task DeleteGroupsAndOffsetDelete_ThenRestart_StayDeleted()
    {
        string dir;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            broker.Metadata.CreateTopic("t", 1);
            await GroupFlow.CommitAsync(broker, "gone", -1, "", "t", 1, version: 8);
            await GroupFlow.CommitAsync(broker, "kept", -1, "", "t", 2, version: 8);
            await GroupFlow.CommitAsync(broker, "kept", -1, "", "u", 3, version: 8);
            var deleted = await BrokerExchange.SendAsync<DeleteGroupsResponse>(broker, ApiKey.DeleteGroups, 2, new DeleteGroupsRequest { GroupsNames = ["gone"] });
            Assert.Equal(0, Assert.Single(deleted.Results).ErrorCode);
            var offsetDelete = await BrokerExchange.SendAsync<OffsetDeleteResponse>(broker, ApiKey.OffsetDelete, 0, new OffsetDeleteRequest
            {
                GroupId = "kept",
                Topics = [new OffsetDeleteRequest.OffsetDeleteRequestTopic { Name = "t", Partitions = [new OffsetDeleteRequest.OffsetDeleteRequestPartition { PartitionIndex = 0 }] }],
            });
            Assert.Equal(0, offsetDelete.ErrorCode);
            Assert.Equal(0, Assert.Single(Assert.Single(offsetDelete.Topics).Partitions).ErrorCode);
        }

        using var restarted = Start(dir);
        Assert.Null(restarted.Context.GroupCoordinator.GroupState("gone"));
        Assert.Equal(-1, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(restarted, "gone", "t", 0)).Topics).Partitions).CommittedOffset);
        Assert.Equal(-1, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(restarted, "kept", "t", 0)).Topics).Partitions).CommittedOffset);
        Assert.Equal(3, Assert.Single(Assert.Single((await GroupFlow.FetchV7Async(restarted, "kept", "u", 0)).Topics).Partitions).CommittedOffset);
    }

    [Fact]
    public async Task OffsetCommit_WritesKafkaRecordFormats()
    {
        using var broker = Start();
        await GroupFlow.CommitAsync(broker, "my-group", -1, "", "t", 42, version: 8);

        var records = ReadRecords(broker, ConsumerOffsetsTopic.PartitionFor("my-group", 50));

        var (key, value) = Assert.Single(records);
        Assert.Equal(1, BinaryPrimitives.ReadInt16BigEndian(key)); // OffsetCommitKey version 1
        var decodedKey = Decode<OffsetCommitKey>(key);
        Assert.Equal(("my-group", "t", 0), (decodedKey.group, decodedKey.topic, decodedKey.partition));
        Assert.Equal(3, BinaryPrimitives.ReadInt16BigEndian(value)); // OffsetCommitValue version 3
        var decodedValue = Decode<OffsetCommitValue>(value!);
        Assert.Equal((42L, 3, "meta"), (decodedValue.offset, decodedValue.leaderEpoch, decodedValue.metadata));
        Assert.InRange(decodedValue.commitTimestamp, DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeMilliseconds(), DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task SyncGroup_WritesGroupMetadataRecordWithMembersAndAssignment()
    {
        using var broker = Start();
        var (member, generation) = await GroupFlow.StableMemberAsync(broker, "my-group");

        var records = ReadRecords(broker, ConsumerOffsetsTopic.PartitionFor("my-group", 50));

        var (key, value) = records[^1];
        Assert.Equal(2, BinaryPrimitives.ReadInt16BigEndian(key)); // GroupMetadataKey version 2
        Assert.Equal(3, BinaryPrimitives.ReadInt16BigEndian(value)); // GroupMetadataValue version 3
        var group = Decode<GroupMetadataValue>(value!);
        Assert.Equal(("consumer", generation, "range", member), (group.protocolType, group.generation, group.protocol, group.leader));
        var stored = Assert.Single(group.members);
        Assert.Equal(member, stored.memberId);
        Assert.Equal(GroupFlow.Subscription, stored.subscription);
        Assert.Equal(GroupFlow.Assignment, stored.assignment);
    }

    private static List<(byte[] Key, byte[]? Value)> ReadRecords(TestBroker broker, int partition)
    {
        var result = new List<(byte[], byte[]?)>();
        using var scratch = new PooledBufferWriter();
        broker.Replicas.GetLog(ConsumerOffsetsTopic.Name, partition)!.ForEachBatch(0, (ReadOnlySpan<byte> batch, in RecordBatchHeader header) =>
        {
            var reader = RecordBatch.ReadRecords(batch, scratch, 1 << 20);
            while (reader.MoveNext())
            {
                result.Add((reader.Current.Key.ToArray(), reader.Current.IsValueNull ? null : reader.Current.Value.ToArray()));
            }
        });
        return result;
    }

    private static T Decode<T>(byte[] bytes)
        where T : IKafkaMessage, new()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 2, bytes.Length - 2));
        var message = new T();
        message.Read(ref reader, BinaryPrimitives.ReadInt16BigEndian(bytes));
        Assert.True(reader.End);
        return message;
    }
}
