using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// ListGroups (key 16), v0–5: every group this coordinator knows, including groups that exist only
/// through committed offsets (Empty, protocol type ""). v4+ filter by state and answer each group's
/// state; v5+ filter by type and answer its type ("classic"). Filters match case-insensitively, an
/// empty filter matches everything and an unknown name nothing, as in Kafka. Never fails.
/// </summary>
public sealed class ListGroupsHandler(BrokerContext broker) : ApiHandler<ListGroupsRequest, ListGroupsResponse>
{
    public override ApiKey Key => ApiKey.ListGroups;

    public override short MinVersion => 0;

    public override short MaxVersion => 5;

    protected override ValueTask<ListGroupsResponse?> HandleAsync(RequestContext context, ListGroupsRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var groups = broker.GroupCoordinator.ListGroups(
            version >= 4 ? request.StatesFilter : [], version >= 5 ? request.TypesFilter : []);
        var response = new ListGroupsResponse();
        foreach (var group in groups)
        {
            response.Groups.Add(new ListGroupsResponse.ListedGroup
            {
                GroupId = group.GroupId,
                ProtocolType = group.ProtocolType,
                GroupState = version >= 4 ? group.State : "",
                GroupType = version >= 5 ? group.GroupType : "",
            });
        }

        return ValueTask.FromResult<ListGroupsResponse?>(response);
    }
}
