using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// LeaveGroup (key 13), v0–5, classic protocol. v0–2 carry one member id and answer with a top-level
/// error (the member's error, as Kafka folds it); v3+ batch members (member id and/or
/// group.instance.id) with an error per member (UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID); v5+ carry a
/// reason per member. Removing members rebalances the group.
/// </summary>
public sealed class LeaveGroupHandler(BrokerContext broker) : ApiHandler<LeaveGroupRequest, LeaveGroupResponse>
{
    public override ApiKey Key => ApiKey.LeaveGroup;

    public override short MinVersion => 0;

    public override short MaxVersion => 5;

    protected override ValueTask<LeaveGroupResponse?> HandleAsync(RequestContext context, LeaveGroupRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var leaving = new List<LeavingMember>();
        if (version >= 3)
        {
            foreach (var member in request.Members)
            {
                leaving.Add(new LeavingMember(member.MemberId, member.GroupInstanceId));
            }
        }
        else
        {
            leaving.Add(new LeavingMember(request.MemberId, null));
        }

        var result = broker.GroupCoordinator.LeaveGroup(request.GroupId, leaving);
        var response = new LeaveGroupResponse { ErrorCode = (short)result.Error };
        if (version >= 3)
        {
            foreach (var (member, error) in result.Members)
            {
                response.Members.Add(new LeaveGroupResponse.MemberResponse { MemberId = member.MemberId, GroupInstanceId = member.GroupInstanceId, ErrorCode = (short)error });
            }
        }
        else if (result.Error == ErrorCode.None && result.Members.Count > 0)
        {
            response.ErrorCode = (short)result.Members[0].Error;
        }

        return ValueTask.FromResult<LeaveGroupResponse?>(response);
    }
}
