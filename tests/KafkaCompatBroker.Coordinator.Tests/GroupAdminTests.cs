using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Coordinator.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class GroupAdminTests : IDisposable
{
    private readonly ManualTimeProvider _time = new();
    private readonly GroupCoordinator _coordinator;

    public GroupAdminTests()
    {
        _coordinator = new GroupCoordinator(new GroupCoordinatorConfig { InitialRebalanceDelayMs = 0 }, _ => new InMemoryOffsetStore(), _time, NullLogger<GroupCoordinator>.Instance);
    }

    public void Dispose() => _coordinator.Dispose();

    /// <summary>A ConsumerProtocolSubscription as a consumer sends it: int16 version, then the body of that version.</summary>
    private static byte[] Subscription(short version, params string[] topics)
    {
        var buffer = new ArrayBufferWriter<byte>();
        buffer.Write([(byte)(version >> 8), (byte)version]);
        new ConsumerProtocolSubscription { Topics = [.. topics], RackId = version >= 3 ? "rack" : null }.Write(buffer, version);
        return buffer.WrittenSpan.ToArray();
    }

    private static JoinGroupParams Join(string group, string memberId = "", string protocolType = "consumer", byte[]? metadata = null, string? instanceId = null) => new()
    {
        GroupId = group,
        MemberId = memberId,
        GroupInstanceId = instanceId,
        ClientId = "client",
        ClientHost = "/10.0.0.1",
        SessionTimeoutMs = 10_000,
        RebalanceTimeoutMs = 30_000,
        ProtocolType = protocolType,
        Protocols = [new GroupProtocol("range", metadata ?? Subscription(1, "t"))],
    };

    /// <summary>One member joins, the (0 ms) initial delay passes, the member syncs its assignment: Stable.</summary>
    private async Task<string> StableGroupAsync(string group, string protocolType = "consumer", byte[]? metadata = null, string? instanceId = null)
    {
        var join = _coordinator.JoinGroupAsync(Join(group, "", protocolType, metadata, instanceId)).AsTask();
        _time.Advance(0);
        var joined = await join;
        Assert.Equal(ErrorCode.None, joined.Error);
        var sync = await _coordinator.SyncGroupAsync(group, joined.GenerationId, joined.MemberId, null, null, null, [new(joined.MemberId, [7, 7])]);
        Assert.Equal(ErrorCode.None, sync.Error);
        return joined.MemberId;
    }

    private void Commit(string group, string topic, int partition, long offset) =>
        Assert.Equal(ErrorCode.None, _coordinator.CommitOffsets(group, [new OffsetToCommit(new TopicPartition(topic, partition), offset, -1, "")]));

    /// <summary>A simple consumer (no membership) commits: the coordinator creates an empty group for it.</summary>
    private void SimpleCommit(string group, string topic, int partition, long offset)
    {
        Assert.Equal(ErrorCode.None, _coordinator.ValidateOffsetCommit(group, -1, "", null, groupIdNotFoundSupported: true));
        Commit(group, topic, partition, offset);
    }

    private static (string, IReadOnlyList<int>) Topic(string name, params int[] partitions) => (name, partitions);

    // ---------------------------------------------------------------- ListGroups

    [Fact]
    public void ListGroups_NoGroups_Empty()
    {
        Assert.Empty(_coordinator.ListGroups([], []));
    }

    [Fact]
    public async Task ListGroups_ClassicSimpleAndOffsetOnlyGroups_AllListedWithStateAndType()
    {
        await StableGroupAsync("stable");
        SimpleCommit("simple", "t", 0, 5);
        _coordinator.Offsets.Commit("restored", new TopicPartition("t", 0), new CommittedOffset(1, -1, "", 0));

        var groups = _coordinator.ListGroups([], []);

        Assert.Equal(
            [
                new ListedGroup("restored", "", "Empty", "classic"),
                new ListedGroup("simple", "", "Empty", "classic"),
                new ListedGroup("stable", "consumer", "Stable", "classic"),
            ],
            groups);
    }

    [Fact]
    public async Task ListGroups_EveryRebalanceState_NamedAsKafka()
    {
        var member = await StableGroupAsync("g");
        Assert.Equal("Stable", Assert.Single(_coordinator.ListGroups([], [])).State);

        var second = _coordinator.JoinGroupAsync(Join("g")).AsTask();
        Assert.Equal("PreparingRebalance", Assert.Single(_coordinator.ListGroups([], [])).State);

        var rejoin = _coordinator.JoinGroupAsync(Join("g", member)).AsTask();
        await Task.WhenAll(second, rejoin);
        Assert.Equal("CompletingRebalance", Assert.Single(_coordinator.ListGroups([], [])).State);
    }

    [Fact]
    public async Task ListGroups_LastMemberLeft_EmptyKeepsProtocolType()
    {
        var member = await StableGroupAsync("g");

        Assert.Equal(ErrorCode.None, _coordinator.LeaveGroup("g", [new LeavingMember(member, null)]).Members[0].Error);
        _time.Advance(0);

        Assert.Equal(new ListedGroup("g", "consumer", "Empty", "classic"), Assert.Single(_coordinator.ListGroups([], [])));
    }

    [Theory]
    [InlineData("Stable", "stable")]
    [InlineData("  STABLE ", "stable")]
    [InlineData("empty", "simple")]
    [InlineData("Dead", null)]
    [InlineData("bogus", null)]
    public async Task ListGroups_StatesFilter_CaseInsensitiveTrimmed(string filter, string? expected)
    {
        await StableGroupAsync("stable");
        SimpleCommit("simple", "t", 0, 5);

        var groups = _coordinator.ListGroups([filter], []);

        Assert.Equal(expected is null ? [] : [expected], groups.Select(g => g.GroupId));
    }

    [Fact]
    public async Task ListGroups_SeveralStates_Union()
    {
        await StableGroupAsync("stable");
        SimpleCommit("simple", "t", 0, 5);

        Assert.Equal(["simple", "stable"], _coordinator.ListGroups(["Empty", "Stable"], []).Select(g => g.GroupId));
    }

    [Theory]
    [InlineData("classic", 2)]
    [InlineData("Classic", 2)]
    [InlineData("consumer", 0)]
    [InlineData("share", 0)]
    [InlineData("unknown", 0)]
    [InlineData(" classic", 0)]
    public async Task ListGroups_TypesFilter_CaseInsensitive(string filter, int expected)
    {
        await StableGroupAsync("stable");
        SimpleCommit("simple", "t", 0, 5);

        Assert.Equal(expected, _coordinator.ListGroups([], [filter]).Count);
    }

    [Fact]
    public async Task ListGroups_StateAndTypeFilters_BothMustMatch()
    {
        await StableGroupAsync("stable");
        SimpleCommit("simple", "t", 0, 5);

        Assert.Equal(["stable"], _coordinator.ListGroups(["stable"], ["classic"]).Select(g => g.GroupId));
        Assert.Empty(_coordinator.ListGroups(["stable"], ["consumer"]));
    }

    // ---------------------------------------------------------------- DescribeGroups

    [Fact]
    public async Task DescribeGroups_StableGroup_ProtocolMembersMetadataAndAssignment()
    {
        var metadata = Subscription(1, "t");
        var member = await StableGroupAsync("g", metadata: metadata, instanceId: "instance-1");

        var described = Assert.Single(_coordinator.DescribeGroups(["g"]));

        Assert.Equal(("g", ErrorCode.None, (string?)null, "Stable", "consumer", "range"), (described.GroupId, described.Error, described.ErrorMessage, described.State, described.ProtocolType, described.ProtocolData));
        var m = Assert.Single(described.Members);
        Assert.Equal((member, "instance-1", "client", "/10.0.0.1"), (m.MemberId, m.GroupInstanceId, m.ClientId, m.ClientHost));
        Assert.Equal(metadata, m.Metadata);
        Assert.Equal(new byte[] { 7, 7 }, m.Assignment);
    }

    [Fact]
    public async Task DescribeGroups_CompletingRebalance_NoProtocolNoMetadata()
    {
        var join = _coordinator.JoinGroupAsync(Join("g")).AsTask();
        _time.Advance(0);
        var joined = await join;

        var described = Assert.Single(_coordinator.DescribeGroups(["g"]));

        Assert.Equal(("CompletingRebalance", "consumer", ""), (described.State, described.ProtocolType, described.ProtocolData));
        var m = Assert.Single(described.Members);
        Assert.Equal(joined.MemberId, m.MemberId);
        Assert.Empty(m.Metadata);
        Assert.Empty(m.Assignment);
    }

    [Fact]
    public async Task DescribeGroups_PreparingRebalance_MembersKeepAssignmentWithoutMetadata()
    {
        await StableGroupAsync("g");
        _ = _coordinator.JoinGroupAsync(Join("g"));

        var described = Assert.Single(_coordinator.DescribeGroups(["g"]));

        Assert.Equal(("PreparingRebalance", ""), (described.State, described.ProtocolData));
        Assert.Equal(2, described.Members.Count);
        Assert.Equal(new byte[] { 7, 7 }, described.Members[0].Assignment);
        Assert.All(described.Members, m => Assert.Empty(m.Metadata));
    }

    [Fact]
    public void DescribeGroups_UnknownGroup_GroupIdNotFoundDead()
    {
        var described = Assert.Single(_coordinator.DescribeGroups(["nope"]));

        Assert.Equal(("nope", ErrorCode.GroupIdNotFound, "Group nope not found.", "Dead", "", ""), (described.GroupId, described.Error, described.ErrorMessage, described.State, described.ProtocolType, described.ProtocolData));
        Assert.Empty(described.Members);
    }

    [Fact]
    public void DescribeGroups_OffsetsOnly_EmptySimpleGroup()
    {
        _coordinator.Offsets.Commit("restored", new TopicPartition("t", 0), new CommittedOffset(1, -1, "", 0));

        var described = Assert.Single(_coordinator.DescribeGroups(["restored"]));

        Assert.Equal((ErrorCode.None, "Empty", "", ""), (described.Error, described.State, described.ProtocolType, described.ProtocolData));
        Assert.Empty(described.Members);
    }

    [Fact]
    public async Task DescribeGroups_SeveralIds_AnsweredInRequestOrder()
    {
        await StableGroupAsync("g");

        var described = _coordinator.DescribeGroups(["x", "g", "x"]);

        Assert.Equal(["x", "g", "x"], described.Select(d => d.GroupId));
        Assert.Equal([ErrorCode.GroupIdNotFound, ErrorCode.None, ErrorCode.GroupIdNotFound], described.Select(d => d.Error));
    }

    // ---------------------------------------------------------------- DeleteGroups

    [Fact]
    public async Task DeleteGroups_EmptyGroup_RemovesGroupAndOffsets()
    {
        var member = await StableGroupAsync("g");
        Commit("g", "t", 0, 42);
        _coordinator.LeaveGroup("g", [new LeavingMember(member, null)]);
        _time.Advance(0);

        var result = _coordinator.DeleteGroups(["g"]);

        Assert.Equal([("g", ErrorCode.None)], result);
        Assert.Null(_coordinator.GroupState("g"));
        Assert.False(_coordinator.Offsets.HasOffsets("g"));
        Assert.Empty(_coordinator.ListGroups([], []));
        Assert.Equal(ErrorCode.GroupIdNotFound, Assert.Single(_coordinator.DescribeGroups(["g"])).Error);
    }

    [Fact]
    public async Task DeleteGroups_GroupWithMembers_NonEmptyGroup()
    {
        await StableGroupAsync("g");
        Commit("g", "t", 0, 42);

        Assert.Equal([("g", ErrorCode.NonEmptyGroup)], _coordinator.DeleteGroups(["g"]));
        Assert.Equal(ClassicGroupState.Stable, _coordinator.GroupState("g"));
        Assert.True(_coordinator.Offsets.HasOffsets("g"));
    }

    [Fact]
    public async Task DeleteGroups_RebalancingGroup_NonEmptyGroup()
    {
        await StableGroupAsync("g");
        _ = _coordinator.JoinGroupAsync(Join("g"));

        Assert.Equal([("g", ErrorCode.NonEmptyGroup)], _coordinator.DeleteGroups(["g"]));
    }

    [Fact]
    public void DeleteGroups_UnknownGroup_GroupIdNotFound()
    {
        Assert.Equal([("nope", ErrorCode.GroupIdNotFound), ("", ErrorCode.GroupIdNotFound)], _coordinator.DeleteGroups(["nope", ""]));
    }

    [Fact]
    public void DeleteGroups_SimpleAndOffsetOnlyGroups_Deleted()
    {
        SimpleCommit("simple", "t", 0, 5);
        SimpleCommit("", "t", 0, 6);
        _coordinator.Offsets.Commit("restored", new TopicPartition("t", 0), new CommittedOffset(1, -1, "", 0));

        var result = _coordinator.DeleteGroups(["simple", "restored", ""]);

        Assert.Equal([("simple", ErrorCode.None), ("restored", ErrorCode.None), ("", ErrorCode.None)], result);
        Assert.Empty(_coordinator.ListGroups([], []));
        Assert.Empty(_coordinator.Offsets.GroupIds());
    }

    [Fact]
    public void DeleteGroups_DuplicateIds_AnsweredOnce()
    {
        SimpleCommit("simple", "t", 0, 5);

        Assert.Equal([("simple", ErrorCode.None), ("other", ErrorCode.GroupIdNotFound)], _coordinator.DeleteGroups(["simple", "other", "simple"]));
    }

    [Fact]
    public async Task DeleteGroups_PendingMemberIdHandedOut_RejoinIsUnknownMember()
    {
        var first = await _coordinator.JoinGroupAsync(Join("g") with { RequireKnownMemberId = true });
        Assert.Equal(ErrorCode.MemberIdRequired, first.Error);

        Assert.Equal([("g", ErrorCode.None)], _coordinator.DeleteGroups(["g"]));
        _time.Advance(20_000); // the pending member's timer was cancelled with the group

        Assert.Equal(ErrorCode.UnknownMemberId, (await _coordinator.JoinGroupAsync(Join("g", first.MemberId) with { RequireKnownMemberId = true })).Error);
    }

    [Fact]
    public async Task DeleteGroups_ThenJoinAgain_NewGroupStartsAtGeneration1()
    {
        SimpleCommit("g", "t", 0, 5);
        Assert.Equal([("g", ErrorCode.None)], _coordinator.DeleteGroups(["g"]));

        var join = _coordinator.JoinGroupAsync(Join("g")).AsTask();
        _time.Advance(0);

        Assert.Equal((ErrorCode.None, 1), ((await join).Error, (await join).GenerationId));
    }

    // ---------------------------------------------------------------- OffsetDelete

    [Fact]
    public void DeleteOffsets_EmptyGroupId_InvalidGroupId()
    {
        Assert.Equal(ErrorCode.InvalidGroupId, _coordinator.DeleteOffsets("", [Topic("t", 0)]).Error);
    }

    [Fact]
    public void DeleteOffsets_UnknownGroup_GroupIdNotFound()
    {
        var result = _coordinator.DeleteOffsets("nope", [Topic("t", 0)]);

        Assert.Equal(ErrorCode.GroupIdNotFound, result.Error);
        Assert.Empty(result.Topics);
    }

    [Fact]
    public void DeleteOffsets_SimpleGroup_DeletesRequestedPartitionsOnly()
    {
        SimpleCommit("simple", "t", 0, 5);
        SimpleCommit("simple", "t", 1, 6);
        SimpleCommit("simple", "u", 0, 7);

        var result = _coordinator.DeleteOffsets("simple", [Topic("t", 0, 9), Topic("v", 0)]);

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal(["t", "v"], result.Topics.Select(t => t.Topic));
        Assert.Equal([(0, ErrorCode.None), (9, ErrorCode.None)], result.Topics[0].Partitions);
        Assert.False(_coordinator.Offsets.TryGet("simple", new TopicPartition("t", 0), out _));
        Assert.True(_coordinator.Offsets.TryGet("simple", new TopicPartition("t", 1), out _));
        Assert.True(_coordinator.Offsets.TryGet("simple", new TopicPartition("u", 0), out _));
    }

    [Fact]
    public void DeleteOffsets_OffsetOnlyGroup_Deletes()
    {
        _coordinator.Offsets.Commit("restored", new TopicPartition("t", 0), new CommittedOffset(1, -1, "", 0));

        Assert.Equal(ErrorCode.None, _coordinator.DeleteOffsets("restored", [Topic("t", 0)]).Error);
        Assert.False(_coordinator.Offsets.HasOffsets("restored"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    public async Task DeleteOffsets_StableConsumerGroup_SubscribedTopicRefusedOthersDeleted(short subscriptionVersion)
    {
        await StableGroupAsync("g", metadata: Subscription(subscriptionVersion, "t", "u"));
        Commit("g", "t", 0, 1);
        Commit("g", "other", 0, 2);

        var result = _coordinator.DeleteOffsets("g", [Topic("t", 0, 1), Topic("other", 0)]);

        Assert.Equal(ErrorCode.None, result.Error);
        Assert.Equal([(0, ErrorCode.GroupSubscribedToTopic), (1, ErrorCode.GroupSubscribedToTopic)], result.Topics[0].Partitions);
        Assert.Equal([(0, ErrorCode.None)], result.Topics[1].Partitions);
        Assert.True(_coordinator.Offsets.TryGet("g", new TopicPartition("t", 0), out _));
        Assert.False(_coordinator.Offsets.TryGet("g", new TopicPartition("other", 0), out _));
    }

    [Fact]
    public async Task DeleteOffsets_UnreadableSubscription_EveryTopicSubscribed()
    {
        await StableGroupAsync("g", metadata: [0, 1, 0xff]);
        Commit("g", "other", 0, 2);

        var result = _coordinator.DeleteOffsets("g", [Topic("other", 0)]);

        Assert.Equal([(0, ErrorCode.GroupSubscribedToTopic)], Assert.Single(result.Topics).Partitions);
        Assert.True(_coordinator.Offsets.TryGet("g", new TopicPartition("other", 0), out _));
    }

    [Fact]
    public void DeleteOffsets_FirstGenerationStillJoining_EveryTopicSubscribed()
    {
        _ = _coordinator.JoinGroupAsync(Join("g"));
        Commit("g", "other", 0, 2);

        var result = _coordinator.DeleteOffsets("g", [Topic("other", 0)]);

        Assert.Equal(ClassicGroupState.PreparingRebalance, _coordinator.GroupState("g"));
        Assert.Equal([(0, ErrorCode.GroupSubscribedToTopic)], Assert.Single(result.Topics).Partitions);
    }

    [Fact]
    public async Task DeleteOffsets_ActiveGroupOfOtherProtocolType_NonEmptyGroup()
    {
        await StableGroupAsync("g", protocolType: "connect", metadata: [1, 2, 3]);
        Commit("g", "t", 0, 1);

        var result = _coordinator.DeleteOffsets("g", [Topic("t", 0)]);

        Assert.Equal(ErrorCode.NonEmptyGroup, result.Error);
        Assert.Empty(result.Topics);
        Assert.True(_coordinator.Offsets.HasOffsets("g"));
    }

    [Fact]
    public async Task DeleteOffsets_EmptyGroupAfterMembersLeft_DeletesEvenSubscribedTopics()
    {
        var member = await StableGroupAsync("g", metadata: Subscription(1, "t"));
        Commit("g", "t", 0, 1);
        _coordinator.LeaveGroup("g", [new LeavingMember(member, null)]);
        _time.Advance(0);
        Assert.Equal(ClassicGroupState.Empty, _coordinator.GroupState("g"));

        var result = _coordinator.DeleteOffsets("g", [Topic("t", 0)]);

        Assert.Equal([(0, ErrorCode.None)], Assert.Single(result.Topics).Partitions);
        Assert.False(_coordinator.Offsets.HasOffsets("g"));
    }

    [Fact]
    public async Task DeleteOffsets_NewGenerationWithChangedSubscription_UsesNewTopics()
    {
        var member = await StableGroupAsync("g", metadata: Subscription(1, "t"));
        Commit("g", "t", 0, 1);

        // The member rejoins subscribed to "u" only: the new generation's subscriptions count.
        var rejoin = _coordinator.JoinGroupAsync(Join("g", member, metadata: Subscription(1, "u"))).AsTask();
        var joined = await rejoin;
        Assert.Equal(ErrorCode.None, joined.Error);

        var result = _coordinator.DeleteOffsets("g", [Topic("t", 0), Topic("u", 0)]);

        Assert.Equal([(0, ErrorCode.None)], result.Topics[0].Partitions);
        Assert.Equal([(0, ErrorCode.GroupSubscribedToTopic)], result.Topics[1].Partitions);
    }
}
