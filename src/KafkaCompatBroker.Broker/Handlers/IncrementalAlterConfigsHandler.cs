using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// IncrementalAlterConfigs (key 44), v0–1: per key SET (0), DELETE (1), APPEND (2) or SUBTRACT (3; list
/// configs only, such as cleanup.policy). TOPIC resources go through <see cref="IClusterController.AlterConfigsAsync"/>,
/// which validates all of a resource's operations together and commits them as one batch (nothing with
/// validate_only); the partition logs pick up the change when the image changes. Per resource, as Kafka
/// answers: UNSUPPORTED_VERSION for an unknown resource type, INVALID_REQUEST "Duplicate resource.",
/// UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG with Kafka's messages, INVALID_REQUEST for duplicate keys or an
/// unknown operation. BROKER resources ("" for the cluster default, or this broker's id) change dynamic broker
/// configs through <see cref="BrokerConfigAdmin"/>. GROUP resources hold KIP-848 group configs (<see cref="GroupConfigDefinitions"/>;
/// INVALID_CONFIG with Kafka's GroupConfig messages). Broker loggers are not supported: INVALID_REQUEST saying so.
/// </summary>
public sealed class IncrementalAlterConfigsHandler(BrokerContext broker) : ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse>
{
    public override ApiKey Key => ApiKey.IncrementalAlterConfigs;

    public override short MinVersion => 0;

    public override short MaxVersion => 1;

    protected override async ValueTask<IncrementalAlterConfigsResponse?> HandleAsync(RequestContext context, IncrementalAlterConfigsRequest request, CancellationToken cancellationToken)
    {
        var response = new IncrementalAlterConfigsResponse();
        var counts = new Dictionary<(sbyte, string), int>();
        foreach (var resource in request.Resources)
        {
            var key = (resource.ResourceType, resource.ResourceName);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        var reportedDuplicates = new HashSet<(sbyte, string)>();
        foreach (var resource in request.Resources)
        {
            var type = (ConfigResourceType)resource.ResourceType;
            if (type == ConfigResourceType.BrokerLogger)
            {
                response.Responses.Add(Result(resource, ErrorCode.InvalidRequest, "Updating broker logger levels is not supported yet"));
            }
            else if (!Enum.IsDefined(type) || type == ConfigResourceType.Unknown)
            {
                response.Responses.Add(Result(resource, ErrorCode.UnsupportedVersion, $"Unknown resource type {resource.ResourceType}."));
            }
            else if (counts[(resource.ResourceType, resource.ResourceName)] > 1)
            {
                if (reportedDuplicates.Add((resource.ResourceType, resource.ResourceName)))
                {
                    response.Responses.Add(Result(resource, ErrorCode.InvalidRequest, "Duplicate resource."));
                }
            }
            else
            {
                var outcome = await AlterAsync(type, resource, request.ValidateOnly);
                response.Responses.Add(Result(resource, outcome.Error, outcome.ErrorMessage));
            }
        }

        return response;
    }

    private ValueTask<MetadataResult> AlterAsync(ConfigResourceType type, IncrementalAlterConfigsRequest.AlterConfigsResource resource, bool validateOnly)
    {
        switch (type)
        {
            case ConfigResourceType.Topic:
                return broker.Controller.AlterConfigsAsync(new ConfigResource(ConfigResourceType.Topic, resource.ResourceName), Ops(resource), validateOnly);
            case ConfigResourceType.Broker:
                return BrokerConfigAdmin.AlterAsync(broker, resource.ResourceName, Ops(resource), incremental: true, validateOnly);
            case ConfigResourceType.Group:
                return broker.Controller.AlterConfigsAsync(
                    new ConfigResource(ConfigResourceType.Group, resource.ResourceName), Ops(resource), validateOnly, configs => GroupConfigDefinitions.Validate(configs, broker.Settings.Config));
            default:
                return ValueTask.FromResult(new MetadataResult(ErrorCode.InvalidRequest, $"Unsupported config resource type {resource.ResourceType}."));
        }
    }

    private static List<AlterConfigOp> Ops(IncrementalAlterConfigsRequest.AlterConfigsResource resource)
    {
        var ops = new List<AlterConfigOp>(resource.Configs.Count);
        foreach (var config in resource.Configs)
        {
            ops.Add(new AlterConfigOp(config.Name, (AlterConfigOpType)config.ConfigOperation, config.Value));
        }

        return ops;
    }

    private static IncrementalAlterConfigsResponse.AlterConfigsResourceResponse Result(IncrementalAlterConfigsRequest.AlterConfigsResource resource, ErrorCode error, string? message) =>
        new() { ErrorCode = (short)error, ErrorMessage = message, ResourceType = resource.ResourceType, ResourceName = resource.ResourceName };
}
