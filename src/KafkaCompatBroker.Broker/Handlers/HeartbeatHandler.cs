using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// Heartbeat (key 12), v0–4, classic protocol: keeps the member's session alive. Errors as Kafka:
/// UNKNOWN_MEMBER_ID (unknown group, empty group or member), FENCED_INSTANCE_ID (v3+ static member
/// with an old member id), ILLEGAL_GENERATION, and REBALANCE_IN_PROGRESS while the group prepares a
/// rebalance (the member must rejoin).
/// </summary>
public sealed class HeartbeatHandler(BrokerContext broker) : ApiHandler<HeartbeatRequest, HeartbeatResponse>
{
    public override ApiKey Key => ApiKey.Heartbeat;

    public override short MinVersion => 0;

    public override short MaxVersion => 4;

    protected override ValueTask<HeartbeatResponse?> HandleAsync(RequestContext context, HeartbeatRequest request, CancellationToken cancellationToken)
    {
        var error = broker.GroupCoordinator.Heartbeat(
            request.GroupId, request.GenerationId, request.MemberId, context.ApiVersion >= 3 ? request.GroupInstanceId : null);
        return ValueTask.FromResult<HeartbeatResponse?>(new HeartbeatResponse { ErrorCode = (short)error });
    }
}
