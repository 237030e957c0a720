using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// CreateTopics (key 19), v2–7, as Kafka's controller (ControllerApis.createTopics and
/// ReplicationControlManager) answers it. num_partitions / replication_factor -1 take num.partitions /
/// default.replication.factor; explicit assignments need both to be -1; configs are validated; validate_only
/// creates nothing. A name given twice is INVALID_REQUEST "Duplicate topic name.", and __cluster_metadata
/// cannot be created. Every result carries an error message (v1+; null on success). On success v5+ returns the
/// partition count, replication factor and every effective topic config with its source (read-only and
/// sensitive are false for topic configs); v7 returns the topic id. A request asking for more than 10,000
/// partitions, or whose records would not fit in one operation's bound, fails whole with POLICY_VIOLATION before
/// anything is placed. ONE-REPLICA: a single node commits at once, so timeout_ms never expires.
/// </summary>
public sealed class CreateTopicsHandler(BrokerContext broker) : ApiHandler<CreateTopicsRequest, CreateTopicsResponse>
{
    public override ApiKey Key => ApiKey.CreateTopics;

    public override short MinVersion => 2;

    public override short MaxVersion => 7;

    protected override async ValueTask<CreateTopicsResponse?> HandleAsync(RequestContext context, CreateTopicsRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var topic in request.Topics)
        {
            counts[topic.Name] = counts.GetValueOrDefault(topic.Name) + 1;
        }

        // The controller gets the request without duplicates and __cluster_metadata (ControllerApis.createTopics).
        var toCreate = new List<CreateTopicsRequest.CreatableTopic>(request.Topics.Count);
        foreach (var topic in request.Topics)
        {
            if (counts[topic.Name] == 1 && topic.Name != MetadataStore.MetadataTopicName)
            {
                toCreate.Add(topic);
            }
        }

        if (await ExceedsRecordBudgetAsync(toCreate, version) is { } tooLarge)
        {
            return FailAll(request, tooLarge);
        }

