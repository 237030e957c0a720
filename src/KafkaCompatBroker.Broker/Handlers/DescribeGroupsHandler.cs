using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DescribeGroups (key 15), v0–6: state, protocol type, selected protocol (Stable groups only) and
/// members of each classic group; a Stable group's members carry their metadata for the selected
/// protocol. Groups known only by committed offsets are Empty with protocol type "". An unknown group
/// is state "Dead" with no members: without an error before v6, GROUP_ID_NOT_FOUND with a message from
/// v6. v3+ returns authorized operations when asked (for groups without an error): with no authorizer
/// Kafka reports every operation a group supports; otherwise int.MinValue. v4+ adds group instance ids.
/// </summary>
public sealed class DescribeGroupsHandler(BrokerContext broker) : ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse>
{
    /// <summary>AclEntry.supportedOperations(GROUP): READ 3, DELETE 6, DESCRIBE 8, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11.</summary>
    public const int GroupAuthorizedOperations = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

    public override ApiKey Key => ApiKey.DescribeGroups;

    public override short MinVersion => 0;

    public override short MaxVersion => 6;

    protected override ValueTask<DescribeGroupsResponse?> HandleAsync(RequestContext context, DescribeGroupsRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var includeOperations = version >= 3 && request.IncludeAuthorizedOperations;
        var response = new DescribeGroupsResponse();
        foreach (var group in broker.GroupCoordinator.DescribeGroups(request.Groups))
        {
            // Before v6 an unknown group is just "Dead": those clients do not know GROUP_ID_NOT_FOUND here.
            var error = version < 6 && group.Error == ErrorCode.GroupIdNotFound ? ErrorCode.None : group.Error;
            var described = new DescribeGroupsResponse.DescribedGroup
            {
                ErrorCode = (short)error,
                ErrorMessage = version >= 6 && error != ErrorCode.None ? group.ErrorMessage : null,
                GroupId = group.GroupId,
                GroupState = group.State,
                ProtocolType = group.ProtocolType,
                ProtocolData = group.ProtocolData,
                AuthorizedOperations = includeOperations && error == ErrorCode.None ? GroupAuthorizedOperations : int.MinValue,
            };
            foreach (var member in group.Members)
            {
                described.Members.Add(new DescribeGroupsResponse.DescribedGroupMember
                {
                    MemberId = member.MemberId,
                    GroupInstanceId = version >= 4 ? member.GroupInstanceId : null,
                    ClientId = member.ClientId,
                    ClientHost = member.ClientHost,
                    MemberMetadata = member.Metadata,
                    MemberAssignment = member.Assignment,
                });
            }

            response.Groups.Add(described);
        }

        return ValueTask.FromResult<DescribeGroupsResponse?>(response);
    }
}
