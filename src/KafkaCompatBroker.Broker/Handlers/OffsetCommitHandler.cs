using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// OffsetCommit (key 8), v2–10 (Kafka 4.3's range), classic groups. Offsets are kept by the
/// <see cref="Coordinator.GroupCoordinator"/>'s offset store with their metadata and leader epoch
/// (v6+), persisted in <c>__consumer_offsets</c> (one batch per request). As Kafka's KafkaApis, topics and
/// partitions are checked first, whatever the group: an unknown topic id (v10) is UNKNOWN_TOPIC_ID, an unknown
/// topic or partition UNKNOWN_TOPIC_OR_PARTITION, and the valid partitions of the same request are still
/// committed. The group check applies to every valid partition: a simple commit (generation -1, no member id)
/// is accepted for a group without members; otherwise UNKNOWN_MEMBER_ID / FENCED_INSTANCE_ID (v7+
/// static members) / ILLEGAL_GENERATION / REBALANCE_IN_PROGRESS as Kafka; a missing group with a
/// generation is ILLEGAL_GENERATION before v9 and GROUP_ID_NOT_FOUND from v9. Metadata longer than
/// offset.metadata.max.bytes is OFFSET_METADATA_TOO_LARGE per partition. v2–4 carry a retention time
/// (ignored, as Kafka 4 ignores it); v10 names topics by id.
/// </summary>
public sealed class OffsetCommitHandler(BrokerContext broker) : ApiHandler<OffsetCommitRequest, OffsetCommitResponse>
{
    public override ApiKey Key => ApiKey.OffsetCommit;

    public override short MinVersion => 2;

    public override short MaxVersion => 10;

    protected override async ValueTask<OffsetCommitResponse?> HandleAsync(RequestContext context, OffsetCommitRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var coordinator = broker.GroupCoordinator;
        var image = broker.Metadata.Image;
        var response = new OffsetCommitResponse();
        var toCommit = new List<OffsetToCommit>();
        var committedPartitions = new List<OffsetCommitResponse.OffsetCommitResponsePartition>();
        foreach (var topic in request.Topics)
        {
            var known = version >= 10 ? image.GetTopic(topic.TopicId) : image.GetTopic(topic.Name);
            var name = known?.Name ?? topic.Name;
            var topicResponse = new OffsetCommitResponse.OffsetCommitResponseTopic { Name = version >= 10 ? "" : topic.Name, TopicId = version >= 10 ? topic.TopicId : default };
            foreach (var partition in topic.Partitions)
            {
                var valid = known is not null && known.Partitions.ContainsKey(partition.PartitionIndex);
                var error = known is null
                    ? version >= 10 ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition
                    : valid ? ErrorCode.None : ErrorCode.UnknownTopicOrPartition;
                var partitionResponse = new OffsetCommitResponse.OffsetCommitResponsePartition { PartitionIndex = partition.PartitionIndex, ErrorCode = (short)error };
                if (valid)
                {
                    toCommit.Add(new OffsetToCommit(
                        new TopicPartition(name, partition.PartitionIndex), partition.CommittedOffset, version >= 6 ? partition.CommittedLeaderEpoch : -1, partition.CommittedMetadata));
                    committedPartitions.Add(partitionResponse);
                }

                topicResponse.Partitions.Add(partitionResponse);
            }

            response.Topics.Add(topicResponse);
        }

        // The group is checked only when the request has a valid partition, as Kafka does. The checks and the write
        // (one batch in __consumer_offsets for the whole request) are one shard operation.
        if (toCommit.Count > 0)
        {
            var errors = request.GroupId.Length == 0
                ? Enumerable.Repeat(ErrorCode.InvalidGroupId, toCommit.Count).ToArray()
                : await coordinator.CommitOffsetsAsync(
                    new OffsetCommitParams(
                        request.GroupId,
                        request.GenerationIdOrMemberEpoch,
                        request.MemberId,
                        version >= 7 ? request.GroupInstanceId : null,
                        GroupIdNotFoundSupported: version >= 9,
                        ValidatePartitionEpochs: version >= 9),
                    toCommit).ConfigureAwait(false);
            for (var i = 0; i < errors.Length; i++)
            {
                committedPartitions[i].ErrorCode = (short)errors[i];
            }
        }

        return response;
    }
}
