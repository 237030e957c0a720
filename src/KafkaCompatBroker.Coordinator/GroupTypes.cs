using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>The states of a classic group, as Kafka names them.</summary>
public enum ClassicGroupState
{
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

/// <summary>The group coordinator's broker configs (Kafka's names and defaults).</summary>
public sealed partial record GroupCoordinatorConfig
{
    /// <summary>group.initial.rebalance.delay.ms</summary>
    public int InitialRebalanceDelayMs { get; init; } = 3000;

    /// <summary>group.min.session.timeout.ms</summary>
    public int MinSessionTimeoutMs { get; init; } = 6000;

    /// <summary>group.max.session.timeout.ms</summary>
    public int MaxSessionTimeoutMs { get; init; } = 1_800_000;

    /// <summary>group.max.size</summary>
    public int MaxSize { get; init; } = int.MaxValue;

    /// <summary>offset.metadata.max.bytes</summary>
    public int OffsetMetadataMaxBytes { get; init; } = 4096;

    /// <summary>offsets.topic.num.partitions: one coordinator shard per partition (Kafka's default 50).</summary>
    public int OffsetsTopicPartitions { get; init; } = 50;

    /// <summary>offsets.retention.minutes (as ms) and offsets.retention.check.interval.ms</summary>
    public OffsetRetentionConfig OffsetRetention { get; init; } = new();
}

/// <summary>One protocol a joining member supports, in its order of preference.</summary>
public readonly record struct GroupProtocol(string Name, byte[] Metadata);

/// <summary>A JoinGroup request, independent of its version.</summary>
public sealed record JoinGroupParams
{
    public required string GroupId { get; init; }

    public string MemberId { get; init; } = "";

    public string? GroupInstanceId { get; init; }

    public string ClientId { get; init; } = "";

    public string ClientHost { get; init; } = "";

    public required int SessionTimeoutMs { get; init; }

    public required int RebalanceTimeoutMs { get; init; }

    public required string ProtocolType { get; init; }

    public required IReadOnlyList<GroupProtocol> Protocols { get; init; }

    /// <summary>JoinGroup v4+: a member without id first gets MEMBER_ID_REQUIRED and its id.</summary>
    public bool RequireKnownMemberId { get; init; }

    /// <summary>JoinGroup v9+: a rejoining static leader may be told to skip the assignment.</summary>
    public bool SupportsSkipAssignment { get; init; }
}

/// <summary>A member as the leader sees it in its JoinGroup response.</summary>
public readonly record struct JoinGroupMember(string MemberId, string? GroupInstanceId, byte[] Metadata);

public sealed record JoinGroupResult(
    ErrorCode Error,
    string MemberId,
    int GenerationId = -1,
    string? ProtocolType = null,
    string? ProtocolName = null,
    string Leader = "",
    bool SkipAssignment = false,
    IReadOnlyList<JoinGroupMember>? Members = null)
{
    public IReadOnlyList<JoinGroupMember> AllMembers => Members ?? [];
}

public sealed record SyncGroupResult(ErrorCode Error, byte[] Assignment, string? ProtocolType = null, string? ProtocolName = null);

/// <summary>One member leaving (LeaveGroup v3+ batches them).</summary>
public readonly record struct LeavingMember(string MemberId, string? GroupInstanceId);

public sealed record LeaveGroupResult(ErrorCode Error, IReadOnlyList<(LeavingMember Member, ErrorCode Error)> Members);

/// <summary>
/// The group fields of an OffsetCommit: the generation (classic) or member epoch (consumer group), member and
/// instance ids, whether the version knows GROUP_ID_NOT_FOUND (v9+) and whether KIP-1251's per-partition epoch
/// checks apply (v9+).
/// </summary>
public readonly record struct OffsetCommitParams(
    string GroupId, int GenerationIdOrMemberEpoch, string MemberId, string? GroupInstanceId, bool GroupIdNotFoundSupported, bool ValidatePartitionEpochs);

/// <summary>One partition's offset in an OffsetCommit, after validation.</summary>
public readonly record struct OffsetToCommit(TopicPartition Partition, long Offset, int LeaderEpoch, string? Metadata);

/// <summary>Offset retention: <c>offsets.retention.minutes</c> and <c>offsets.retention.check.interval.ms</c>.</summary>
public sealed record OffsetRetentionConfig(long RetentionMs = 7L * 24 * 60 * 60 * 1000, long CheckIntervalMs = 600_000);
