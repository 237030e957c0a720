using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DescribeAcls (key 29), v1–3 (Kafka 4.x's range; flexible from v2). The broker has no authorizer, so, as Kafka's
/// AclApis does without one, the answer is SECURITY_DISABLED with "No Authorizer is configured on the broker"
/// and no resources. Advertised because admin tools and UIs handle SECURITY_DISABLED, but fail on an API the
/// broker does not list. A filter with an UNKNOWN (0) resource type, pattern type, operation or permission type closes
/// the connection unanswered, as Kafka's DescribeAclsRequest refuses it while the broker parses the request
/// (normalizeAndValidate).
/// </summary>
public sealed class DescribeAclsHandler : ApiHandler<DescribeAclsRequest, DescribeAclsResponse>
{
    public override ApiKey Key => ApiKey.DescribeAcls;

    public override short MinVersion => 1;

    public override short MaxVersion => 3;

    protected override ValueTask<DescribeAclsResponse?> HandleAsync(RequestContext context, DescribeAclsRequest request, CancellationToken cancellationToken)
    {
        if (CreateAclsHandler.HasUnknown(request.ResourceTypeFilter, request.PatternTypeFilter, request.Operation, request.PermissionType))
        {
            context.CloseConnection = true;
            return ValueTask.FromResult<DescribeAclsResponse?>(null);
        }

        return ValueTask.FromResult<DescribeAclsResponse?>(new DescribeAclsResponse
        {
            ErrorCode = (short)ErrorCode.SecurityDisabled,
            ErrorMessage = "No Authorizer is configured on the broker",
        });
    }
}
