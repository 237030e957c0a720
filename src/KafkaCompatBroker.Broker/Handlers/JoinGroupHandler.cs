using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// JoinGroup (key 11), v0–9, classic protocol (see <see cref="GroupCoordinator"/>). The response
/// completes asynchronously when the rebalance's join phase ends. v0 has no rebalance timeout (the
/// session timeout is used, as Kafka does); v4+ require a known member id (MEMBER_ID_REQUIRED round
/// trip); v5+ static membership (group.instance.id); v7+ return the protocol type; v8+ carry a
/// reason; v9+ may tell a rejoining static leader to skip the assignment. COORDINATOR_LOAD_IN_PROGRESS while the
/// group's <c>__consumer_offsets</c> partition is still being created.
/// </summary>
public sealed class JoinGroupHandler(BrokerContext broker) : ApiHandler<JoinGroupRequest, JoinGroupResponse>
{
    public override ApiKey Key => ApiKey.JoinGroup;

    public override short MinVersion => 0;

    public override short MaxVersion => 9;

    protected override async ValueTask<JoinGroupResponse?> HandleAsync(RequestContext context, JoinGroupRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var protocols = new List<GroupProtocol>(request.Protocols.Count);
        foreach (var protocol in request.Protocols)
        {
            protocols.Add(new GroupProtocol(protocol.Name, protocol.Metadata));
        }

        // While the group's __consumer_offsets partition is still being created, no generation is started whose
        // writes would fail: Kafka's coordinator runtime answers COORDINATOR_LOAD_IN_PROGRESS and the member retries.
        var result = broker.ConsumerOffsets.IsLoading(request.GroupId)
            ? new JoinGroupResult(ErrorCode.CoordinatorLoadInProgress, request.MemberId)
            : await broker.GroupCoordinator.JoinGroupAsync(new JoinGroupParams
            {
                GroupId = request.GroupId,
                MemberId = request.MemberId,
                GroupInstanceId = version >= 5 ? request.GroupInstanceId : null,
                ClientId = context.ClientId ?? "",
                ClientHost = ClientAddress.Format(context.Connection.RemoteEndPoint),
                SessionTimeoutMs = request.SessionTimeoutMs,
                RebalanceTimeoutMs = version >= 1 ? request.RebalanceTimeoutMs : request.SessionTimeoutMs,
                ProtocolType = request.ProtocolType,
                Protocols = protocols,
                RequireKnownMemberId = version >= 4,
                SupportsSkipAssignment = version >= 9,
            });

        var response = new JoinGroupResponse
        {
            ErrorCode = (short)result.Error,
            GenerationId = result.GenerationId,
            ProtocolType = version >= 7 ? result.ProtocolType : null,
            ProtocolName = result.ProtocolName ?? (version >= 7 ? null : ""),
            Leader = result.Leader,
            SkipAssignment = version >= 9 && result.SkipAssignment,
            MemberId = result.MemberId,
        };
        foreach (var member in result.AllMembers)
        {
            response.Members.Add(new JoinGroupResponse.JoinGroupResponseMember
            {
                MemberId = member.MemberId,
                GroupInstanceId = version >= 5 ? member.GroupInstanceId : null,
                Metadata = member.Metadata,
            });
        }

        return response;
    }
}
