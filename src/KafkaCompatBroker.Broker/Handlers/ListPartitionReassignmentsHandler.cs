using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// ListPartitionReassignments (key 46), v0 (Kafka 4.x's range; flexible). As Kafka's
/// ReplicationControlManager.listPartitionReassignments: the partitions being reassigned among those asked for
/// (null topics = all); unknown topics and partitions are left out, not errors. ONE-REPLICA: a single node never reassigns
/// (AlterPartitionReassignments starts none), so the answer is always NONE with no topics.
/// </summary>
public sealed class ListPartitionReassignmentsHandler : ApiHandler<ListPartitionReassignmentsRequest, ListPartitionReassignmentsResponse>
{
    public override ApiKey Key => ApiKey.ListPartitionReassignments;

    public override short MinVersion => 0;

    public override short MaxVersion => 0;

    protected override ValueTask<ListPartitionReassignmentsResponse?> HandleAsync(
        RequestContext context, ListPartitionReassignmentsRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult<ListPartitionReassignmentsResponse?>(new ListPartitionReassignmentsResponse { ErrorMessage = null });
}
