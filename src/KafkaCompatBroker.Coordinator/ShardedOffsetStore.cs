using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// The committed offsets of every active shard seen as one store: each call goes to the store of the group's shard
/// (nothing when that shard is not active). Writes through it bypass the shard's lock: tests and reads only.
/// </summary>
internal sealed class ShardedOffsetStore(GroupCoordinator coordinator) : IOffsetStore
{
    // A group whose shard is not active has no offsets here (and a write through this view goes nowhere).
    private IOffsetStore Of(string groupId) => coordinator.ShardOf(groupId, out _)?.Offsets ?? new InMemoryOffsetStore();

    public void Commit(string groupId, TopicPartition partition, CommittedOffset offset) => Of(groupId).Commit(groupId, partition, offset);

    public void CommitAll(string groupId, IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> offsets) => Of(groupId).CommitAll(groupId, offsets);

    public bool TryGet(string groupId, TopicPartition partition, out CommittedOffset offset) => Of(groupId).TryGet(groupId, partition, out offset);

    public IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> GetAll(string groupId) => Of(groupId).GetAll(groupId);

    public bool HasOffsets(string groupId) => Of(groupId).HasOffsets(groupId);

    public bool Delete(string groupId, TopicPartition partition) => Of(groupId).Delete(groupId, partition);

    public void DeleteGroup(string groupId) => Of(groupId).DeleteGroup(groupId);

    public IReadOnlyList<string> GroupIds() => [.. coordinator.ActiveShards().SelectMany(s => s.Offsets.GroupIds())];

    public void Write(string groupId, IReadOnlyList<KeyValuePair<TopicPartition, CommittedOffset>> offsets) => Of(groupId).Write(groupId, offsets);

    public void Apply(string groupId, TopicPartition partition, CommittedOffset? offset) => Of(groupId).Apply(groupId, partition, offset);
}
