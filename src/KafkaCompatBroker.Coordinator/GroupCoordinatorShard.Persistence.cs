using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.GroupCoordinatorRecords;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// Group state in <c>__consumer_offsets</c>: a GroupMetadata record whenever a classic group gets a
/// new assignment or becomes empty (as Kafka stores it), a tombstone when a group is deleted or
/// expires, the replay of those records at start-up, and offset retention.
/// </summary>
public sealed partial class GroupCoordinatorShard
{
    /// <summary>Writes the group's metadata; returns the error to answer with when the log refused it.</summary>
    private ErrorCode? TryStoreGroup(ClassicGroup group)
    {
        if (_records is null)
        {
            return null;
        }

        try
        {
            _records.Append(group.GroupId, [GroupRecords.GroupMetadata(group.GroupId, ToRecord(group))]);
            return null;
        }
        catch (GroupRecordLogException e)
        {
            _log.LogWarning("Storing the metadata of group {GroupId} failed: {Reason}", group.GroupId, e.Message);
            return e.Error;
        }
    }

    partial void OnGroupDeleted(string groupId)
    {
        try
        {
            _records?.Append(groupId, [GroupRecords.GroupTombstone(groupId)]);
        }
        catch (GroupRecordLogException e)
        {
            // The group is gone in memory; after a restart it would reappear empty, which is harmless.
            _log.LogWarning("Writing the tombstone of group {GroupId} failed: {Reason}", groupId, e.Message);
        }
    }

    private static GroupMetadataValue ToRecord(ClassicGroup group)
    {
        var value = new GroupMetadataValue
        {
            protocolType = group.ProtocolType ?? "",
            generation = group.GenerationId,
            protocol = group.ProtocolName,
            leader = group.LeaderId,
            currentStateTimestamp = group.StateTimestampMs,
        };
        foreach (var member in group.Members.Values)
        {
            value.members.Add(new GroupMetadataValue.MemberMetadata
            {
                memberId = member.MemberId,
                groupInstanceId = member.GroupInstanceId,
                clientId = member.ClientId,
                clientHost = member.ClientHost,
                rebalanceTimeout = member.RebalanceTimeoutMs,
                sessionTimeout = member.SessionTimeoutMs,
                subscription = group.ProtocolName is { } protocol ? member.MetadataFor(protocol) : [],
                assignment = member.Assignment,
            });
        }

        return value;
    }

    /// <summary>
    /// Rebuilds a group from its last GroupMetadata record at start-up (null: the group was deleted).
    /// As Kafka loads it: Stable with its members when it has any, else Empty; every member's session
    /// starts again, so members that are gone expire and the group rebalances.
    /// </summary>
    public void RestoreGroup(string groupId, GroupMetadataValue? value)
    {
        lock (_lock)
        {
            if (_groups.Remove(groupId, out var previous))
            {
                foreach (var member in previous.Members.Values)
                {
                    member.SessionTimer?.Dispose();
                }
            }

            if (value is null)
            {
                return;
            }

            var group = new ClassicGroup(groupId, _time)
            {
                GenerationId = value.generation,
                ProtocolName = value.protocol,
            };
            foreach (var m in value.members)
            {
                var member = new ClassicGroupMember(m.memberId, m.groupInstanceId)
                {
                    ClientId = m.clientId,
                    ClientHost = m.clientHost,
                    SessionTimeoutMs = m.sessionTimeout,
                    RebalanceTimeoutMs = m.rebalanceTimeout < 0 ? m.sessionTimeout : m.rebalanceTimeout,
                    ProtocolType = value.protocolType,
                    Protocols = value.protocol is { } protocol ? [new GroupProtocol(protocol, m.subscription)] : [],
                    Assignment = m.assignment,
                };
                group.Add(member);
            }

            group.ProtocolType = value.protocolType.Length > 0 ? value.protocolType : null;
            group.LeaderId = value.leader;
            if (!group.IsEmpty)
            {
                group.TransitionTo(ClassicGroupState.Stable);
                foreach (var member in group.Members.Values)
                {
                    ResetSession(group, member);
                }
            }

            if (value.currentStateTimestamp >= 0)
            {
                group.StateTimestampMs = value.currentStateTimestamp;
            }

            _groups[groupId] = group;
        }
    }

