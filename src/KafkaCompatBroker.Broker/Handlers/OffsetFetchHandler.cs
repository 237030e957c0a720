using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// OffsetFetch (key 9), v1–10. Returns the committed offset, leader epoch (v5+) and metadata of each
/// requested partition, or offset -1 / epoch -1 / metadata "" for partitions without a commit (and
/// for unknown groups), with no error. Null topics (v2+) mean every partition the group committed.
/// v2–7 have a top-level error; v8+ batch groups with an error per group; v7+ carry require_stable:
/// a partition with pending transactional offsets (a TxnOffsetCommit whose transaction has not ended)
/// then answers UNSTABLE_OFFSET_COMMIT with offset -1 (only per partition, as Kafka), while without it
/// the last committed offset is returned; v10 names topics by id (an unknown id answers UNKNOWN_TOPIC_ID
/// for its partitions).
/// </summary>
public sealed class OffsetFetchHandler(BrokerContext broker) : ApiHandler<OffsetFetchRequest, OffsetFetchResponse>
{
    public override ApiKey Key => ApiKey.OffsetFetch;

    public override short MinVersion => 1;

    public override short MaxVersion => 10;

    protected override ValueTask<OffsetFetchResponse?> HandleAsync(RequestContext context, OffsetFetchRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var requireStable = version >= 7 && request.RequireStable;
        var response = new OffsetFetchResponse();
        if (version < 8)
        {
            if (version >= 2 && broker.GroupCoordinator.CoordinatorError(request.GroupId) is var shardError && shardError != ErrorCode.None)
            {
                // The group's coordinator shard is not active here (Kafka's CoordinatorRuntime answers from its state).
                response.ErrorCode = (short)shardError;
                return ValueTask.FromResult<OffsetFetchResponse?>(response);
            }

            List<(string Name, List<int>? Partitions)>? requested = null;
            if (request.Topics is { } topics)
            {
                requested = new List<(string, List<int>?)>(topics.Count);
                foreach (var topic in topics)
                {
                    requested.Add((topic.Name, topic.PartitionIndexes));
                }
            }

            foreach (var (name, _, partitions) in Fetch(request.GroupId, requested, version, requireStable))
            {
                var topicResponse = new OffsetFetchResponse.OffsetFetchResponseTopic { Name = name };
                foreach (var (index, offset, error) in partitions)
                {
                    topicResponse.Partitions.Add(new OffsetFetchResponse.OffsetFetchResponsePartition
                    {
                        PartitionIndex = index,
                        CommittedOffset = offset.Offset,
                        CommittedLeaderEpoch = version >= 5 ? offset.LeaderEpoch : -1,
                        Metadata = offset.Metadata,
                        ErrorCode = (short)error,
                    });
                }

                response.Topics.Add(topicResponse);
            }

            return ValueTask.FromResult<OffsetFetchResponse?>(response);
        }

        var image = broker.Metadata.Image;
        foreach (var group in request.Groups)
        {
            List<(string Name, List<int>? Partitions)>? requested = null;
            if (group.Topics is { } topics)
            {
                requested = new List<(string, List<int>?)>(topics.Count);
                foreach (var topic in topics)
                {
                    var name = version >= 10 ? image.GetTopic(topic.TopicId)?.Name : topic.Name;
                    requested.Add((name ?? UnknownTopicIdMarker + topic.TopicId, topic.PartitionIndexes));
                }
            }

            var groupResponse = new OffsetFetchResponse.OffsetFetchResponseGroup { GroupId = group.GroupId };
            if (broker.GroupCoordinator.CoordinatorError(group.GroupId) is var shardError && shardError != ErrorCode.None)
            {
                groupResponse.ErrorCode = (short)shardError;
                response.Groups.Add(groupResponse);
                continue;
            }

            if (version >= 9 && broker.GroupCoordinator.ValidateOffsetFetch(group.GroupId, group.MemberId, group.MemberEpoch) is var memberError && memberError != ErrorCode.None)
            {
                // v9+: a consumer group member must send its current epoch (STALE_MEMBER_EPOCH / UNKNOWN_MEMBER_ID).
                groupResponse.ErrorCode = (short)memberError;
                response.Groups.Add(groupResponse);
                continue;
            }

            foreach (var (name, unknownId, partitions) in Fetch(group.GroupId, requested, version, requireStable))
            {
                var topicId = default(KafkaUuid);
                if (version >= 10)
                {
                    topicId = unknownId ?? image.GetTopic(name)?.Id ?? default;
                }

                var topicResponse = new OffsetFetchResponse.OffsetFetchResponseTopics { Name = version >= 10 ? "" : name, TopicId = topicId };
                foreach (var (index, offset, error) in partitions)
                {
                    topicResponse.Partitions.Add(new OffsetFetchResponse.OffsetFetchResponsePartitions
                    {
                        PartitionIndex = index,
                        CommittedOffset = offset.Offset,
                        CommittedLeaderEpoch = offset.LeaderEpoch,
                        Metadata = offset.Metadata,
                        ErrorCode = (short)error,
                    });
                }

                groupResponse.Topics.Add(topicResponse);
            }

            response.Groups.Add(groupResponse);
        }

        return ValueTask.FromResult<OffsetFetchResponse?>(response);
    }

