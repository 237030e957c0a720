using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// Metadata (key 3), v0–13, as Kafka's KafkaApis.handleTopicMetadataRequest on a KRaft broker answers it.
/// Brokers are the unfenced registered brokers with an endpoint on the client's listener; the controller id
/// is this node (v1+); cluster id v2+. A null topic list (v1+), or an empty one in v0, means every topic.
/// Topics by id (v12+; a non-zero id or null name in v10–11 is an invalid request, answered with
/// INVALID_REQUEST on every topic): an unknown id gets UNKNOWN_TOPIC_ID with a null name. Missing topics are
/// auto-created when auto.create.topics.enable and allow_auto_topic_creation (v4+; always for v0–3) allow it,
/// with num.partitions and default.replication.factor, and — the creation being synchronous here — answered
/// with the new partitions; names starting with "__" are not auto-created. A request whose missing topics would
/// write more than 10,000 records (a TopicRecord and num.partitions PartitionRecords each) creates none and
/// answers them LEADER_NOT_AVAILABLE, as Kafka's broker does when its controller refuses the batch. Otherwise a missing topic gets
/// UNKNOWN_TOPIC_OR_PARTITION, an illegal name INVALID_TOPIC_EXCEPTION. Partitions carry the leader epoch (v7+)
/// and offline replicas (v5+); a leader without the listener is LEADER_NOT_AVAILABLE (LISTENER_NOT_FOUND v6+),
/// and v0 filters unavailable replicas with REPLICA_NOT_AVAILABLE. Authorized operations (v8+, cluster v8–10)
/// are the full bitfields when requested (no authorizer), -2147483648 otherwise.
/// </summary>
public sealed class MetadataHandler(BrokerContext broker) : ApiHandler<MetadataRequest, MetadataResponse>
{
    public override ApiKey Key => ApiKey.Metadata;

    private static bool IsAutoCreatable(string name) => !name.StartsWith("__", StringComparison.Ordinal);

    /// <summary>
    /// Kafka's AutoTopicCreationManager sends the request's missing topics to the controller as one CreateTopics
    /// request, which its record bound (ReplicationControlManager.validateTotalNumberOfPartitions, then the
    /// TopicRecord and num.partitions PartitionRecords of each) refuses whole when it is too large: nothing is created.
    /// </summary>
    private bool AutoCreationFits(ClusterImage image, List<string> requested)
    {
        long topics = 0;
        foreach (var name in requested)
        {
            if (image.GetTopic(name) is null && ClusterController.ValidateTopicName(name) is null && IsAutoCreatable(name))
            {
                topics++;
            }
        }

        // The records bound implies the partitions bound: each topic writes its partitions plus a TopicRecord.
        long partitions = Math.Max(broker.Settings.DefaultNumPartitions, 0);
        return topics * (1 + partitions) <= ClusterController.MaxRecordsPerUserOperation;
    }

    public override short MinVersion => 0;

    public override short MaxVersion => 13;

    protected override async ValueTask<MetadataResponse?> HandleAsync(RequestContext context, MetadataRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var allTopics = request.Topics is null || (request.Topics.Count == 0 && version == 0);
        if (!allTopics && version < 12)
        {
            foreach (var topic in request.Topics!)
            {
                if (topic.Name is null || topic.TopicId != KafkaUuid.Zero)
                {
                    return InvalidRequest(request);
                }
            }
        }

        var listener = TopicAdmin.ListenerFor(broker, context);
        var image = broker.Metadata.Image;
        var response = new MetadataResponse
        {
            ClusterId = version >= 2 ? image.ClusterId : null,
            ControllerId = version >= 1 ? broker.Settings.NodeId : -1,
        };

        var requested = new List<string>();
        if (allTopics)
        {
            requested.AddRange(image.TopicsByName.Keys);
        }
        else
        {
            var seenIds = new HashSet<KafkaUuid>();
            var useIds = false;
            foreach (var topic in request.Topics!)
            {
                if (topic.TopicId != KafkaUuid.Zero)
                {
                    useIds = true;
                    if (!seenIds.Add(topic.TopicId))
                    {
                        continue;
                    }

                    if (image.GetTopic(topic.TopicId) is { } known)
                    {
                        requested.Add(known.Name);
                    }
                    else
                    {
                        response.Topics.Add(new MetadataResponse.MetadataResponseTopic
                        {
                            ErrorCode = (short)ErrorCode.UnknownTopicId,
                            Name = null,
                            TopicId = topic.TopicId,
                        });
                    }
                }
            }

            if (!useIds)
            {
                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var topic in request.Topics!)
                {
                    if (topic.Name is { } name && seen.Add(name))
                    {
                        requested.Add(name);
                    }
                }
            }
        }

