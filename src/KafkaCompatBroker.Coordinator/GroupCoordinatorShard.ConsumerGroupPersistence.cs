using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// KIP-848 consumer groups in <c>__consumer_offsets</c>. A change (a heartbeat, a leave, a fencing) is
/// bracketed: before it the group's state is captured as the records that describe it, after it the
/// records that differ are appended as one batch in Kafka's order (tombstones of removed members:
/// current assignment, target assignment, member metadata; then member metadata, group epoch, target
/// assignments, assignment epoch, current assignments). When the append fails the group is rebuilt
/// from the captured records, so memory matches the log, and the caller answers with the log's error.
/// At start-up the records are replayed (<see cref="ReplayConsumerGroupRecord"/>) and then every
/// member's session starts again (<see cref="OnConsumerGroupsLoaded"/>), as Kafka does on loading.
/// </summary>
public sealed partial class GroupCoordinatorShard
{
    /// <summary>The records of a group's state: group-level entries have an empty member id.</summary>
    private readonly record struct ConsumerGroupImageEntry(short Type, string MemberId, GroupRecord Record);

    /// <summary>A group's state before a change, and the empty classic group a heartbeat may convert.</summary>
    private sealed record ConsumerGroupChange(string GroupId, List<ConsumerGroupImageEntry>? Before, ClassicGroup? Classic);

    // The records each consumer group had in the log after its last change, so a change serialises the group once (after
    // it) instead of twice: every change is bracketed and committed or reverted under the lock, so the state before a
    // change is the state the last one wrote. Keyed by the group object: a group rebuilt (revert, reload) is imaged again.
    private readonly Dictionary<string, (ConsumerGroup Group, List<ConsumerGroupImageEntry> Image)> _persistedImages = new(StringComparer.Ordinal);

    /// <summary>
    /// DeleteGroups or offset retention removed an empty consumer group: its assignment epoch and group
    /// epoch records go (an empty group has no member records left). Like a classic group's tombstone, a
    /// failed write is only logged: after a restart the group would reappear empty, which is harmless.
    /// </summary>
    partial void OnConsumerGroupDeleted(string groupId)
    {
        try
        {
            _records?.Append(groupId, [
                new GroupRecord(ConsumerGroupRecords.Key(ConsumerGroupRecords.TargetAssignmentMetadataType, groupId, ""), null),
                new GroupRecord(ConsumerGroupRecords.Key(ConsumerGroupRecords.GroupMetadataType, groupId, ""), null)]);
        }
        catch (GroupRecordLogException e)
        {
            _log.LogWarning("Writing the tombstones of consumer group {GroupId} failed: {Reason}", groupId, e.Message);
        }
    }

    /// <summary>Captures the group before a change; null when nothing is persisted.</summary>
    private ConsumerGroupChange? BeginConsumerGroupChange(string groupId)
    {
        if (_records is null)
        {
            return null;
        }

        List<ConsumerGroupImageEntry>? before = null;
        if (_consumerGroups.TryGetValue(groupId, out var group))
        {
            before = _persistedImages.TryGetValue(groupId, out var persisted) && persisted.Group == group ? persisted.Image : ConsumerGroupImage(group);
        }

        return new ConsumerGroupChange(groupId, before, _groups.GetValueOrDefault(groupId));
    }

    /// <summary>Appends what the change wrote; on failure restores the group as it was and returns the error.</summary>
    private GroupRecordLogException? CommitConsumerGroupChange(ConsumerGroupChange? change)
    {
        if (change is null || _records is null)
        {
            return null;
        }

        var groupId = change.GroupId;
        var records = new List<GroupRecord>();
        if (change.Classic is not null && !_groups.ContainsKey(groupId))
        {
            // The empty classic group became a consumer group: its metadata goes, as in Kafka.
            records.Add(GroupRecords.GroupTombstone(groupId));
        }

        var after = _consumerGroups.TryGetValue(groupId, out var group) ? ConsumerGroupImage(group) : null;
        records.AddRange(after is null ? Tombstones(change.Before ?? []) : Diff(change.Before ?? [], after));
        if (_groups.TryGetValue(groupId, out var downgraded) && downgraded != change.Classic)
        {
            // The consumer group became a classic group: its metadata follows the consumer group's tombstones, as in Kafka.
            records.Add(GroupRecords.GroupMetadata(groupId, ToRecord(downgraded)));
        }
        if (records.Count == 0)
        {
            RememberImage(groupId, group, after);
            return null;
        }

        try
        {
            _records.Append(groupId, records);
            RememberImage(groupId, group, after);
            return null;
        }
        catch (GroupRecordLogException e)
        {
            _log.LogWarning("Storing the state of consumer group {GroupId} failed: {Reason}; reverting the change", groupId, e.Message);
            RevertConsumerGroupChange(change);
            return e;
        }
    }

