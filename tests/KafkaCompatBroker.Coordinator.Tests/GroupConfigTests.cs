using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>KIP-848 group configs (consumer.session.timeout.ms, consumer.heartbeat.interval.ms) on a fake clock.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class GroupConfigTests : IDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly FakeGroupConfigs _configs = new();
    private readonly GroupCoordinator _coordinator;

    public GroupConfigTests()
    {
        var topics = new OneTopic();
        _coordinator = new GroupCoordinator(new GroupCoordinatorConfig(), _ => new InMemoryOffsetStore(), _time, NullLogger<GroupCoordinator>.Instance)
        {
            TopicView = topics,
            GroupConfigs = _configs,
        };
    }

    public void Dispose() => _coordinator.Dispose();

    private ConsumerGroupHeartbeatResult Join(string groupId, string memberId) =>
        _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = groupId,
            MemberId = memberId,
            MemberEpoch = 0,
            RebalanceTimeoutMs = 30_000,
            SubscribedTopicNames = ["orders"],
            TopicPartitions = [],
            ClientId = "client",
            ClientHost = "/127.0.0.1",
        });

    private ConsumerGroupHeartbeatResult Heartbeat(string groupId, string memberId, int epoch) =>
        _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = groupId, MemberId = memberId, MemberEpoch = epoch });

    [Fact]
    public void ConsumerGroupHeartbeat_GroupConfigHeartbeatInterval_IsAnsweredForThatGroupOnly()
    {
        _configs.HeartbeatIntervalMs["g"] = 7_000;

        Assert.Equal(7_000, Join("g", "a").HeartbeatIntervalMs);
        Assert.Equal(5_000, Join("other", "a").HeartbeatIntervalMs);

        // A change applies from the next heartbeat on.
        _configs.HeartbeatIntervalMs["g"] = 9_000;
        Assert.Equal(9_000, Heartbeat("g", "a", 1).HeartbeatIntervalMs);
    }

    [Fact]
    public void ConsumerGroupHeartbeat_GroupConfigSessionTimeout_FencesSilentMemberAtTheGroupsTimeout()
    {
        _configs.SessionTimeoutMs["g"] = 50_000;
        Join("g", "a");
        Join("other", "a");

        _time.Advance(46_000); // past the broker's 45 s, within the group's 50 s
        Assert.Equal(ErrorCode.None, Heartbeat("g", "a", 1).Error);
        Assert.Equal(ErrorCode.UnknownMemberId, Heartbeat("other", "a", 1).Error);

        _time.Advance(50_000);
        Assert.Equal(ErrorCode.UnknownMemberId, Heartbeat("g", "a", 1).Error);
    }

    private sealed class FakeGroupConfigs : IGroupConfigView
    {
        public Dictionary<string, int> SessionTimeoutMs { get; } = [];

        public Dictionary<string, int> HeartbeatIntervalMs { get; } = [];

        public int? ConsumerSessionTimeoutMs(string groupId) => SessionTimeoutMs.TryGetValue(groupId, out var ms) ? ms : null;

        public int? ConsumerHeartbeatIntervalMs(string groupId) => HeartbeatIntervalMs.TryGetValue(groupId, out var ms) ? ms : null;
    }

    private sealed class OneTopic : IGroupTopicView
    {
        private static readonly GroupTopic Orders = new("orders", new KafkaUuid(1, 1), 3);

        public GroupTopic? Topic(string name) => name == Orders.Name ? Orders : null;

        public GroupTopic? Topic(KafkaUuid id) => id == Orders.Id ? Orders : null;

        public IEnumerable<GroupTopic> AllTopics() => [Orders];
    }
}
