using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DeleteTopics (key 20), v1–6, as Kafka's ControllerApis.deleteTopics answers it. v1–5 name topics
/// (topic_names); v6 names them or gives their ids (topics), never both ("You may not specify both topic name
/// and topic id.") and never neither. Duplicates are INVALID_REQUEST ("Duplicate topic name." / "Duplicate topic
/// id."); an unknown name is UNKNOWN_TOPIC_OR_PARTITION, an unknown id UNKNOWN_TOPIC_ID, each with Kafka's
/// default message (error_message v5+). When delete.topic.enable is false every topic gets
/// TOPIC_DELETION_DISABLED (v3+) or INVALID_REQUEST (v1–2). The deleted topic's partition logs are removed by
/// the ReplicaManager when the metadata change is published. ONE-REPLICA: a single node commits at once, so timeout_ms
/// never expires.
/// </summary>
public sealed class DeleteTopicsHandler(BrokerContext broker) : ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse>
{
    public override ApiKey Key => ApiKey.DeleteTopics;

    public override short MinVersion => 1;

    public override short MaxVersion => 6;

    protected override async ValueTask<DeleteTopicsResponse?> HandleAsync(RequestContext context, DeleteTopicsRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var response = new DeleteTopicsResponse();
        var topics = new List<(string? Name, KafkaUuid Id)>();
        if (version >= 6)
        {
            foreach (var topic in request.Topics)
            {
                topics.Add((topic.Name, topic.TopicId));
            }
        }
        else
        {
            foreach (var name in request.TopicNames)
            {
                topics.Add((name, KafkaUuid.Zero));
            }
        }

        if (!broker.Settings.Config.GetBool("delete.topic.enable"))
        {
            var error = version < 3 ? ErrorCode.InvalidRequest : ErrorCode.TopicDeletionDisabled;
            foreach (var (name, id) in topics)
            {
                response.Responses.Add(new DeleteTopicsResponse.DeletableTopicResult { Name = name ?? "", TopicId = id, ErrorCode = (short)error });
            }

            return response;
        }

        var nameCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        var idCounts = new Dictionary<KafkaUuid, int>();
        foreach (var (name, id) in topics)
        {
            if (name is not null && id == KafkaUuid.Zero)
            {
                nameCounts[name] = nameCounts.GetValueOrDefault(name) + 1;
            }
            else if (name is null && id != KafkaUuid.Zero)
            {
                idCounts[id] = idCounts.GetValueOrDefault(id) + 1;
            }
        }

        var reported = new HashSet<(string?, KafkaUuid)>();
        var deletedIds = new HashSet<KafkaUuid>();
        foreach (var (name, id) in topics)
        {
            if (name is null && id == KafkaUuid.Zero)
            {
                Add(response, version, null, KafkaUuid.Zero, ErrorCode.InvalidRequest, "Neither topic name nor id were specified.");
            }
            else if (name is not null && id != KafkaUuid.Zero)
            {
                Add(response, version, name, id, ErrorCode.InvalidRequest, "You may not specify both topic name and topic id.");
            }
            else if (name is not null)
            {
                if (nameCounts[name] > 1)
                {
                    if (reported.Add((name, KafkaUuid.Zero)))
                    {
                        Add(response, version, name, KafkaUuid.Zero, ErrorCode.InvalidRequest, "Duplicate topic name.");
                    }

                    continue;
                }

                var known = broker.Metadata.Image.GetTopic(name);
                if (known is null)
                {
                    Add(response, version, name, KafkaUuid.Zero, ErrorCode.UnknownTopicOrPartition, TopicAdmin.UnknownTopicOrPartitionMessage);
                }
                else if (idCounts.ContainsKey(known.Id) || deletedIds.Contains(known.Id))
                {
                    Add(response, version, name, KafkaUuid.Zero, ErrorCode.InvalidRequest, "The provided topic name maps to an ID that was already supplied.");
                }
                else
                {
                    var result = await broker.Controller.DeleteTopicAsync(name);
                    deletedIds.Add(result.TopicId);
                    Add(response, version, name, result.TopicId, result.Error, result.IsSuccess ? null : result.ErrorMessage);
                }
            }
            else
            {
                if (idCounts[id] > 1)
                {
                    if (reported.Add((null, id)))
                    {
                        Add(response, version, null, id, ErrorCode.InvalidRequest, "Duplicate topic id.");
                    }

                    continue;
                }

                var known = broker.Metadata.Image.GetTopic(id);
                if (known is null)
                {
                    Add(response, version, null, id, ErrorCode.UnknownTopicId, TopicAdmin.UnknownTopicIdMessage);
                }
                else
                {
                    var result = await broker.Controller.DeleteTopicAsync(id);
                    deletedIds.Add(id);
                    Add(response, version, result.Name, id, result.Error, result.IsSuccess ? null : result.ErrorMessage);
                }
            }
        }

        return response;
    }

    private static void Add(DeleteTopicsResponse response, short version, string? name, KafkaUuid id, ErrorCode error, string? message) =>
        response.Responses.Add(new DeleteTopicsResponse.DeletableTopicResult
        {
            Name = name,
            TopicId = version >= 6 ? id : KafkaUuid.Zero,
            ErrorCode = (short)error,
            ErrorMessage = version >= 5 ? message : null,
        });
}
