using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Time.Testing;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>KIP-848 consumer groups written to __consumer_offsets and restored after a broker restart.</summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ConsumerGroupPersistenceTests : IDisposable
{
    private readonly List<string> _dirs = [];

    public void Dispose()
    {
        foreach (var dir in _dirs)
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private TestBroker Start(string? dataDir = null, string config = "", TimeProvider? time = null)
    {
        var broker = new TestBroker(config, dataDir, keepData: true, time: time);
        if (dataDir is null)
        {
            _dirs.Add(broker.DataDir);
        }

        return broker;
    }

    private static async Task<ConsumerGroupDescribeResponse.DescribedGroup> DescribeAsync(TestBroker broker, short version = 1) =>
        Assert.Single((await BrokerExchange.SendAsync<ConsumerGroupDescribeResponse>(
            broker, ApiKey.ConsumerGroupDescribe, version, new ConsumerGroupDescribeRequest { GroupIds = ["g"] })).Groups);

    private static ConsumerGroupHeartbeatRequest Beat(string memberId, int epoch, KafkaUuid topicId, List<int> owned) => new()
    {
        GroupId = "g",
        MemberId = memberId,
        MemberEpoch = epoch,
        TopicPartitions = [new ConsumerGroupHeartbeatRequest.TopicPartitionsData { TopicId = topicId, Partitions = owned }],
    };

    [Fact]
    public async Task ConsumerGroupHeartbeat_BrokerRestarts_MemberKeepsEpochAndAssignment()
    {
        string dir;
        KafkaUuid topicId;
        int groupEpoch;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            topicId = DataPath.CreateTopic(broker, "t", partitions: 3);
            var join = await ConsumerFlow.HeartbeatAsync(broker, ConsumerFlow.JoinRequest("g", "m1"));
            Assert.Equal((0, 1), (join.ErrorCode, join.MemberEpoch));
            Assert.Equal(0, (await ConsumerFlow.HeartbeatAsync(broker, Beat("m1", 1, topicId, [0, 1, 2]))).ErrorCode);
            groupEpoch = (await DescribeAsync(broker)).GroupEpoch;
        }

        using var restarted = Start(dir);
        var beat = await ConsumerFlow.HeartbeatAsync(restarted, Beat("m1", 1, topicId, [0, 1, 2]));

        Assert.Equal((0, "m1", 1), (beat.ErrorCode, beat.MemberId, beat.MemberEpoch));
        Assert.Null(beat.Assignment); // nothing changed: no new assignment
        foreach (var version in (short[])[0, 1])
        {
            var group = await DescribeAsync(restarted, version);
            Assert.Equal((0, "Stable", groupEpoch, groupEpoch), (group.ErrorCode, group.GroupState, group.GroupEpoch, group.AssignmentEpoch));
            var member = Assert.Single(group.Members);
            Assert.Equal(("m1", 1, "test"), (member.MemberId, member.MemberEpoch, member.ClientId));
            Assert.Equal([0, 1, 2], Assert.Single(member.Assignment.TopicPartitions).Partitions);
        }

        // A full heartbeat (as after a client reconnects) hands the same partitions back.
        var full = Beat("m1", 1, topicId, [0, 1, 2]);
        full.RebalanceTimeoutMs = 30_000;
        full.SubscribedTopicNames = ["t"];
        var fullBeat = await ConsumerFlow.HeartbeatAsync(restarted, full);
        Assert.Equal((0, 1), (fullBeat.ErrorCode, fullBeat.MemberEpoch));
        Assert.Equal([0, 1, 2], Assert.Single(fullBeat.Assignment!.TopicPartitions).Partitions);
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_MemberLeftBeforeRestart_GroupRestoredEmpty()
    {
        string dir;
        using (var broker = Start())
        {
            dir = broker.DataDir;
            DataPath.CreateTopic(broker, "t");
            await ConsumerFlow.HeartbeatAsync(broker, ConsumerFlow.JoinRequest("g", "m1"));
            Assert.Equal(0, (await ConsumerFlow.HeartbeatAsync(broker, new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "m1", MemberEpoch = -1 })).ErrorCode);
        }

        using var restarted = Start(dir);

        var group = await DescribeAsync(restarted);
        Assert.Equal((0, "Empty", 2), (group.ErrorCode, group.GroupState, group.GroupEpoch));
        Assert.Empty(group.Members);
        var stale = await ConsumerFlow.HeartbeatAsync(restarted, new ConsumerGroupHeartbeatRequest { GroupId = "g", MemberId = "m1", MemberEpoch = 1 });
        Assert.Equal((short)ErrorCode.UnknownMemberId, stale.ErrorCode);
    }

    [Fact]
    public async Task ConsumerGroupHeartbeat_MemberDoesNotReturnAfterRestart_FencedAndOthersTakeItsPartitions()
    {
        // Both brokers run on a fake clock: m2's session runs out only when the test moves time, however slow the machine.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        const string Config = "group.consumer.session.timeout.ms=1500\ngroup.consumer.heartbeat.interval.ms=200\ngroup.consumer.min.session.timeout.ms=1000\ngroup.consumer.min.heartbeat.interval.ms=100";
        string dir;
        KafkaUuid topicId;
        using (var broker = Start(config: Config, time: clock))
        {
            dir = broker.DataDir;
            topicId = DataPath.CreateTopic(broker, "t", partitions: 2);
            await ConsumerFlow.HeartbeatAsync(broker, ConsumerFlow.JoinRequest("g", "m1"));
            await ConsumerFlow.HeartbeatAsync(broker, ConsumerFlow.JoinRequest("g", "m2"));
        }

        using var restarted = Start(dir, Config, clock);
        var before = await DescribeAsync(restarted);
        Assert.Equal(2, before.Members.Count);

        // Only m1 comes back, heartbeating every 200 ms of the fake clock; m2's session (restarted at load) runs out
        // after 1.5 s and it is fenced. 30 heartbeats are 6 s: far more than fencing and two reassignments need.
        var m1Epoch = before.Members.Single(m => m.MemberId == "m1").MemberEpoch;
        var owned = before.Members.Single(m => m.MemberId == "m1").Assignment.TopicPartitions.SelectMany(t => t.Partitions).ToList();
        ConsumerGroupDescribeResponse.DescribedGroup group;
        var beats = 0;
        do
        {
            var beat = await ConsumerFlow.HeartbeatAsync(restarted, Beat("m1", m1Epoch, topicId, owned));
            Assert.Equal(0, beat.ErrorCode);
            m1Epoch = beat.MemberEpoch;
            if (beat.Assignment is { } assignment)
            {
                owned = [.. assignment.TopicPartitions.SelectMany(t => t.Partitions)];
            }

            clock.Advance(TimeSpan.FromMilliseconds(200));
            group = await DescribeAsync(restarted);
        }
        while ((group.Members.Count > 1 || owned.Count < 2) && ++beats < 30);

        Assert.Equal("m1", Assert.Single(group.Members).MemberId);
        Assert.Equal(before.GroupEpoch + 1, group.GroupEpoch);
        Assert.Equal([0, 1], owned.Order());
    }
}