    /// <summary>Groups known from committed offsets alone (after a restart) exist as empty classic groups, as in Kafka.</summary>
    public void RestoreOffsetOnlyGroups()
    {
        lock (_lock)
        {
            foreach (var groupId in Offsets.GroupIds())
            {
                if (!_groups.ContainsKey(groupId) && !_consumerGroups.ContainsKey(groupId))
                {
                    _groups.Add(groupId, new ClassicGroup(groupId, _time) { StateTimestampMs = -1 });
                }
            }
        }
    }

    /// <summary>The end of a load: what start-up did after the replay, for this shard's groups alone.</summary>
    internal void OnLoaded()
    {
        OnConsumerGroupsLoaded();
        RestoreOffsetOnlyGroups();
        RestorePendingOffsetOnlyGroups();
    }

    // ---------------------------------------------------------------- Retention

    /// <summary>
    /// Kafka's offset expiration: offsets of an empty group expire offsets.retention.minutes after the
    /// group became empty (after their commit when that time is unknown); offsets of a group that never
    /// had members (simple consumers) and of an empty KIP-848 consumer group expire that long after their
    /// commit. An empty group left without offsets is deleted. Groups with members keep their offsets.
    /// </summary>
    public int ExpireOffsets()
    {
        lock (_lock)
        {
            FlushQueuedWritesLocked(); // reads committed offsets: queued commits first
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var retention = _config.OffsetRetention.RetentionMs;
            var expired = 0;
            foreach (var groupId in Offsets.GroupIds())
            {
                _groups.TryGetValue(groupId, out var group);
                if ((group is not null && group.State != ClassicGroupState.Empty) || (_consumerGroups.TryGetValue(groupId, out var consumerGroup) && !consumerGroup.IsEmpty))
                {
                    continue;
                }

                var stateTimestamp = group is { ProtocolType: not null, StateTimestampMs: >= 0 } ? group.StateTimestampMs : -1;
                var expiredInGroup = 0;
                foreach (var (partition, offset) in Offsets.GetAll(groupId))
                {
                    var baseTimestamp = stateTimestamp >= 0 ? stateTimestamp : offset.CommitTimestampMs;
                    // An offset with pending transactional offsets does not expire yet (Kafka).
                    if (now - baseTimestamp >= retention && !HasPendingTransactionalOffset(groupId, partition) && TryDeleteOffset(groupId, partition))
                    {
                        expiredInGroup++;
                    }
                }

                if (expiredInGroup > 0)
                {
                    _log.LogInformation("Expired {Count} offsets of group {GroupId} (offsets.retention.minutes)", expiredInGroup, groupId);
                    expired += expiredInGroup;
                }
            }

            foreach (var group in _groups.Values.ToList())
            {
                if (group.State == ClassicGroupState.Empty && group.PendingMembers.Count == 0 && !Offsets.HasOffsets(group.GroupId) && !HasPendingTransactionalOffsets(group.GroupId))
                {
                    _log.LogInformation("Group {GroupId} is empty and has no offsets left: deleting it", group.GroupId);
                    group.TransitionTo(ClassicGroupState.Dead);
                    _groups.Remove(group.GroupId);
                    OnGroupDeleted(group.GroupId);
                }
            }

            foreach (var group in _consumerGroups.Values.ToList())
            {
                if (group.IsEmpty && !Offsets.HasOffsets(group.GroupId) && !HasPendingTransactionalOffsets(group.GroupId))
                {
                    _log.LogInformation("Consumer group {GroupId} is empty and has no offsets left: deleting it", group.GroupId);
                    RemoveConsumerGroup(group);
                }
            }

            return expired;
        }
    }

    private bool TryDeleteOffset(string groupId, TopicPartition partition)
    {
        try
        {
            return Offsets.Delete(groupId, partition);
        }
        catch (GroupRecordLogException e)
        {
            _log.LogWarning("Expiring the offset of {Partition} in group {GroupId} failed: {Reason}", partition, groupId, e.Message);
            return false;
        }
    }
}
