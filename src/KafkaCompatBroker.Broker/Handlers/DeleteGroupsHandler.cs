using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DeleteGroups (key 42), v0–2: deletes each named group (each name answered once) and all its
/// committed offsets. GROUP_ID_NOT_FOUND for a group the coordinator does not know (nor has offsets
/// for), NON_EMPTY_GROUP while it has members. As in Kafka the empty name is not INVALID_GROUP_ID: it
/// is looked up like any other (a simple consumer may have committed offsets under it).
/// </summary>
public sealed class DeleteGroupsHandler(BrokerContext broker) : ApiHandler<DeleteGroupsRequest, DeleteGroupsResponse>
{
    public override ApiKey Key => ApiKey.DeleteGroups;

    public override short MinVersion => 0;

    public override short MaxVersion => 2;

    protected override ValueTask<DeleteGroupsResponse?> HandleAsync(RequestContext context, DeleteGroupsRequest request, CancellationToken cancellationToken)
    {
        var response = new DeleteGroupsResponse();
        foreach (var (groupId, error) in broker.GroupCoordinator.DeleteGroups(request.GroupsNames))
        {
            response.Results.Add(new DeleteGroupsResponse.DeletableGroupResult { GroupId = groupId, ErrorCode = (short)error });
        }

        return ValueTask.FromResult<DeleteGroupsResponse?>(response);
    }
}