        var autoCreate = broker.Settings.AutoCreateTopics && request.AllowAutoTopicCreation && !allTopics;
        var refused = autoCreate && !AutoCreationFits(image, requested);
        foreach (var name in requested)
        {
            var topic = image.GetTopic(name);
            if (topic is null && !allTopics)
            {
                var error = ClusterController.ValidateTopicName(name) is null ? ErrorCode.UnknownTopicOrPartition : ErrorCode.InvalidTopicException;
                if (refused && error == ErrorCode.UnknownTopicOrPartition && IsAutoCreatable(name))
                {
                    // Kafka's broker answers topics whose creation it forwarded LEADER_NOT_AVAILABLE; its controller refuses the batch.
                    error = ErrorCode.LeaderNotAvailable;
                }
                else if (autoCreate && error == ErrorCode.UnknownTopicOrPartition && IsAutoCreatable(name))
                {
                    var created = await broker.Controller.CreateTopicAsync(name, broker.Settings.DefaultNumPartitions, broker.Settings.DefaultReplicationFactor);
                    if (created.IsSuccess || created.Error == ErrorCode.TopicAlreadyExists)
                    {
                        image = broker.Metadata.Image;
                        topic = image.GetTopic(name);
                    }
                }

                if (topic is null)
                {
                    response.Topics.Add(new MetadataResponse.MetadataResponseTopic
                    {
                        ErrorCode = (short)error,
                        Name = name,
                        IsInternal = TopicAdmin.IsInternal(name),
                    });
                    continue;
                }
            }

            if (topic is not null)
            {
                response.Topics.Add(TopicMetadata(image, topic, listener, version));
            }
        }

        if (version >= 8)
        {
            if (request.IncludeTopicAuthorizedOperations)
            {
                foreach (var topic in response.Topics)
                {
                    topic.TopicAuthorizedOperations = TopicAdmin.TopicAuthorizedOperations;
                }
            }

            if (version <= 10 && request.IncludeClusterAuthorizedOperations)
            {
                response.ClusterAuthorizedOperations = TopicAdmin.ClusterAuthorizedOperations;
            }
        }

        foreach (var registration in image.Brokers.Values)
        {
            if (!registration.Fenced && TopicAdmin.EndpointOf(registration, listener) is { } endpoint)
            {
                response.Brokers.Add(new MetadataResponse.MetadataResponseBroker
                {
                    NodeId = registration.BrokerId,
                    Host = endpoint.Host,
                    Port = endpoint.Port,
                    Rack = version >= 1 ? registration.Rack : null,
                });
            }
        }

        return response;
    }

    private static MetadataResponse.MetadataResponseTopic TopicMetadata(ClusterImage image, TopicImage topic, string listener, short version)
    {
        var result = new MetadataResponse.MetadataResponseTopic
        {
            Name = topic.Name,
            TopicId = version >= 10 ? topic.Id : KafkaUuid.Zero,
            IsInternal = TopicAdmin.IsInternal(topic.Name),
        };
        var errorUnavailableEndpoints = version == 0;
        foreach (var partition in topic.Partitions.Values)
        {
            var replicas = errorUnavailableEndpoints ? TopicAdmin.AliveReplicas(image, partition.Replicas, listener) : [.. partition.Replicas];
            var isr = errorUnavailableEndpoints ? TopicAdmin.AliveReplicas(image, partition.Isr, listener) : [.. partition.Isr];
            var item = new MetadataResponse.MetadataResponsePartition
            {
                PartitionIndex = partition.PartitionId,
                LeaderEpoch = version >= 7 ? partition.LeaderEpoch : -1,
                ReplicaNodes = replicas,
                IsrNodes = isr,
                OfflineReplicas = version >= 5 ? TopicAdmin.OfflineReplicas(image, partition, listener) : [],
            };
            if (TopicAdmin.LeaderReachable(image, partition, listener))
            {
                item.LeaderId = partition.Leader;
                item.ErrorCode = (short)(replicas.Count < partition.Replicas.Length || isr.Count < partition.Isr.Length ? ErrorCode.ReplicaNotAvailable : ErrorCode.None);
            }
            else
            {
                item.LeaderId = -1;
                item.ErrorCode = (short)(image.Brokers.ContainsKey(partition.Leader) && version >= 6 ? ErrorCode.ListenerNotFound : ErrorCode.LeaderNotAvailable);
            }

            result.Partitions.Add(item);
        }

        return result;
    }

    /// <summary>Kafka's MetadataRequest.getErrorResponse for an InvalidRequestException: each requested topic with INVALID_REQUEST.</summary>
    private static MetadataResponse InvalidRequest(MetadataRequest request)
    {
        var response = new MetadataResponse();
        foreach (var topic in request.Topics!)
        {
            response.Topics.Add(new MetadataResponse.MetadataResponseTopic
            {
                ErrorCode = (short)ErrorCode.InvalidRequest,
                Name = topic.Name ?? "",
                TopicId = topic.TopicId,
            });
        }

        return response;
    }
}
