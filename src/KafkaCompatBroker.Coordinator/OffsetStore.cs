using System.Collections.Concurrent;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Coordinator;

/// <summary>A committed offset as Kafka keeps it: offset, leader epoch (-1 when unknown), metadata and commit time.</summary>
public readonly record struct CommittedOffset(long Offset, int LeaderEpoch, string Metadata, long CommitTimestampMs);

/// <summary>
/// Where committed offsets live. In memory for now; the persistent implementation (records in
/// <c>__consumer_offsets</c>) plugs in behind the same interface.
/// </summary>
public interface IOffsetStore
{
    void Commit(string groupId, TopicPartition partition, CommittedOffset offset);

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
}

/// <summary>Committed offsets in memory (lost on restart).</summary>
public sealed class InMemoryOffsetStore : IOffsetStore
{
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<TopicPartition, CommittedOffset>> _groups = new(StringComparer.Ordinal);

    public void Commit(string groupId, TopicPartition partition, CommittedOffset offset) =>
        _groups.GetOrAdd(groupId, static _ => new ConcurrentDictionary<TopicPartition, CommittedOffset>())[partition] = offset;

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
}
