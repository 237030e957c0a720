using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// SyncGroup (key 14), v0–5, classic protocol. The leader's assignments are distributed to every
/// member; a follower's response completes asynchronously when the leader's arrives. v3+ static
/// membership; v5+ check and return the protocol type and name (INCONSISTENT_GROUP_PROTOCOL).
/// </summary>
public sealed class SyncGroupHandler(BrokerContext broker) : ApiHandler<SyncGroupRequest, SyncGroupResponse>
{
    public override ApiKey Key => ApiKey.SyncGroup;

    public override short MinVersion => 0;

    public override short MaxVersion => 5;

    protected override async ValueTask<SyncGroupResponse?> HandleAsync(RequestContext context, SyncGroupRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var assignments = new List<KeyValuePair<string, byte[]>>(request.Assignments.Count);
        foreach (var assignment in request.Assignments)
        {
            assignments.Add(new KeyValuePair<string, byte[]>(assignment.MemberId, assignment.Assignment));
        }

        var result = await broker.GroupCoordinator.SyncGroupAsync(
            request.GroupId,
            request.GenerationId,
            request.MemberId,
            version >= 3 ? request.GroupInstanceId : null,
            version >= 5 ? request.ProtocolType : null,
            version >= 5 ? request.ProtocolName : null,
            assignments);
        var ok = result.Error == ErrorCode.None;
        return new SyncGroupResponse
        {
            ErrorCode = (short)result.Error,
            ProtocolType = version >= 5 && ok ? result.ProtocolType : null,
            ProtocolName = version >= 5 && ok ? result.ProtocolName : null,
            Assignment = result.Assignment,
        };
    }
}
