using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// OffsetDelete (key 47), v0: deletes a group's committed offsets for the given partitions. As Kafka's
/// KafkaApis: partitions of unknown topics, and unknown partitions, are UNKNOWN_TOPIC_OR_PARTITION
/// (listed first); the rest go to the coordinator, which answers GROUP_SUBSCRIBED_TO_TOPIC for topics
/// an active "consumer" group subscribes to. A group error (INVALID_GROUP_ID, GROUP_ID_NOT_FOUND,
/// NON_EMPTY_GROUP for an active group of another protocol type) replaces every partition result.
/// </summary>
public sealed class OffsetDeleteHandler(BrokerContext broker) : ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse>
{
    public override ApiKey Key => ApiKey.OffsetDelete;

    public override short MinVersion => 0;

    public override short MaxVersion => 0;

    protected override ValueTask<OffsetDeleteResponse?> HandleAsync(RequestContext context, OffsetDeleteRequest request, CancellationToken cancellationToken)
    {
        var image = broker.Metadata.Image;
        var response = new OffsetDeleteResponse();
        var toDelete = new List<(string Topic, IReadOnlyList<int> Partitions)>(request.Topics.Count);
        foreach (var topic in request.Topics)
        {
            var partitions = image.GetTopic(topic.Name)?.Partitions;
            var existing = new List<int>(topic.Partitions.Count);
            foreach (var partition in topic.Partitions)
            {
                if (partitions is not null && partitions.ContainsKey(partition.PartitionIndex))
                {
                    existing.Add(partition.PartitionIndex);
                }
                else
                {
                    AddPartition(response, topic.Name, partition.PartitionIndex, ErrorCode.UnknownTopicOrPartition);
                }
            }

            if (existing.Count > 0)
            {
                toDelete.Add((topic.Name, existing));
            }
        }

        var result = broker.GroupCoordinator.DeleteOffsets(request.GroupId, toDelete);
        if (result.Error != ErrorCode.None)
        {
            return ValueTask.FromResult<OffsetDeleteResponse?>(new OffsetDeleteResponse { ErrorCode = (short)result.Error });
        }

        foreach (var (topic, partitions) in result.Topics)
        {
            foreach (var (partition, error) in partitions)
            {
                AddPartition(response, topic, partition, error);
            }
        }

        return ValueTask.FromResult<OffsetDeleteResponse?>(response);
    }

    /// <summary>Adds a partition result under its topic's entry (created on first use), as Kafka's response builder.</summary>
    private static void AddPartition(OffsetDeleteResponse response, string topic, int partition, ErrorCode error)
    {
        OffsetDeleteResponse.OffsetDeleteResponseTopic? entry = null;
        foreach (var t in response.Topics)
        {
            if (t.Name == topic)
            {
                entry = t;
                break;
            }
        }

        if (entry is null)
        {
            entry = new OffsetDeleteResponse.OffsetDeleteResponseTopic { Name = topic };
            response.Topics.Add(entry);
        }

        entry.Partitions.Add(new OffsetDeleteResponse.OffsetDeleteResponsePartition { PartitionIndex = partition, ErrorCode = (short)error });
    }
}