    private void RememberImage(string groupId, ConsumerGroup? group, List<ConsumerGroupImageEntry>? image)
    {
        if (group is not null && image is not null)
        {
            _persistedImages[groupId] = (group, image);
        }
        else
        {
            _persistedImages.Remove(groupId);
        }
    }

    private void RevertConsumerGroupChange(ConsumerGroupChange change)
    {
        _persistedImages.Remove(change.GroupId);
        DropConsumerGroup(change.GroupId);
        if (_groups.TryGetValue(change.GroupId, out var downgraded) && downgraded != change.Classic)
        {
            RetireClassicGroup(downgraded);
            _groups.Remove(change.GroupId);
        }

        if (change.Before is { } before)
        {
            foreach (var entry in before)
            {
                ApplyConsumerGroupRecord(ConsumerGroupRecords.ReadKey(entry.Record.Key), entry.Record.Value);
            }

            StartConsumerGroupTimers(_consumerGroups[change.GroupId]);
        }

        if (change.Classic is { } classic && !_groups.ContainsKey(change.GroupId))
        {
            _groups[change.GroupId] = classic;
            RestoreClassicGroup(classic);
        }
    }

    /// <summary>The group's state as records, in replay order: epoch, members, assignment epoch, targets, current assignments.</summary>
    private static List<ConsumerGroupImageEntry> ConsumerGroupImage(ConsumerGroup group)
    {
        var id = group.GroupId;
        var image = new List<ConsumerGroupImageEntry>((group.Members.Count * 3) + 2)
        {
            new(ConsumerGroupRecords.GroupMetadataType, "", ConsumerGroupRecords.GroupEpoch(id, group.GroupEpoch, group.MetadataHash)),
        };
        foreach (var member in group.Members.Values)
        {
            image.Add(new(ConsumerGroupRecords.MemberMetadataType, member.MemberId, ConsumerGroupRecords.MemberMetadata(id, member)));
        }

        image.Add(new(ConsumerGroupRecords.TargetAssignmentMetadataType, "", ConsumerGroupRecords.TargetAssignmentEpoch(id, group.AssignmentEpoch)));
        foreach (var memberId in group.Members.Keys.Where(group.TargetAssignment.ContainsKey).Concat(group.TargetAssignment.Keys.Where(m => !group.Members.ContainsKey(m))))
        {
            image.Add(new(ConsumerGroupRecords.TargetAssignmentMemberType, memberId, ConsumerGroupRecords.TargetAssignmentMember(id, memberId, group.TargetAssignment[memberId])));
        }

        foreach (var member in group.Members.Values)
        {
            image.Add(new(ConsumerGroupRecords.CurrentMemberAssignmentType, member.MemberId, ConsumerGroupRecords.CurrentAssignment(id, member)));
        }

        return image;
    }

    /// <summary>The records that turn <paramref name="before"/> into <paramref name="after"/>, in the order Kafka writes them.</summary>
    private static List<GroupRecord> Diff(List<ConsumerGroupImageEntry> before, List<ConsumerGroupImageEntry> after)
    {
        var old = before.ToDictionary(e => (e.Type, e.MemberId), e => e.Record);
        var now = after.ToDictionary(e => (e.Type, e.MemberId), e => e.Record);
        var records = new List<GroupRecord>();

        // Members that are gone: current assignment, target assignment, then member metadata tombstones.
        foreach (var entry in before.Where(e => e.Type == ConsumerGroupRecords.MemberMetadataType && !now.ContainsKey((e.Type, e.MemberId))))
        {
            foreach (var type in (ReadOnlySpan<short>)[ConsumerGroupRecords.CurrentMemberAssignmentType, ConsumerGroupRecords.TargetAssignmentMemberType, ConsumerGroupRecords.MemberMetadataType])
            {
                if (old.TryGetValue((type, entry.MemberId), out var record))
                {
                    records.Add(record with { Value = null });
                }
            }
        }

        foreach (var type in (ReadOnlySpan<short>)[
            ConsumerGroupRecords.MemberMetadataType,
            ConsumerGroupRecords.GroupMetadataType,
            ConsumerGroupRecords.TargetAssignmentMemberType,
            ConsumerGroupRecords.TargetAssignmentMetadataType,
            ConsumerGroupRecords.CurrentMemberAssignmentType])
        {
            foreach (var entry in after)
            {
                if (entry.Type == type && (!old.TryGetValue((type, entry.MemberId), out var previous) || !previous.Value.AsSpan().SequenceEqual(entry.Record.Value)))
                {
                    records.Add(entry.Record);
                }
            }

            // A member that stays but lost its target (or current) assignment entry.
            foreach (var entry in before)
            {
                if (entry.Type == type && entry.MemberId.Length > 0 && !now.ContainsKey((type, entry.MemberId)) && now.ContainsKey((ConsumerGroupRecords.MemberMetadataType, entry.MemberId)))
                {
                    records.Add(entry.Record with { Value = null });
                }
            }
        }

        return records;
    }

