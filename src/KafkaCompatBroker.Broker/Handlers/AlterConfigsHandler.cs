using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// AlterConfigs (key 33), v0–2: the legacy API, which replaces a resource's whole set of overrides — keys
/// not in the request are deleted (IncrementalAlterConfigs changes single keys). TOPIC resources go through
/// <see cref="IClusterController.AlterConfigsAsync"/> as one batch (validate_only checks without writing), and the
/// partition logs pick up the change when the image changes. Per resource, as Kafka's controller answers:
/// UNSUPPORTED_VERSION for an unknown resource type, INVALID_REQUEST "Duplicate resource." when a resource
/// appears twice, UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG for unknown keys or bad values. BROKER resources
/// ("" for the cluster default, or this broker's id) set dynamic broker configs through <see cref="BrokerConfigAdmin"/>,
/// the given set replacing the resource's whole set. GROUP resources hold KIP-848 group configs
/// (<see cref="GroupConfigDefinitions"/>; INVALID_CONFIG with Kafka's GroupConfig messages).
/// </summary>
public sealed class AlterConfigsHandler(BrokerContext broker) : ApiHandler<AlterConfigsRequest, AlterConfigsResponse>
{
    public override ApiKey Key => ApiKey.AlterConfigs;

    public override short MinVersion => 0;

    public override short MaxVersion => 2;

    protected override async ValueTask<AlterConfigsResponse?> HandleAsync(RequestContext context, AlterConfigsRequest request, CancellationToken cancellationToken)
    {
        var response = new AlterConfigsResponse();
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
            if (!Enum.IsDefined(type) || type == ConfigResourceType.Unknown)
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

    private ValueTask<MetadataResult> AlterAsync(ConfigResourceType type, AlterConfigsRequest.AlterConfigsResource resource, bool validateOnly)
    {
        switch (type)
        {
            case ConfigResourceType.Topic:
                return ReplaceAsync(new ConfigResource(ConfigResourceType.Topic, resource.ResourceName), resource, validateOnly);
            case ConfigResourceType.Broker:
                var brokerOps = new List<AlterConfigOp>(resource.Configs.Count);
                foreach (var config in resource.Configs)
                {
                    brokerOps.Add(new AlterConfigOp(config.Name, AlterConfigOpType.Set, config.Value));
                }

                return BrokerConfigAdmin.AlterAsync(broker, resource.ResourceName, brokerOps, incremental: false, validateOnly);
            case ConfigResourceType.Group:
                return ReplaceAsync(new ConfigResource(ConfigResourceType.Group, resource.ResourceName), resource, validateOnly, configs => GroupConfigDefinitions.Validate(configs, broker.Settings.Config));
            case ConfigResourceType.BrokerLogger:
                return ValueTask.FromResult(new MetadataResult(ErrorCode.InvalidRequest, "Unexpected resource type BROKER_LOGGER."));
            default:
                return ValueTask.FromResult(new MetadataResult(ErrorCode.InvalidRequest, $"Unsupported config resource type {resource.ResourceType}."));
        }
    }

    /// <summary>The new set replaces the old one: the last value of each key is kept, every other key deleted.</summary>
    private ValueTask<MetadataResult> ReplaceAsync(ConfigResource target, AlterConfigsRequest.AlterConfigsResource resource, bool validateOnly, Func<IReadOnlyDictionary<string, string>, string?>? validate = null)
    {
        var wanted = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var config in resource.Configs)
        {
            wanted[config.Name] = config.Value;
        }

        var ops = new List<AlterConfigOp>(wanted.Count);
        foreach (var (name, value) in wanted)
        {
            ops.Add(new AlterConfigOp(name, AlterConfigOpType.Set, value));
        }

        foreach (var existing in broker.Metadata.Image.GetConfigs(target).Keys)
        {
            if (!wanted.ContainsKey(existing))
            {
                ops.Add(new AlterConfigOp(existing, AlterConfigOpType.Delete, null));
            }
        }

        return broker.Controller.AlterConfigsAsync(target, ops, validateOnly, validate);
    }

    private static AlterConfigsResponse.AlterConfigsResourceResponse Result(AlterConfigsRequest.AlterConfigsResource resource, ErrorCode error, string? message) =>
        new() { ErrorCode = (short)error, ErrorMessage = message, ResourceType = resource.ResourceType, ResourceName = resource.ResourceName };
}
