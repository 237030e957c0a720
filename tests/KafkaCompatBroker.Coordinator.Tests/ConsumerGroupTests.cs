using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>The KIP-848 consumer group state machine (ConsumerGroupHeartbeat) on a fake clock.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class ConsumerGroupTests : IDisposable
{
    private static readonly KafkaUuid Orders = new(1, 1);
    private static readonly KafkaUuid Payments = new(2, 2);
    private readonly ManualTimeProvider _time = new();
    private readonly FakeTopics _topics = new();
    private readonly GroupCoordinator _coordinator;

    public ConsumerGroupTests()
    {
        _topics.Set("orders", Orders, 6);
        _coordinator = Create(new GroupCoordinatorConfig());
    }

    public void Dispose() => _coordinator.Dispose();

    private GroupCoordinator Create(GroupCoordinatorConfig config) =>
        new(config, _ => new InMemoryOffsetStore(), _time, NullLogger<GroupCoordinator>.Instance) { TopicView = _topics };

    private ConsumerGroupHeartbeatResult Join(string memberId, string[]? topics = null, string? instanceId = null, string? regex = null, string? assignor = null, GroupCoordinator? coordinator = null) =>
        (coordinator ?? _coordinator).ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = "g",
            MemberId = memberId,
            MemberEpoch = 0,
            InstanceId = instanceId,
            RebalanceTimeoutMs = 30_000,
            SubscribedTopicNames = regex is null ? topics ?? ["orders"] : topics,
            SubscribedTopicRegex = regex,
            ServerAssignor = assignor,
            TopicPartitions = [],
            ClientId = "client",
            ClientHost = "/127.0.0.1",
        });

    /// <summary>A regular heartbeat reporting what the member owns (null = not sent).</summary>
    private ConsumerGroupHeartbeatResult Heartbeat(string memberId, int epoch, IReadOnlyDictionary<KafkaUuid, SortedSet<int>>? owned, string? instanceId = null) =>
        _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = "g",
            MemberId = memberId,
            MemberEpoch = epoch,
            InstanceId = instanceId,
            TopicPartitions = owned is null ? null : [.. owned.Select(o => new OwnedTopicPartitions(o.Key, [.. o.Value]))],
        });

    private ConsumerGroupHeartbeatResult Leave(string memberId, int epoch = -1, string? instanceId = null) =>
        _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = "g", MemberId = memberId, MemberEpoch = epoch, InstanceId = instanceId });

    private static int[] Partitions(IReadOnlyDictionary<KafkaUuid, SortedSet<int>>? assignment, KafkaUuid? topic = null) =>
        assignment is null ? [] : [.. (topic is { } t ? assignment.GetValueOrDefault(t) ?? [] : assignment.Values.SelectMany(p => p)).Order()];

    /// <summary>A client that keeps what the coordinator last gave it and heartbeats with it, as librdkafka does.</summary>
    private sealed class Client(ConsumerGroupTests test, string memberId)
    {
        public string MemberId { get; } = memberId;

        public int Epoch { get; private set; }

        public Dictionary<KafkaUuid, SortedSet<int>> Owned { get; private set; } = [];

        public ConsumerGroupHeartbeatResult Join(string? instanceId = null)
        {
            var result = test.Join(MemberId, instanceId: instanceId);
            Apply(result);
            return result;
        }

        public ConsumerGroupHeartbeatResult Beat()
        {
            var result = test.Heartbeat(MemberId, Epoch, Owned);
            Apply(result);
            return result;
        }

        private void Apply(ConsumerGroupHeartbeatResult result)
        {
            Assert.Equal(ErrorCode.None, result.Error);
            Epoch = result.MemberEpoch;
            if (result.Assignment is { } assignment)
            {
                Owned = assignment.ToDictionary(a => a.Key, a => new SortedSet<int>(a.Value));
            }
        }
    }

    private static void AssertNoPartitionOwnedTwice(params Client[] clients)
    {
        var all = clients.SelectMany(c => c.Owned.SelectMany(o => o.Value.Select(p => (o.Key, p)))).ToList();
        Assert.Equal(all.Count, all.Distinct().Count());
    }

    [Fact]
    public void Heartbeat_FirstMemberJoins_GetsEveryPartitionAtEpochOne()
    {
        var result = Join("a");

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal("a", result.MemberId);
        Assert.Equal(1, result.MemberEpoch);
        Assert.Equal(5000, result.HeartbeatIntervalMs);
        Assert.Equal([0, 1, 2, 3, 4, 5], Partitions(result.Assignment, Orders));
        Assert.Equal(ConsumerGroupState.Stable, _coordinator.ConsumerGroupStateOf("g"));
    }

    [Fact]
    public void Heartbeat_SecondMemberJoins_PartitionsMoveOnlyAfterRevocation()
    {
        var a = new Client(this, "a");
        var b = new Client(this, "b");
        a.Join();
        b.Join();
        Assert.Equal(2, b.Epoch);
        Assert.Empty(Partitions(b.Owned)); // a still owns everything: nothing can be given yet

        // a learns it must revoke three partitions; it stays in epoch 1 until it acknowledges.
        var revoke = a.Beat();
        Assert.Equal(1, revoke.MemberEpoch);
        Assert.Equal(3, Partitions(revoke.Assignment).Length);
        Assert.Equal(ConsumerGroupState.Reconciling, _coordinator.ConsumerGroupStateOf("g"));

        // b still waits: a has not confirmed the revocation (it heartbeats with its old ownership).
        Assert.Empty(Partitions(_coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams { GroupId = "g", MemberId = "b", MemberEpoch = 2 }).Assignment));

        // a acknowledges (now reports only its three): epoch 2; then b gets the other three.
        Assert.Equal(2, a.Beat().MemberEpoch);
        b.Beat();
        Assert.Equal(3, Partitions(b.Owned).Length);
        AssertNoPartitionOwnedTwice(a, b);
        Assert.Equal(6, Partitions(a.Owned).Length + Partitions(b.Owned).Length);
        Assert.Equal(ConsumerGroupState.Stable, _coordinator.ConsumerGroupStateOf("g"));
    }

    [Fact]
    public void Heartbeat_ThreeMembersJoinAndOneLeaves_NoPartitionEverHasTwoOwners()
    {
        var clients = new[] { new Client(this, "a"), new Client(this, "b"), new Client(this, "c") };
        foreach (var client in clients)
        {
            client.Join();
            AssertNoPartitionOwnedTwice(clients);
        }

        for (var round = 0; round < 4; round++)
        {
            foreach (var client in clients.Reverse())
            {
                client.Beat();
                AssertNoPartitionOwnedTwice(clients);
            }
        }

        Assert.All(clients, c => Assert.Equal(2, Partitions(c.Owned).Length));
        Assert.Equal(ConsumerGroupState.Stable, _coordinator.ConsumerGroupStateOf("g"));

        // c leaves: a and b share its partitions.
        Assert.Equal(-1, Leave("c").MemberEpoch);
        var remaining = clients[..2];
        for (var round = 0; round < 3; round++)
        {
            foreach (var client in remaining)
            {
                client.Beat();
                AssertNoPartitionOwnedTwice(remaining);
            }
        }

        Assert.All(remaining, c => Assert.Equal(3, Partitions(c.Owned).Length));
        Assert.Equal(ErrorCode.UnknownMemberId, Heartbeat("c", 4, null).Error);
    }

    [Fact]
    public void Heartbeat_RevocationNotAcknowledged_MemberFencedAfterRebalanceTimeout()
    {
        var a = new Client(this, "a");
        a.Join();
        Join("b");
        Assert.Equal(1, Heartbeat("a", 1, a.Owned).MemberEpoch); // asked to revoke, never confirms

        _time.Advance(30_000);

        Assert.Equal(ErrorCode.UnknownMemberId, Heartbeat("a", 1, a.Owned).Error);
        var b = Heartbeat("b", 2, new Dictionary<KafkaUuid, SortedSet<int>>());
        Assert.Equal(6, Partitions(b.Assignment).Length);
    }

    [Fact]
    public void Heartbeat_SessionTimeout_MemberFencedAndEpochBumped()
    {
        Join("a");
        var b = Join("b");
        _time.Advance(40_000);
        Heartbeat("b", b.MemberEpoch, null);
        _time.Advance(10_000); // a has been silent for 50 s, b for 10 s

        Assert.Equal(ErrorCode.UnknownMemberId, Heartbeat("a", 1, null).Error);
        var description = _coordinator.DescribeConsumerGroups(["g"])[0];
        Assert.Equal(["b"], description.Members!.Select(m => m.MemberId));
        Assert.Equal(3, description.GroupEpoch);
    }

    [Fact]
    public void Heartbeat_SessionTimerCallbackRunsAfterHeartbeat_MemberKept()
    {
        var a = Join("a");
        _time.Advance(40_000);
        var sessionCallback = _time.HoldNext(); // the session timer fires at 45 s; its callback waits for the lock
        Assert.Equal(ErrorCode.None, Heartbeat("a", a.MemberEpoch, null).Error); // a heartbeat gets the lock first

        sessionCallback();

        Assert.Equal(["a"], _coordinator.DescribeConsumerGroups(["g"])[0].Members!.Select(m => m.MemberId));
        Assert.Equal(ErrorCode.None, Heartbeat("a", a.MemberEpoch, null).Error);
        _time.Advance(45_000);
        Assert.Equal(ErrorCode.UnknownMemberId, Heartbeat("a", a.MemberEpoch, null).Error);
    }

    [Fact]
    public void Heartbeat_WrongEpoch_FencedMemberEpoch()
    {
        Join("a");

        var ahead = Heartbeat("a", 5, null);
        var behind = Heartbeat("a", 0, null);

        Assert.Equal(ErrorCode.FencedMemberEpoch, ahead.Error);
        Assert.StartsWith("The consumer group member has a greater member epoch (5)", ahead.ErrorMessage);
        Assert.Equal(ErrorCode.InvalidRequest, behind.Error); // epoch 0 must be a full join request
    }

    [Fact]
    public void Heartbeat_PreviousEpochWithSubsetOfAssignment_Accepted()
    {
        var a = new Client(this, "a");
        a.Join();
        Join("b");
        a.Beat();
        var owned = new Dictionary<KafkaUuid, SortedSet<int>>(a.Owned);
        a.Beat(); // epoch 2 now; pretend the response was lost

        var retried = Heartbeat("a", 1, owned);

        Assert.Equal(ErrorCode.None, retried.Error);
        Assert.Equal(2, retried.MemberEpoch);
    }

    [Fact]
    public void Heartbeat_StaticMemberLeavesTemporarilyAndRejoins_KeepsItsAssignment()
    {
        var first = Join("a1", instanceId: "i1");
        Join("b");
        var a = Heartbeat("a1", 1, first.Assignment, "i1");
        var kept = Partitions(Heartbeat("a1", a.MemberEpoch, a.Assignment, "i1").Assignment ?? a.Assignment);

        Assert.Equal(-2, Leave("a1", -2, "i1").MemberEpoch);
        var rejoined = Join("a2", instanceId: "i1");

        Assert.Equal(ErrorCode.None, rejoined.Error);
        Assert.Equal(kept, Partitions(rejoined.Assignment));
        Assert.Equal(ErrorCode.UnknownMemberId, Heartbeat("a1", 2, null).Error);
    }

    [Fact]
    public void Heartbeat_InstanceIdStillInUse_UnreleasedInstanceId()
    {
        Join("a1", instanceId: "i1");

        var second = Join("a2", instanceId: "i1");

        Assert.Equal(ErrorCode.UnreleasedInstanceId, second.Error);
        Assert.Equal("Static member a2 with instance id i1 cannot join the group because the instance id is owned by a1 member.", second.ErrorMessage);
    }

    [Fact]
    public void Heartbeat_StaticMemberWithOtherMemberId_FencedInstanceId()
    {
        Join("a1", instanceId: "i1");

        Assert.Equal(ErrorCode.FencedInstanceId, Heartbeat("zz", 1, null, "i1").Error);
        Assert.Equal(ErrorCode.UnknownMemberId, Heartbeat("zz", 1, null, "unknown").Error);
    }

    [Fact]
    public void Heartbeat_StaticMemberSessionExpiresAfterTemporaryLeave_Removed()
    {
        Join("a1", instanceId: "i1");
        Leave("a1", -2, "i1");

        _time.Advance(45_000);

        Assert.Equal(ErrorCode.None, Join("a2", instanceId: "i1").Error);
        Assert.Equal(["a2"], _coordinator.DescribeConsumerGroups(["g"])[0].Members!.Select(m => m.MemberId));
    }

    [Fact]
    public void Heartbeat_RegexSubscription_GetsMatchingTopicsOnly()
    {
        _topics.Set("orders-eu", new KafkaUuid(3, 3), 2);
        _topics.Set("orders-us", new KafkaUuid(4, 4), 1);
        _topics.Set("payments", Payments, 3);

        var result = Join("a", topics: null, regex: "orders-.*");

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal([new KafkaUuid(3, 3), new KafkaUuid(4, 4)], result.Assignment!.Keys.OrderBy(k => k.MostSignificantBits));
    }

    [Fact]
    public void Heartbeat_RegexMatchesNewTopic_GroupEpochBumpedAndAssigned()
    {
        var first = Join("a", topics: null, regex: "pay.*");
        Assert.Empty(Partitions(first.Assignment));

        _topics.Set("payments", Payments, 3);
        var next = Heartbeat("a", first.MemberEpoch, new Dictionary<KafkaUuid, SortedSet<int>>());

        Assert.Equal(first.MemberEpoch + 1, next.MemberEpoch);
        Assert.Equal([0, 1, 2], Partitions(next.Assignment, Payments));
    }

    [Fact]
    public void Heartbeat_InvalidRegex_InvalidRegularExpression()
    {
        var result = Join("a", topics: null, regex: "orders-(");

        Assert.Equal(ErrorCode.InvalidRegularExpression, result.Error);
        Assert.StartsWith("SubscribedTopicRegex `orders-(` is not a valid regular expression: ", result.ErrorMessage);
        Assert.Null(_coordinator.ConsumerGroupStateOf("g"));
    }

    [Fact]
    public void Heartbeat_CatastrophicRegexOverManyTopics_MatchesInLinearTime()
    {
        // With backtracking, (a+)+b against 40 a's takes until the per-match timeout: 200 topics would hold the
        // coordinator's lock for 20 s. RE2J (Kafka) and NonBacktracking match it in linear time.
        for (var i = 0; i < 200; i++)
        {
            _topics.Set(new string('a', 40) + i, new KafkaUuid(100 + i, 1), 1);
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = Join("a", topics: null, regex: "(a+)+b");

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Empty(Partitions(result.Assignment));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"took {clock.Elapsed}");
    }

    [Theory]
    [InlineData(@"(orders)\1")]
    [InlineData("orders(?=-eu)")]
    public void Heartbeat_RegexWithConstructsRe2jLacks_InvalidRegularExpression(string regex)
    {
        var result = Join("a", topics: null, regex: regex);

        Assert.Equal(ErrorCode.InvalidRegularExpression, result.Error);
        Assert.StartsWith($"SubscribedTopicRegex `{regex}` is not a valid regular expression: ", result.ErrorMessage);
    }

    [Fact]
    public void Heartbeat_SubscribedTopicGrows_NewPartitionsAssigned()
    {
        var a = Join("a");
        _topics.Set("orders", Orders, 8);

        var next = Heartbeat("a", a.MemberEpoch, a.Assignment);

        Assert.Equal(2, next.MemberEpoch);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], Partitions(next.Assignment, Orders));
    }

    [Fact]
    public void Heartbeat_EmptyClassicGroupWithOffsets_BecomesConsumerGroup()
    {
        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetCommit("g", -1, "", null, groupIdNotFoundSupported: true));
        Assert.Equal(ClassicGroupState.Empty, _coordinator.GroupState("g"));

        Assert.Equal(ErrorCode.None, Join("a").Error);

        Assert.Null(_coordinator.GroupState("g"));
        Assert.Equal(ConsumerGroupState.Stable, _coordinator.ConsumerGroupStateOf("g"));
    }

    [Fact]
    public void Heartbeat_ClassicGroupWithMalformedSubscription_GroupIdNotFound()
    {
        _ = _coordinator.JoinGroupAsync(new JoinGroupParams
        {
            GroupId = "g",
            SessionTimeoutMs = 10_000,
            RebalanceTimeoutMs = 10_000,
            ProtocolType = "consumer",
            Protocols = [new GroupProtocol("range", [1])],
        });

        var result = Join("a");

        // The online upgrade (Kafka's convertToConsumerGroup) needs the members' embedded consumer protocol.
        Assert.Equal(ErrorCode.GroupIdNotFound, result.Error);
        Assert.Equal("Cannot upgrade the classic group g to consumer group because the embedded consumer protocol is malformed.", result.ErrorMessage);
    }

    [Fact]
    public async Task JoinGroup_ConsumerGroupWithMembersMalformedSubscription_InconsistentGroupProtocol()
    {
        Join("a");
        var join = new JoinGroupParams
        {
            GroupId = "g",
            SessionTimeoutMs = 10_000,
            RebalanceTimeoutMs = 10_000,
            ProtocolType = "consumer",
            Protocols = [new GroupProtocol("range", [1])],
        };

        Assert.Equal(ErrorCode.InconsistentGroupProtocol, (await _coordinator.JoinGroupAsync(join)).Error);

        Leave("a");
        var classic = _coordinator.JoinGroupAsync(join);
        Assert.Null(_coordinator.ConsumerGroupStateOf("g")); // the empty consumer group became a classic group
        Assert.Equal(ClassicGroupState.PreparingRebalance, _coordinator.GroupState("g"));
        _time.Advance(3000);
        Assert.Equal(ErrorCode.None, (await classic).Error);
    }

    [Fact]
    public void Heartbeat_UnknownGroupOrMember_Errors()
    {
        Assert.Equal(ErrorCode.GroupIdNotFound, Heartbeat("a", 1, null).Error);
        Assert.Equal(ErrorCode.GroupIdNotFound, Leave("a").Error);
        Join("a");
        var unknown = Heartbeat("b", 1, null);
        Assert.Equal(ErrorCode.UnknownMemberId, unknown.Error);
        Assert.Equal("Member b is not a member of group g.", unknown.ErrorMessage);
    }

    [Theory]
    [InlineData("", 0, 30_000, true, "GroupId can't be empty.")]
    [InlineData("g", 0, -1, true, "RebalanceTimeoutMs must be provided in first request.")]
    [InlineData("g", 0, 30_000, false, "SubscribedTopicNames or SubscribedTopicRegex must be set in first request.")]
    [InlineData("g", -3, 30_000, true, "MemberEpoch is invalid.")]
    [InlineData("g", -2, 30_000, true, "InstanceId can't be null.")]
    public void Heartbeat_InvalidRequest_InvalidRequestWithKafkaMessage(string groupId, int epoch, int rebalanceTimeout, bool withTopics, string message)
    {
        var result = _coordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = groupId,
            MemberId = "a",
            MemberEpoch = epoch,
            RebalanceTimeoutMs = rebalanceTimeout,
            SubscribedTopicNames = withTopics ? ["orders"] : [],
            TopicPartitions = [],
        });

        Assert.Equal(ErrorCode.InvalidRequest, result.Error);
        Assert.Equal(message, result.ErrorMessage);
    }

    [Fact]
    public void Heartbeat_MissingMemberIdInV1ButNotV0_V0GetsServerMemberId()
    {
        var request = new ConsumerGroupHeartbeatParams { GroupId = "g", RebalanceTimeoutMs = 1000, SubscribedTopicNames = ["orders"], TopicPartitions = [], ApiVersion = 1 };

        Assert.Equal("MemberId can't be empty.", _coordinator.ConsumerGroupHeartbeat(request).ErrorMessage);
        var v0 = _coordinator.ConsumerGroupHeartbeat(request with { ApiVersion = 0 });
        Assert.Equal(ErrorCode.None, v0.Error);
        Assert.Equal(22, v0.MemberId!.Length);
    }

    [Fact]
    public void Heartbeat_GroupFull_GroupMaxSizeReached()
    {
        using var coordinator = Create(new GroupCoordinatorConfig { ConsumerMaxSize = 1 });
        Join("a", coordinator: coordinator);

        var second = Join("b", coordinator: coordinator);

        Assert.Equal(ErrorCode.GroupMaxSizeReached, second.Error);
        Assert.Equal("The consumer group has reached its maximum capacity of 1 members.", second.ErrorMessage);
    }

    [Fact]
    public void Heartbeat_UnknownServerAssignor_UnsupportedAssignor()
    {
        var result = Join("a", assignor: "sticky");

        Assert.Equal(ErrorCode.UnsupportedAssignor, result.Error);
        Assert.Equal("ServerAssignor sticky is not supported. Supported assignors: uniform, range.", result.ErrorMessage);
        Assert.Equal(ErrorCode.None, Join("a", assignor: "range").Error);
        Assert.Equal("range", _coordinator.DescribeConsumerGroups(["g"])[0].AssignorName);
    }

    [Fact]
    public void ValidateOffsetCommit_ConsumerGroupMember_ChecksMemberAndEpoch()
    {
        Join("a");

        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetCommit("g", 1, "a", null, groupIdNotFoundSupported: true));
        Assert.Equal(ErrorCode.StaleMemberEpoch, _coordinator.ValidateOffsetCommit("g", 2, "a", null, groupIdNotFoundSupported: true));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.ValidateOffsetCommit("g", 1, "b", null, groupIdNotFoundSupported: true));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.ValidateOffsetCommit("g", -1, "", null, groupIdNotFoundSupported: true));
        Assert.Equal(ErrorCode.UnsupportedVersion, _coordinator.ValidateOffsetCommit("g", 1, "a", null, groupIdNotFoundSupported: false));
        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetFetch("g", "a", 1));
        Assert.Equal(ErrorCode.StaleMemberEpoch, _coordinator.ValidateOffsetFetch("g", "a", 3));
        Assert.Equal(ErrorCode.UnknownMemberId, _coordinator.ValidateOffsetFetch("g", "b", 1));
        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetFetch("g", null, -1));

        Leave("a");
        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetCommit("g", -1, "", null, groupIdNotFoundSupported: true));
        Assert.Equal(ConsumerGroupState.Empty, _coordinator.ConsumerGroupStateOf("g"));
    }

    [Fact]
    public void DescribeConsumerGroups_StableGroup_MembersWithAssignments()
    {
        Join("a");

        var description = _coordinator.DescribeConsumerGroups(["g", "missing"]);

        Assert.Equal("Stable", description[0].State);
        Assert.Equal(1, description[0].GroupEpoch);
        Assert.Equal(1, description[0].AssignmentEpoch);
        Assert.Equal("uniform", description[0].AssignorName);
        var member = Assert.Single(description[0].Members!);
        Assert.Equal(["orders"], member.SubscribedTopicNames);
        Assert.Equal(6, Partitions(member.Assignment).Length);
        Assert.Equal(6, Partitions(member.TargetAssignment).Length);
        Assert.Equal(ErrorCode.GroupIdNotFound, description[1].Error);
    }

    private sealed class FakeTopics : IGroupTopicView
    {
        private readonly Dictionary<string, GroupTopic> _topics = new(StringComparer.Ordinal);

        public void Set(string name, KafkaUuid id, int partitions) => _topics[name] = new GroupTopic(name, id, partitions);

        public GroupTopic? Topic(string name) => _topics.TryGetValue(name, out var t) ? t : null;

        public GroupTopic? Topic(KafkaUuid id) => _topics.Values.FirstOrDefault(t => t.Id == id) is { Name: not null } t ? t : null;

        public IEnumerable<GroupTopic> AllTopics() => _topics.Values;
    }
}
