using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// CreateAcls (key 30), v1–3 (Kafka 4.x's range; flexible from v2). The broker has no authorizer, so, as Kafka's
/// AclApis does without one, every creation is answered SECURITY_DISABLED with "No Authorizer is configured."
/// (CreateAclsRequest.getErrorResponse: one result per creation). Advertised because admin tools and UIs
/// handle SECURITY_DISABLED, but fail on an API the broker does not list. A creation with an UNKNOWN (0) resource
/// type, pattern type, operation or permission type closes the connection unanswered: Kafka's CreateAclsRequest
/// refuses it while the broker parses the request (validate), and a request that does not parse closes the connection.
/// </summary>
public sealed class CreateAclsHandler : ApiHandler<CreateAclsRequest, CreateAclsResponse>
{
    internal const string NoAuthorizerMessage = "No Authorizer is configured.";

    /// <summary>Whether an ACL or filter holds an UNKNOWN (code 0) element, which Kafka's ACL requests refuse when parsed.</summary>
    internal static bool HasUnknown(sbyte resourceType, sbyte patternType, sbyte operation, sbyte permissionType) =>
        resourceType == 0 || patternType == 0 || operation == 0 || permissionType == 0;

    public override ApiKey Key => ApiKey.CreateAcls;

    public override short MinVersion => 1;

    public override short MaxVersion => 3;

    protected override ValueTask<CreateAclsResponse?> HandleAsync(RequestContext context, CreateAclsRequest request, CancellationToken cancellationToken)
    {
        if (request.Creations.Exists(c => HasUnknown(c.ResourceType, c.ResourcePatternType, c.Operation, c.PermissionType)))
        {
            context.CloseConnection = true;
            return ValueTask.FromResult<CreateAclsResponse?>(null);
        }

        var response = new CreateAclsResponse();
        foreach (var _ in request.Creations)
        {
            response.Results.Add(new CreateAclsResponse.AclCreationResult { ErrorCode = (short)ErrorCode.SecurityDisabled, ErrorMessage = NoAuthorizerMessage });
        }

        return ValueTask.FromResult<CreateAclsResponse?>(response);
    }
}
