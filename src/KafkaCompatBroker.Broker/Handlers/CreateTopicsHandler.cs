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
/// sensitive are false for topic configs); v7 returns the topic id. A single node commits at once, so
/// timeout_ms never expires.
/// </summary>
public sealed class CreateTopicsHandler(BrokerContext broker) : ApiHandler<CreateTopicsRequest, CreateTopicsResponse>
{
    public override ApiKey Key => ApiKey.CreateTopics;

    public override short MinVersion => 2;

    public override short MaxVersion => 7;

    protected override ValueTask<CreateTopicsResponse?> HandleAsync(RequestContext context, CreateTopicsRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var response = new CreateTopicsResponse();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var topic in request.Topics)
        {
            counts[topic.Name] = counts.GetValueOrDefault(topic.Name) + 1;
        }

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

            response.Topics.Add(Create(topic, request.validateOnly, version));
        }

        return ValueTask.FromResult<CreateTopicsResponse?>(response);
    }

    private CreateTopicsResponse.CreatableTopicResult Create(CreateTopicsRequest.CreatableTopic topic, bool validateOnly, short version)
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
        var result = broker.Metadata.CreateTopic(topic.Name, partitions, replication, assignments, configs, validateOnly);
        if (!result.IsSuccess)
        {
            return Failed(topic.Name, result.Error, result.ErrorMessage);
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

        return response;
    }

    private static CreateTopicsResponse.CreatableTopicResult Failed(string name, ErrorCode error, string? message) => new()
    {
        Name = name,
        ErrorCode = (short)error,
        ErrorMessage = message,
    };
}