    private const string UnknownTopicIdMarker = "\0unknown-topic-id:";

    private static readonly Coordinator.CommittedOffset NoOffset = new(-1, -1, "", -1);

    private List<(string Name, KafkaUuid? UnknownId, List<(int Index, Coordinator.CommittedOffset Offset, ErrorCode Error)> Partitions)> Fetch(
        string groupId, List<(string Name, List<int>? Partitions)>? requested, short version, bool requireStable)
    {
        var coordinator = broker.GroupCoordinator;
        var store = coordinator.Offsets;
        var result = new List<(string, KafkaUuid?, List<(int, Coordinator.CommittedOffset, ErrorCode)>)>();
        if (requested is null)
        {
            string? current = null;
            List<(int, Coordinator.CommittedOffset, ErrorCode)>? partitions = null;
            foreach (var (tp, offset) in store.GetAll(groupId))
            {
                if (version >= 10 && broker.Metadata.Image.GetTopic(tp.Topic) is null)
                {
                    continue;
                }

                if (tp.Topic != current)
                {
                    current = tp.Topic;
                    partitions = [];
                    result.Add((tp.Topic, null, partitions));
                }

                partitions!.Add(requireStable && coordinator.HasPendingTransactionalOffset(groupId, tp)
                    ? (tp.Partition, NoOffset, ErrorCode.UnstableOffsetCommit)
                    : (tp.Partition, offset, ErrorCode.None));
            }

            return result;
        }

        foreach (var (name, indexes) in requested)
        {
            var partitions = new List<(int, Coordinator.CommittedOffset, ErrorCode)>();
            KafkaUuid? unknownId = null;
            if (name.StartsWith(UnknownTopicIdMarker, StringComparison.Ordinal))
            {
                unknownId = KafkaUuid.Parse(name[UnknownTopicIdMarker.Length..]);
            }

            foreach (var index in indexes ?? [])
            {
                if (unknownId is not null)
                {
                    partitions.Add((index, NoOffset, ErrorCode.UnknownTopicId));
                }
                else if (requireStable && coordinator.HasPendingTransactionalOffset(groupId, new TopicPartition(name, index)))
                {
                    partitions.Add((index, NoOffset, ErrorCode.UnstableOffsetCommit));
                }
                else
                {
                    partitions.Add((index, store.TryGet(groupId, new TopicPartition(name, index), out var offset) ? offset : NoOffset, ErrorCode.None));
                }
            }

            result.Add((unknownId is null ? name : "", unknownId, partitions));
        }

        return result;
    }
}