        var response = new CreateTopicsResponse();
        var duplicatesReported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var topic in request.Topics)
        {
            if (counts[topic.Name] > 1)
            {
                if (duplicatesReported.Add(topic.Name))
                {
                    response.Topics.Add(Failed(topic.Name, ErrorCode.InvalidRequest, "Duplicate topic name."));
                }

                continue;
            }

            if (topic.Name == MetadataStore.MetadataTopicName)
            {
                response.Topics.Add(Failed(topic.Name, ErrorCode.InvalidRequest, $"Creation of internal topic {MetadataStore.MetadataTopicName} is prohibited."));
                continue;
            }

            response.Topics.Add((await CreateAsync(topic, request.validateOnly, version)).Result);
        }

        return response;
    }

    /// <summary>
    /// Kafka's controller collects the records of all the request's topics in one list bounded at
    /// <see cref="ClusterController.MaxRecordsPerUserOperation"/>. ReplicationControlManager.validateTotalNumberOfPartitions
    /// first refuses more partitions than that in all (-1: num.partitions; explicit assignments: their count); then the
    /// TopicRecord, ConfigRecords and PartitionRecords of the topics that pass validation must fit too, validate_only
    /// or not, else the overflow fails the operation (EventHandlerExceptionInfo: POLICY_VIOLATION). Either failure
    /// fails every topic of the request (CreateTopicsRequest.getErrorResponse). Returns that message, or null.
    /// </summary>
    private async ValueTask<string?> ExceedsRecordBudgetAsync(List<CreateTopicsRequest.CreatableTopic> toCreate, short version)
    {
        long partitions = 0;
        long records = 0;
        foreach (var topic in toCreate)
        {
            long count = topic.Assignments.Count > 0 ? topic.Assignments.Count
                : topic.NumPartitions == -1 ? broker.Settings.DefaultNumPartitions
                : Math.Max(topic.NumPartitions, 0);
            partitions += count;
            records += 1 + topic.Configs.Count + count;
        }

        if (partitions > ClusterController.MaxRecordsPerUserOperation)
        {
            return ClusterController.ExcessivePartitionsMessage;
        }

        if (records <= ClusterController.MaxRecordsPerUserOperation)
        {
            return null;
        }

        // Near the bound only the topics that would be created count: validate them all first (at most 10,000 partitions).
        records = 0;
        foreach (var topic in toCreate)
        {
            var (result, written) = await CreateAsync(topic, validateOnly: true, version);
            if (result.ErrorCode == 0)
            {
                records += written;
            }
        }

        return records > ClusterController.MaxRecordsPerUserOperation ? ClusterController.ExcessiveBatchMessage : null;
    }

    private static CreateTopicsResponse FailAll(CreateTopicsRequest request, string message)
    {
        var response = new CreateTopicsResponse();
        foreach (var topic in request.Topics)
        {
            response.Topics.Add(Failed(topic.Name, ErrorCode.PolicyViolation, message));
        }

        return response;
    }

    /// <summary>Creates (or validates) one topic; also returns how many records creating it writes.</summary>
    private async ValueTask<(CreateTopicsResponse.CreatableTopicResult Result, int Records)> CreateAsync(CreateTopicsRequest.CreatableTopic topic, bool validateOnly, short version)
    {
        Dictionary<int, IReadOnlyList<int>>? assignments = null;
        if (topic.Assignments.Count > 0)
        {
            assignments = [];
            foreach (var assignment in topic.Assignments)
            {
                assignments[assignment.PartitionIndex] = assignment.BrokerIds;
            }
        }

        var configs = new List<KeyValuePair<string, string?>>(topic.Configs.Count);
        foreach (var config in topic.Configs)
        {
            configs.Add(new(config.Name, config.Value));
        }

        // -1 (v4+) takes this broker's num.partitions / default.replication.factor (Kafka's controller uses its own config).
        var partitions = assignments is null && topic.NumPartitions == -1 ? broker.Settings.DefaultNumPartitions : topic.NumPartitions;
        var replication = assignments is null && topic.ReplicationFactor == -1 ? broker.Settings.DefaultReplicationFactor : topic.ReplicationFactor;
        var result = await broker.Controller.CreateTopicAsync(topic.Name, partitions, replication, assignments, configs, validateOnly);
        if (!result.IsSuccess)
        {
            return (Failed(topic.Name, result.Error, result.ErrorMessage), 0);
        }

        var response = new CreateTopicsResponse.CreatableTopicResult
        {
            Name = topic.Name,
            ErrorMessage = null,

            // Kafka's controller draws the id before validating, so validate_only also answers with a (never used) id.
            TopicId = version >= 7 ? (validateOnly ? KafkaUuid.NewRandom() : result.TopicId) : KafkaUuid.Zero,
        };
        if (version >= 5)
        {
            response.NumPartitions = result.NumPartitions;
            response.ReplicationFactor = result.ReplicationFactor;
            var own = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (key, value) in configs)
            {
                own[key] = value!;
            }

            response.Configs = [];
            foreach (var entry in TopicAdminConfigs.Effective(broker, broker.Metadata.Image, own))
            {
                response.Configs.Add(new CreateTopicsResponse.CreatableTopicConfigs
                {
                    Name = entry.Name,
                    Value = entry.Value,
                    ReadOnly = false,
                    ConfigSource = (sbyte)entry.Source,
                    IsSensitive = false,
                });
            }
        }

        return (response, 1 + configs.DistinctBy(c => c.Key, StringComparer.Ordinal).Count() + result.NumPartitions);
    }

    private static CreateTopicsResponse.CreatableTopicResult Failed(string name, ErrorCode error, string? message) => new()
    {
        Name = name,
        ErrorCode = (short)error,
        ErrorMessage = message,
    };
}
