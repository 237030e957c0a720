using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DescribeTopicPartitions (key 75), v0, as Kafka's DescribeTopicPartitionsRequestHandler and
/// KRaftMetadataCache answer it. An empty topic list means every topic. Topics are answered in name order from
/// the cursor's topic on (names sorting before it are skipped), the cursor's topic from the cursor's partition,
/// at most min(response_partition_limit, 2000) partitions in all (max.request.partition.size.limit). When a
/// topic does not fit, next_cursor names it and the first partition left out; when the limit is used up exactly
/// before a topic, next_cursor points at that topic's partition 0. Named topics that do not exist get
/// UNKNOWN_TOPIC_OR_PARTITION (INVALID_TOPIC_EXCEPTION for illegal names); with a topic list the cursor's topic
/// must be in it, and the cursor's partition must not be negative, otherwise every topic gets INVALID_REQUEST. Topic authorized operations are always the full
/// bitfield (no authorizer); eligible leader replicas and last known ELR are empty lists.
/// </summary>
public sealed class DescribeTopicPartitionsHandler(BrokerContext broker) : ApiHandler<DescribeTopicPartitionsRequest, DescribeTopicPartitionsResponse>
{
    /// <summary>Kafka's max.request.partition.size.limit default.</summary>
    private const int MaxRequestPartitionSizeLimit = 2000;

    public override ApiKey Key => ApiKey.DescribeTopicPartitions;

    public override short MinVersion => 0;

    public override short MaxVersion => 0;

    protected override ValueTask<DescribeTopicPartitionsResponse?> HandleAsync(RequestContext context, DescribeTopicPartitionsRequest request, CancellationToken cancellationToken)
    {
        var image = broker.Metadata.Image;
        var listener = TopicAdmin.ListenerFor(broker, context);
        var fetchAll = request.Topics.Count == 0;
        var cursorTopic = request.Cursor?.TopicName ?? "";
        var names = new SortedSet<string>(StringComparer.Ordinal);
        if (fetchAll)
        {
            foreach (var name in image.TopicsByName.Keys)
            {
                if (string.CompareOrdinal(name, cursorTopic) >= 0)
                {
                    names.Add(name);
                }
            }
        }
        else
        {
            foreach (var topic in request.Topics)
            {
                if (string.CompareOrdinal(topic.Name, cursorTopic) >= 0)
                {
                    names.Add(topic.Name);
                }
            }

            if (request.Cursor is { } cursor && !names.Contains(cursor.TopicName))
            {
                return ValueTask.FromResult<DescribeTopicPartitionsResponse?>(InvalidRequest(request));
            }
        }

        // DescribeTopicPartitionsRequestHandler: "cursor partition must be valid" (INVALID_REQUEST); a negative
        // start would otherwise walk up to 2^31 partition ids.
        if (request.Cursor is { PartitionIndex: < 0 })
        {
            return ValueTask.FromResult<DescribeTopicPartitionsResponse?>(InvalidRequest(request));
        }

        var firstPartition = cursorTopic.Length > 0 ? request.Cursor!.PartitionIndex : 0;
        var remaining = Math.Min(MaxRequestPartitionSizeLimit, request.ResponsePartitionLimit);
        var response = new DescribeTopicPartitionsResponse();
        foreach (var name in names)
        {
            if (remaining > 0)
            {
                var topic = image.GetTopic(name);
                if (topic is null)
                {
                    if (!fetchAll)
                    {
                        response.Topics.Add(new DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponseTopic
                        {
                            ErrorCode = (short)(ClusterController.ValidateTopicName(name) is null ? ErrorCode.UnknownTopicOrPartition : ErrorCode.InvalidTopicException),
                            Name = name,
                            IsInternal = TopicAdmin.IsInternal(name),
                            TopicAuthorizedOperations = TopicAdmin.TopicAuthorizedOperations,
                        });
                    }

                    continue;
                }

                var start = name == cursorTopic ? firstPartition : 0;
                var result = new DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponseTopic
                {
                    Name = name,
                    TopicId = topic.Id,
                    IsInternal = TopicAdmin.IsInternal(name),
                    TopicAuthorizedOperations = TopicAdmin.TopicAuthorizedOperations,
                };
                var count = topic.Partitions.Count;
                var upper = (int)Math.Min(count, (long)start + remaining);
                var next = upper < count ? upper : -1;
                for (var id = start; id < upper; id++)
                {
                    if (topic.Partitions.TryGetValue(id, out var partition))
                    {
                        result.Partitions.Add(Partition(image, partition, listener));
                    }
                }

                response.Topics.Add(result);
                if (next != -1)
                {
                    response.NextCursor = new DescribeTopicPartitionsResponse.Cursor { TopicName = name, PartitionIndex = next };
                    break;
                }

                remaining -= result.Partitions.Count;
            }
            else if (remaining == 0)
            {
                response.NextCursor = new DescribeTopicPartitionsResponse.Cursor { TopicName = name, PartitionIndex = 0 };
                break;
            }
        }

        return ValueTask.FromResult<DescribeTopicPartitionsResponse?>(response);
    }

    private static DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponsePartition Partition(ClusterImage image, PartitionImage partition, string listener) => new()
    {
        PartitionIndex = partition.PartitionId,
        LeaderId = TopicAdmin.LeaderReachable(image, partition, listener) ? partition.Leader : -1,
        LeaderEpoch = partition.LeaderEpoch,
        ReplicaNodes = [.. partition.Replicas],
        IsrNodes = [.. partition.Isr],
        EligibleLeaderReplicas = [],
        LastKnownElr = [],
        OfflineReplicas = TopicAdmin.OfflineReplicas(image, partition, listener),
    };

    /// <summary>Kafka's DescribeTopicPartitionsRequest.getErrorResponse: every requested topic with INVALID_REQUEST.</summary>
    private static DescribeTopicPartitionsResponse InvalidRequest(DescribeTopicPartitionsRequest request)
    {
        var response = new DescribeTopicPartitionsResponse();
        foreach (var topic in request.Topics)
        {
            response.Topics.Add(new DescribeTopicPartitionsResponse.DescribeTopicPartitionsResponseTopic
            {
                ErrorCode = (short)ErrorCode.InvalidRequest,
                Name = topic.Name,
            });
        }

        return response;
    }
}