    /// <summary>Kafka's order when a group is deleted: current assignments, target assignments, assignment epoch, members, group epoch.</summary>
    private static List<GroupRecord> Tombstones(List<ConsumerGroupImageEntry> image)
    {
        var records = new List<GroupRecord>(image.Count);
        foreach (var type in (ReadOnlySpan<short>)[
            ConsumerGroupRecords.CurrentMemberAssignmentType,
            ConsumerGroupRecords.TargetAssignmentMemberType,
            ConsumerGroupRecords.TargetAssignmentMetadataType,
            ConsumerGroupRecords.MemberMetadataType,
            ConsumerGroupRecords.GroupMetadataType])
        {
            foreach (var entry in image)
            {
                if (entry.Type == type)
                {
                    records.Add(entry.Record with { Value = null });
                }
            }
        }

        return records;
    }

    // ---------------------------------------------------------------- Replay

    /// <summary>
    /// Applies one consumer group record (types 3 to 8; null value = tombstone) read from
    /// <c>__consumer_offsets</c> at start-up, as Kafka's GroupMetadataManager replays it. Throws
    /// <see cref="KafkaProtocolException"/> when the record does not decode. Call
    /// <see cref="OnConsumerGroupsLoaded"/> once every record is replayed.
    /// </summary>
    public void ReplayConsumerGroupRecord(ReadOnlySpan<byte> key, byte[]? value)
    {
        var parsed = ConsumerGroupRecords.ReadKey(key);
        lock (_lock)
        {
            ApplyConsumerGroupRecord(parsed, value);
        }
    }

    /// <summary>After loading: every member's session (and pending revocation) starts again, so members that do not come back are fenced.</summary>
    public void OnConsumerGroupsLoaded()
    {
        lock (_lock)
        {
            foreach (var group in _consumerGroups.Values)
            {
                // A consumer group owns its id: an empty classic group left for its offsets gives way.
                if (_groups.TryGetValue(group.GroupId, out var classic) && classic.IsEmpty)
                {
                    _groups.Remove(group.GroupId);
                }

                StartConsumerGroupTimers(group);
            }
        }
    }

    private void StartConsumerGroupTimers(ConsumerGroup group)
    {
        foreach (var member in group.Members.Values)
        {
            member.DisposeTimers();
            ScheduleConsumerSession(group, member);
            if (member.State == ConsumerMemberState.UnrevokedPartitions)
            {
                ScheduleConsumerRebalanceTimeout(group, member);
            }
        }
    }

    private void DropConsumerGroup(string groupId)
    {
        _persistedImages.Remove(groupId);
        if (_consumerGroups.Remove(groupId, out var group))
        {
            foreach (var member in group.Members.Values)
            {
                member.DisposeTimers();
            }
        }
    }

