using System.Collections.Concurrent;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>A committed offset as Kafka keeps it: offset, leader epoch (-1 when unknown), metadata and commit time.</summary>
public readonly record struct CommittedOffset(long Offset, int LeaderEpoch, string Metadata, long CommitTimestampMs);

/// <summary>
/// Where committed offsets live: <see cref="InMemoryOffsetStore"/> (tests), or
/// <see cref="PersistentOffsetStore"/>, which writes every change to <c>__consumer_offsets</c> first.
/// Writes throw <see cref="GroupRecordLogException"/> when the log refuses them.
/// </summary>
public interface IOffsetStore
{
    void Commit(string groupId, TopicPartition partition, CommittedOffset offset);

    /// <summary>Commits several offsets of one group at once (one batch in the log).</summary>
    void CommitAll(string groupId, IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> offsets);

    bool TryGet(string groupId, TopicPartition partition, out CommittedOffset offset);

    /// <summary>Every committed offset of the group, ordered by topic then partition.</summary>
    IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> GetAll(string groupId);

    bool HasOffsets(string groupId);

    /// <summary>Removes one committed offset (OffsetDelete, retention); false when there was none.</summary>
    bool Delete(string groupId, TopicPartition partition);

    /// <summary>Removes every committed offset of the group (DeleteGroups).</summary>
    void DeleteGroup(string groupId);

    /// <summary>Every group with at least one committed offset.</summary>
    IReadOnlyList<string> GroupIds();

    /// <summary>
    /// Writes the offsets to the log without changing memory (the coordinator applies them with <see cref="Apply"/> once
    /// they are in the log); nothing for a store without a log.
    /// </summary>
    void Write(string groupId, IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> offsets);

    /// <summary>
    /// Applies a change that is already in the log without writing it (null removes): a transaction's
    /// offsets becoming committed when its COMMIT marker is written.
    /// </summary>
    void Apply(string groupId, TopicPartition partition, CommittedOffset? offset);
}

/// <summary>Committed offsets in memory (lost on restart).</summary>
public sealed class InMemoryOffsetStore : IOffsetStore
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<TopicPartition, CommittedOffset>> _groups = new(StringComparer.Ordinal);

    public void Commit(string groupId, TopicPartition partition, CommittedOffset offset) =>
        _groups.GetOrAdd(groupId, static _ => new ConcurrentDictionary<TopicPartition, CommittedOffset>())[partition] = offset;

    public void CommitAll(string groupId, IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> offsets)
    {
        foreach (var (partition, offset) in offsets)
        {
            Commit(groupId, partition, offset);
        }
    }

    public bool TryGet(string groupId, TopicPartition partition, out CommittedOffset offset)
    {
        if (_groups.TryGetValue(groupId, out var offsets) && offsets.TryGetValue(partition, out offset))
        {
            return true;
        }

        offset = default;
        return false;
    }

    public IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> GetAll(string groupId) =>
        _groups.TryGetValue(groupId, out var offsets)
            ? [.. offsets.OrderBy(o => o.Key.Topic, StringComparer.Ordinal).ThenBy(o => o.Key.Partition)]
            : [];

    public bool HasOffsets(string groupId) => _groups.TryGetValue(groupId, out var offsets) && !offsets.IsEmpty;

    public bool Delete(string groupId, TopicPartition partition) =>
        _groups.TryGetValue(groupId, out var offsets) && offsets.TryRemove(partition, out _);

    public void DeleteGroup(string groupId) => _groups.TryRemove(groupId, out _);

    public IReadOnlyList<string> GroupIds() => [.. _groups.Where(g => !g.Value.IsEmpty).Select(g => g.Key)];

    public void Write(string groupId, IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> offsets)
    {
    }

    public void Apply(string groupId, TopicPartition partition, CommittedOffset? offset)
    {
        if (offset is { } value)
        {
            Commit(groupId, partition, value);
        }
        else
        {
            Delete(groupId, partition);
        }
    }
}

/// <summary>
/// Committed offsets kept in memory and written to <c>__consumer_offsets</c> (OffsetCommit records,
/// tombstones on delete) before they change in memory; <see cref="Replay"/> rebuilds them at start-up.
/// </summary>
public sealed class PersistentOffsetStore(IGroupRecordLog log) : IOffsetStore
{
    private readonly InMemoryOffsetStore _offsets = new();

    public void Commit(string groupId, TopicPartition partition, CommittedOffset offset)
    {
        log.Append(groupId, [GroupRecords.OffsetCommit(groupId, partition, offset)]);
        _offsets.Commit(groupId, partition, offset);
    }

    public void CommitAll(string groupId, IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> offsets)
    {
        Write(groupId, offsets);
        _offsets.CommitAll(groupId, offsets);
    }

    public void Write(string groupId, IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> offsets)
    {
        if (offsets.Count == 0)
        {
            return;
        }

        var records = new GroupRecord[offsets.Count];
        for (var i = 0; i < offsets.Count; i++)
        {
            records[i] = GroupRecords.OffsetCommit(groupId, offsets[i].Key, offsets[i].Value);
        }

        log.Append(groupId, records);
    }

    public bool TryGet(string groupId, TopicPartition partition, out CommittedOffset offset) => _offsets.TryGet(groupId, partition, out offset);

    public IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> GetAll(string groupId) => _offsets.GetAll(groupId);

    public bool HasOffsets(string groupId) => _offsets.HasOffsets(groupId);

    public bool Delete(string groupId, TopicPartition partition)
    {
        if (!_offsets.TryGet(groupId, partition, out _))
        {
            return false;
        }

        log.Append(groupId, [GroupRecords.OffsetTombstone(groupId, partition)]);
        return _offsets.Delete(groupId, partition);
    }

    public void DeleteGroup(string groupId)
    {
        var offsets = _offsets.GetAll(groupId);
        if (offsets.Count > 0)
        {
            log.Append(groupId, [.. offsets.Select(o => GroupRecords.OffsetTombstone(groupId, o.Key))]);
        }

        _offsets.DeleteGroup(groupId);
    }

    public IReadOnlyList<string> GroupIds() => _offsets.GroupIds();

    public void Apply(string groupId, TopicPartition partition, CommittedOffset? offset) => _offsets.Apply(groupId, partition, offset);

    /// <summary>Applies an OffsetCommit record read back from the log (null = tombstone) without writing it again.</summary>
    public void Replay(string groupId, TopicPartition partition, CommittedOffset? offset) => _offsets.Apply(groupId, partition, offset);
}
