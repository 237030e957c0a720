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

    protected override ValueTask<ApiVersionsResponse?> HandleAsync(RequestContext context, ApiVersionsRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult<ApiVersionsResponse?>(Build(broker.Registry, ErrorCode.None));

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
