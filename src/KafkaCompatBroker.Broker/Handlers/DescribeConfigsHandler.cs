using System.Globalization;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DescribeConfigs (key 32), v1–4 (Kafka 4 dropped v0). TOPIC resources list every Kafka 4.x topic config
/// with its effective value, source, type and (when asked) synonyms: the topic override, then the broker's
/// log.* synonym values, then the default. BROKER resources are this node id (every broker config, read-only
/// unless Kafka can change it dynamically) or "" (the cluster-wide dynamic defaults). BROKER_LOGGER answers an
/// empty list (loggers are not exposed). GROUP resources list the KIP-848 group configs: the group's own value
/// (source GROUP_CONFIG) or the broker's group.* value. Null or empty configuration_keys means all keys. Errors per resource,
/// as Kafka's ConfigHelper returns them: UNKNOWN_TOPIC_OR_PARTITION (with an empty message), INVALID_TOPIC_EXCEPTION,
/// INVALID_REQUEST for a foreign broker id; a resource type Kafka does not know fails every resource with
/// INVALID_REQUEST. Documentation (v3+) is always null; config_type is reported from v3, config_source from v1.
/// </summary>
public sealed class DescribeConfigsHandler(BrokerContext broker) : ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse>
{
    public override ApiKey Key => ApiKey.DescribeConfigs;

    public override short MinVersion => 1;

    public override short MaxVersion => 4;

    protected override ValueTask<DescribeConfigsResponse?> HandleAsync(RequestContext context, DescribeConfigsRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult<DescribeConfigsResponse?>(Describe(request));

    private DescribeConfigsResponse Describe(DescribeConfigsRequest request)
    {
        var response = new DescribeConfigsResponse();
        foreach (var resource in request.Resources)
        {
            if (!Enum.IsDefined((ConfigResourceType)resource.ResourceType) || resource.ResourceType == (sbyte)ConfigResourceType.Unknown)
            {
                // Kafka fails the whole request when it meets a resource type it does not know.
                var message = $"Unexpected resource type UNKNOWN for resource {resource.ResourceName}";
                foreach (var r in request.Resources)
                {
                    response.Results.Add(Error(r, ErrorCode.InvalidRequest, message));
                }

                return response;
            }
        }

        var describer = new ConfigDescriber(broker.Settings, broker.Metadata.Image);
        foreach (var resource in request.Resources)
        {
            response.Results.Add(DescribeOne(describer, resource, request.IncludeSynonyms));
        }

        return response;
    }

    private DescribeConfigsResponse.DescribeConfigsResult DescribeOne(ConfigDescriber describer, DescribeConfigsRequest.DescribeConfigsResource resource, bool includeSynonyms)
    {
        var name = resource.ResourceName;
        var nodeId = broker.Settings.NodeId;
        switch ((ConfigResourceType)resource.ResourceType)
        {
            case ConfigResourceType.Topic:
                if (ClusterController.ValidateTopicName(name) is { } invalid)
                {
                    return Error(resource, ErrorCode.InvalidTopicException, invalid);
                }

                if (describer.Image.GetTopic(name) is null)
                {
                    // Kafka sets no message here, so the field keeps its default, "".
                    return Error(resource, ErrorCode.UnknownTopicOrPartition, "");
                }

                return Success(resource, describer.DescribeTopic(name, resource.ConfigurationKeys, includeSynonyms));

            case ConfigResourceType.Broker:
                if (name.Length == 0)
                {
                    return Success(resource, describer.DescribeBroker(perBroker: false, resource.ConfigurationKeys, includeSynonyms));
                }

                if (!int.TryParse(name, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id))
                {
                    return Error(resource, ErrorCode.InvalidRequest, $"Broker id must be an integer, but it is: {name}");
                }

                return id == nodeId
                    ? Success(resource, describer.DescribeBroker(perBroker: true, resource.ConfigurationKeys, includeSynonyms))
                    : Error(resource, ErrorCode.InvalidRequest, $"Unexpected broker id, expected {nodeId} or empty string, but received {name}");

            case ConfigResourceType.BrokerLogger:
                if (name.Length == 0)
                {
                    return Error(resource, ErrorCode.InvalidRequest, "Broker id must not be empty");
                }

                if (!int.TryParse(name, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var loggerId))
                {
                    return Error(resource, ErrorCode.InvalidRequest, $"Broker id must be an integer, but it is: {name}");
                }

                return loggerId == nodeId
                    ? Success(resource, [])
                    : Error(resource, ErrorCode.InvalidRequest, $"Unexpected broker id, expected {nodeId} but received {name}");

            case ConfigResourceType.Group:
                return name.Length == 0
                    ? Error(resource, ErrorCode.InvalidRequest, "Group name must not be empty")
                    : Success(resource, describer.DescribeGroup(name, resource.ConfigurationKeys, includeSynonyms));

            default:
                return Error(resource, ErrorCode.InvalidRequest, "Unsupported resource type: CLIENT_METRICS");
        }
    }

    private static DescribeConfigsResponse.DescribeConfigsResult Success(DescribeConfigsRequest.DescribeConfigsResource resource, List<DescribeConfigsResponse.DescribeConfigsResourceResult> configs) =>
        new() { ErrorCode = (short)ErrorCode.None, ResourceType = resource.ResourceType, ResourceName = resource.ResourceName, Configs = configs };

    private static DescribeConfigsResponse.DescribeConfigsResult Error(DescribeConfigsRequest.DescribeConfigsResource resource, ErrorCode error, string message) =>
        new() { ErrorCode = (short)error, ErrorMessage = message, ResourceType = resource.ResourceType, ResourceName = resource.ResourceName };
}
