using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// The group APIs routed to the shard of their group; a group whose shard is not active is answered from the
/// shard's state (Kafka's CoordinatorRuntime: NOT_COORDINATOR, or COORDINATOR_LOAD_IN_PROGRESS while it loads).
/// </summary>
public sealed partial class GroupCoordinator
{
    public ClassicGroupState? GroupState(string groupId) => ShardOf(groupId, out _)?.GroupState(groupId);

    public (int GenerationId, string? Leader, string? ProtocolName, IReadOnlyList<string> MemberIds)? Describe(string groupId) =>
        ShardOf(groupId, out _)?.Describe(groupId);

    public ValueTask<JoinGroupResult> JoinGroupAsync(JoinGroupParams request) =>
        ShardOf(request.GroupId, out var error) is { } shard
            ? shard.JoinGroupAsync(request)
            : new ValueTask<JoinGroupResult>(new JoinGroupResult(error, request.MemberId));

    public ValueTask<SyncGroupResult> SyncGroupAsync(
        string groupId, int generationId, string memberId, string? groupInstanceId, string? protocolType, string? protocolName, IReadOnlyList<KeyValuePair<string, byte[]>> assignments) =>
        ShardOf(groupId, out var error) is { } shard
            ? shard.SyncGroupAsync(groupId, generationId, memberId, groupInstanceId, protocolType, protocolName, assignments)
            : new ValueTask<SyncGroupResult>(new SyncGroupResult(error, []));

    public ErrorCode Heartbeat(string groupId, int generationId, string memberId, string? groupInstanceId) =>
        ShardOf(groupId, out var error) is { } shard ? shard.Heartbeat(groupId, generationId, memberId, groupInstanceId) : error;

    public LeaveGroupResult LeaveGroup(string groupId, IReadOnlyList<LeavingMember> members) =>
        ShardOf(groupId, out var error) is { } shard ? shard.LeaveGroup(groupId, members) : new LeaveGroupResult(error, []);

    public ConsumerGroupHeartbeatResult ConsumerGroupHeartbeat(ConsumerGroupHeartbeatParams request) =>
        ShardOf(request.GroupId, out var error) is { } shard ? shard.ConsumerGroupHeartbeat(request) : new ConsumerGroupHeartbeatResult(error, null);

    public ConsumerGroupState? ConsumerGroupStateOf(string groupId) => ShardOf(groupId, out _)?.ConsumerGroupStateOf(groupId);

    /// <summary>
    /// One OffsetCommit as one shard operation (Kafka's OffsetMetadataManager.commitOffset): the group and member
    /// checks, each partition's checks and the write happen under one acquisition of the shard's lock, so a rebalance
    /// cannot slip in between. Returns an error per offset, in order.
    /// </summary>
    public ValueTask<ErrorCode[]> CommitOffsetsAsync(OffsetCommitParams request, IReadOnlyList<OffsetToCommit> offsets)
    {
        if (ShardOf(request.GroupId, out var error) is { } shard)
        {
            return shard.CommitOffsetsAsync(request, offsets);
        }

        var errors = new ErrorCode[offsets.Count];
        Array.Fill(errors, error);
        return ValueTask.FromResult(errors);
    }

    /// <summary>The group checks of an OffsetCommit alone (tests); the handler commits through <see cref="CommitOffsetsAsync"/>.</summary>
    public ErrorCode ValidateOffsetCommit(string groupId, int generationId, string memberId, string? groupInstanceId, bool groupIdNotFoundSupported) =>
        ShardOf(groupId, out var error) is { } shard ? shard.ValidateOffsetCommit(groupId, generationId, memberId, groupInstanceId, groupIdNotFoundSupported) : error;

    /// <summary>Commits offsets of one group without member checks (tests, simple commits).</summary>
    public ErrorCode CommitOffsets(string groupId, IReadOnlyList<OffsetToCommit> offsets) =>
        ShardOf(groupId, out var error) is { } shard ? shard.CommitOffsets(groupId, offsets) : error;

    public ErrorCode ValidateConsumerCommitPartition(string groupId, string memberId, int memberEpoch, string topic, int partition) =>
        ShardOf(groupId, out var error) is { } shard ? shard.ValidateConsumerCommitPartition(groupId, memberId, memberEpoch, topic, partition) : error;

    public ErrorCode ValidateOffsetFetch(string groupId, string? memberId, int memberEpoch) =>
        ShardOf(groupId, out var error) is { } shard ? shard.ValidateOffsetFetch(groupId, memberId, memberEpoch) : error;

    public ErrorCode[] TxnOffsetCommit(TxnOffsetCommitParams request, IReadOnlyList<OffsetToCommit> offsets)
    {
        if (ShardOf(request.GroupId, out var error) is { } shard)
        {
            return shard.TxnOffsetCommit(request, offsets);
        }

        var errors = new ErrorCode[offsets.Count];
        Array.Fill(errors, error);
        return errors;
    }