    private void ApplyConsumerGroupRecord(ConsumerGroupRecordKey key, byte[]? value)
    {
        var groupId = key.GroupId;
        if (key.Type == ConsumerGroupRecords.PartitionMetadataType)
        {
            return; // Kafka 4.0's subscribed-topic metadata: we keep a hash in the group epoch record instead.
        }

        if (!_consumerGroups.TryGetValue(groupId, out var group))
        {
            if (value is null)
            {
                return; // a tombstone of a group already gone
            }

            group = new ConsumerGroup(groupId);
            _consumerGroups.Add(groupId, group);
        }

        var member = key.MemberId.Length > 0 ? group.Members.GetValueOrDefault(key.MemberId) : null;
        switch (key.Type)
        {
            case ConsumerGroupRecords.GroupMetadataType when value is null:
                DropConsumerGroup(groupId);
                break;
            case ConsumerGroupRecords.GroupMetadataType:
                group.GroupEpoch = ConsumerGroupRecords.ReadGroupEpoch(value, out var hash);
                group.MetadataHash = hash;
                break;
            case ConsumerGroupRecords.MemberMetadataType when value is null:
                if (member is not null)
                {
                    group.RemoveMember(member);
                }

                break;
            case ConsumerGroupRecords.MemberMetadataType:
                var metadata = ConsumerGroupRecords.ReadMemberMetadata(value);
                member ??= AddReplayedMember(group, key.MemberId);
                member.RackId = metadata.RackId;
                member.ClientId = metadata.ClientId;
                member.ClientHost = metadata.ClientHost;
                member.SubscribedTopicNames = [.. metadata.SubscribedTopicNames];
                member.SubscribedTopicRegex = string.IsNullOrEmpty(metadata.SubscribedTopicRegex) ? null : metadata.SubscribedTopicRegex;
                member.RebalanceTimeoutMs = metadata.RebalanceTimeoutMs;
                member.ServerAssignor = metadata.ServerAssignor;
                member.Classic = metadata.ClassicMemberMetadata is { } classic
                    ? new ClassicMemberMetadata(classic.SessionTimeoutMs, [.. classic.SupportedProtocols.Select(p => new GroupProtocol(p.Name, p.Metadata))])
                    : null;
                if (metadata.InstanceId != member.InstanceId)
                {
                    if (member.InstanceId is { } previous && group.StaticMembers.GetValueOrDefault(previous) == member.MemberId)
                    {
                        group.StaticMembers.Remove(previous);
                    }

                    member.InstanceId = metadata.InstanceId;
                    if (metadata.InstanceId is { } instanceId)
                    {
                        group.StaticMembers[instanceId] = member.MemberId;
                    }
                }

                break;
            case ConsumerGroupRecords.TargetAssignmentMetadataType:
                group.AssignmentEpoch = value is null ? 0 : ConsumerGroupRecords.ReadTargetAssignmentEpoch(value);
                break;
            case ConsumerGroupRecords.TargetAssignmentMemberType when value is null:
                group.TargetAssignment.Remove(key.MemberId);
                break;
            case ConsumerGroupRecords.TargetAssignmentMemberType:
                group.TargetAssignment[key.MemberId] = ConsumerGroupRecords.ReadTargetAssignmentMember(value);
                break;
            case ConsumerGroupRecords.CurrentMemberAssignmentType when value is null:
                // Kafka keeps the member (its metadata tombstone follows) without epoch or partitions.
                if (member is not null)
                {
                    group.RemovePartitionEpochs(member);
                    member.MemberEpoch = LeaveGroupMemberEpoch;
                    member.PreviousMemberEpoch = LeaveGroupMemberEpoch;
                    member.State = ConsumerMemberState.Stable;
                    member.AssignedPartitions = [];
                    member.PartitionsPendingRevocation = [];
                }

                break;
            case ConsumerGroupRecords.CurrentMemberAssignmentType:
                var current = ConsumerGroupRecords.ReadCurrentAssignment(value);
                member ??= AddReplayedMember(group, key.MemberId);
                group.RemovePartitionEpochs(member);
                member.MemberEpoch = current.MemberEpoch;
                member.PreviousMemberEpoch = current.PreviousMemberEpoch;
                member.State = current.State switch
                {
                    1 => ConsumerMemberState.UnrevokedPartitions,
                    2 => ConsumerMemberState.UnreleasedPartitions,
                    _ => ConsumerMemberState.Stable,
                };
                member.AssignedPartitions = ConsumerGroupRecords.ToMap(current.AssignedPartitions);
                member.PartitionsPendingRevocation = ConsumerGroupRecords.ToMap(current.PartitionsPendingRevocation);
                group.AddPartitionEpochs(member);
                break;
        }
    }

    private static ConsumerGroupMember AddReplayedMember(ConsumerGroup group, string memberId)
    {
        var member = new ConsumerGroupMember(memberId);
        group.AddMember(member);
        return member;
    }
}
