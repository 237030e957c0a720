using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DeleteAcls (key 31), v1–3 (Kafka 4.x's range; flexible from v2). The broker has no authorizer, so, as Kafka's
/// AclApis does without one, every filter is answered SECURITY_DISABLED with "No Authorizer is configured." and
/// no matching ACLs (DeleteAclsRequest.getErrorResponse: one result per filter). Advertised because admin tools
/// and UIs handle SECURITY_DISABLED, but fail on an API the broker does not list. A filter with an UNKNOWN (0) resource
/// type, pattern type, operation or permission type closes the connection unanswered, as Kafka's DeleteAclsRequest
/// refuses it while the broker parses the request (normalizeAndValidate).
/// </summary>
public sealed class DeleteAclsHandler : ApiHandler<DeleteAclsRequest, DeleteAclsResponse>
{
    public override ApiKey Key => ApiKey.DeleteAcls;

    public override short MinVersion => 1;

    public override short MaxVersion => 3;

    protected override ValueTask<DeleteAclsResponse?> HandleAsync(RequestContext context, DeleteAclsRequest request, CancellationToken cancellationToken)
    {
        if (request.Filters.Exists(f => CreateAclsHandler.HasUnknown(f.ResourceTypeFilter, f.PatternTypeFilter, f.Operation, f.PermissionType)))
        {
            context.CloseConnection = true;
            return ValueTask.FromResult<DeleteAclsResponse?>(null);
        }

        var response = new DeleteAclsResponse();
        foreach (var _ in request.Filters)
        {
            response.FilterResults.Add(new DeleteAclsResponse.DeleteAclsFilterResult { ErrorCode = (short)ErrorCode.SecurityDisabled, ErrorMessage = CreateAclsHandler.NoAuthorizerMessage });
        }

        return ValueTask.FromResult<DeleteAclsResponse?>(response);
    }
}
