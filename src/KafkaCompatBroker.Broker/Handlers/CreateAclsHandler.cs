using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// CreateAcls (key 30), v1–3 (Kafka 4.x's range; flexible from v2). The broker has no authorizer, so, as Kafka's
/// AclApis does without one, every creation is answered SECURITY_DISABLED with "No Authorizer is configured."
/// (CreateAclsRequest.getErrorResponse: one result per creation). Advertised because admin tools and UIs
/// handle SECURITY_DISABLED, but fail on an API the broker does not list.
/// </summary>
public sealed class CreateAclsHandler : ApiHandler<CreateAclsRequest, CreateAclsResponse>
{
    internal const string NoAuthorizerMessage = "No Authorizer is configured.";

    public override ApiKey Key => ApiKey.CreateAcls;

    public override short MinVersion => 1;

    public override short MaxVersion => 3;

    protected override ValueTask<CreateAclsResponse?> HandleAsync(RequestContext context, CreateAclsRequest request, CancellationToken cancellationToken)
    {
        var response = new CreateAclsResponse();
        foreach (var _ in request.Creations)
        {
            response.Results.Add(new CreateAclsResponse.AclCreationResult { ErrorCode = (short)ErrorCode.SecurityDisabled, ErrorMessage = NoAuthorizerMessage });
        }

        return ValueTask.FromResult<CreateAclsResponse?>(response);
    }
}