    /// <summary>
    /// A COMMIT/ABORT marker of the producer was written to <c>__consumer_offsets</c>-<paramref name="logPartition"/>:
    /// its pending offsets there become committed or are dropped. Each shard keeps its pending offsets by the partition
    /// they were written to, so every active shard is asked (only the partition's own shard holds any).
    /// </summary>
    public void CompleteTransaction(long producerId, bool commit, int logPartition)
    {
        foreach (var shard in ActiveShards())
        {
            shard.CompleteTransaction(producerId, commit, logPartition);
        }
    }

    public bool HasPendingTransactionalOffset(string groupId, TopicPartition partition) =>
        ShardOf(groupId, out _)?.HasPendingTransactionalOffset(groupId, partition) ?? false;

    public bool HasPendingTransactionalOffsets(string groupId) => ShardOf(groupId, out _)?.HasPendingTransactionalOffsets(groupId) ?? false;

    public OffsetDeleteResult DeleteOffsets(string groupId, IReadOnlyList<(string Topic, IReadOnlyList<int> Partitions)> topics) =>
        ShardOf(groupId, out var error) is { } shard ? shard.DeleteOffsets(groupId, topics) : new OffsetDeleteResult(error, []);

    // ---------------------------------------------------------------- Replay into active shards (tests)

    /// <summary>Replays an offset record into the group's active shard (the broker's loader replays into a loading shard).</summary>
    public void ReplayOffsetRecord(int logPartition, long producerId, string groupId, TopicPartition partition, CommittedOffset? offset) =>
        ShardOf(groupId, out _)?.ReplayOffsetRecord(logPartition, producerId, groupId, partition, offset);

    public void ReplayConsumerGroupRecord(ReadOnlySpan<byte> key, byte[]? value) =>
        ShardOf(ConsumerGroupRecords.ReadKey(key).GroupId, out _)?.ReplayConsumerGroupRecord(key, value);

    public void RestoreGroup(string groupId, Protocol.GroupCoordinatorRecords.GroupMetadataValue? value) => ShardOf(groupId, out _)?.RestoreGroup(groupId, value);

    public void OnConsumerGroupsLoaded()
    {
        foreach (var shard in ActiveShards())
        {
            shard.OnConsumerGroupsLoaded();
        }
    }

    public void RestoreOffsetOnlyGroups()
    {
        foreach (var shard in ActiveShards())
        {
            shard.RestoreOffsetOnlyGroups();
        }
    }

    public void RestorePendingOffsetOnlyGroups()
    {
        foreach (var shard in ActiveShards())
        {
            shard.RestorePendingOffsetOnlyGroups();
        }
    }

    // ---------------------------------------------------------------- Fan-out over the shards

    /// <summary>Every group of every active shard matching both filters, ordered by group id.</summary>
    public IReadOnlyList<ListedGroup> ListGroups(IReadOnlyCollection<string> statesFilter, IReadOnlyCollection<string> typesFilter)
    {
        var groups = new List<ListedGroup>();
        foreach (var shard in ActiveShards())
        {
            groups.AddRange(shard.ListGroups(statesFilter, typesFilter));
        }

        groups.Sort(static (a, b) => string.CompareOrdinal(a.GroupId, b.GroupId));
        return groups;
    }

    public IReadOnlyList<(string GroupId, ConsumerGroupState State)> ListConsumerGroups()
    {
        var groups = new List<(string, ConsumerGroupState)>();
        foreach (var shard in ActiveShards())
        {
            groups.AddRange(shard.ListConsumerGroups());
        }

        return groups;
    }

    /// <summary>One answer per requested id, in request order; a group whose shard is not active gets the shard's error.</summary>
    public IReadOnlyList<DescribedGroup> DescribeGroups(IReadOnlyList<string> groupIds)
    {
        var result = new List<DescribedGroup>(groupIds.Count);
        foreach (var groupId in groupIds)
        {
            result.Add(ShardOf(groupId, out var error) is { } shard
                ? shard.DescribeGroups([groupId])[0]
                : new DescribedGroup(groupId, error, null, "", "", "", []));
        }

        return result;
    }

    public IReadOnlyList<ConsumerGroupDescription> DescribeConsumerGroups(IReadOnlyList<string> groupIds)
    {
        var result = new List<ConsumerGroupDescription>(groupIds.Count);
        foreach (var groupId in groupIds)
        {
            result.Add(ShardOf(groupId, out var error) is { } shard
                ? shard.DescribeConsumerGroups([groupId])[0]
                : new ConsumerGroupDescription(groupId, error, null));
        }

        return result;
    }

    /// <summary>Deletes each group once, in request order, in its own shard.</summary>
    public IReadOnlyList<(string GroupId, ErrorCode Error)> DeleteGroups(IReadOnlyList<string> groupIds)
    {
        var result = new List<(string, ErrorCode)>(groupIds.Count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var groupId in groupIds)
        {
            if (seen.Add(groupId))
            {
                result.Add(ShardOf(groupId, out var error) is { } shard ? shard.DeleteGroups([groupId])[0] : (groupId, error));
            }
        }

        return result;
    }

    /// <summary>Offset retention over every active shard; the number of offsets expired.</summary>
    public int ExpireOffsets()
    {
        var expired = 0;
        foreach (var shard in ActiveShards())
        {
            expired += shard.ExpireOffsets();
        }

        return expired;
    }
}
