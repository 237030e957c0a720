using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// ApiVersions (key 18), v0–4. The answer lists exactly the registered handlers and their version
/// ranges. v3+ requests carry the client's software name and version (Kafka only uses them for
/// metrics). A request at an unknown version is refused by the dispatcher with UNSUPPORTED_VERSION
/// in a v0 body (see <see cref="RequestDispatcher"/>), so the client can retry with a version we know.
/// </summary>
public sealed class ApiVersionsHandler(BrokerContext broker) : ApiHandler<ApiVersionsRequest, ApiVersionsResponse>
{
    public override ApiKey Key => ApiKey.ApiVersions;

    public override short MinVersion => 0;

    public override short MaxVersion => 4;

    protected override ValueTask<ApiVersionsResponse?> HandleAsync(RequestContext context, ApiVersionsRequest request, CancellationToken cancellationToken)
    {
        var response = Build(broker.Registry, ErrorCode.None);
        if (context.ApiVersion >= 3)
        {
            AddFeatures(response, broker.Metadata.Image);
        }

        return ValueTask.FromResult<ApiVersionsResponse?>(response);
    }

    /// <summary>
    /// v3+ (KIP-584): the features this broker supports and the cluster's finalized levels from the metadata
    /// log, with the metadata offset as the epoch, as Kafka answers. transaction.version 2 is what makes Kafka
    /// 4.x clients use Transactions V2 (KIP-890).
    /// </summary>
    private static void AddFeatures(ApiVersionsResponse response, Controller.ClusterImage image)
    {
        response.SupportedFeatures.Add(new ApiVersionsResponse.SupportedFeatureKey { Name = Controller.MetadataStore.TransactionVersionFeature, MinVersion = 0, MaxVersion = 2 });
        response.FinalizedFeaturesEpoch = Math.Max(0, image.EndOffset - 1);
        if (image.Features.TryGetValue(Controller.MetadataStore.TransactionVersionFeature, out var level) && level > 0)
        {
            response.FinalizedFeatures.Add(new ApiVersionsResponse.FinalizedFeatureKey { Name = Controller.MetadataStore.TransactionVersionFeature, MinVersionLevel = level, MaxVersionLevel = level });
        }
    }

    public static ApiVersionsResponse Build(HandlerRegistry registry, ErrorCode error)
    {
        var response = new ApiVersionsResponse { ErrorCode = (short)error, FinalizedFeaturesEpoch = -1 };
        foreach (var handler in registry.Handlers)
        {
            response.ApiKeys.Add(new ApiVersionsResponse.ApiVersion { ApiKey = (short)handler.Key, MinVersion = handler.MinVersion, MaxVersion = handler.MaxVersion });
        }

        return response;
    }
}
