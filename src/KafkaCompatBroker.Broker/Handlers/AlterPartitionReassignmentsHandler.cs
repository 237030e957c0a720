using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// AlterPartitionReassignments (key 45), v0–1 (Kafka 4.x's range; flexible), per partition as Kafka's
/// ReplicationControlManager.alterPartitionReassignment checks it: unknown topic or partition is
/// UNKNOWN_TOPIC_OR_PARTITION ("Unable to find a topic named T." / "Unable to find partition T:P."); null replicas
/// cancels, which with no reassignment in progress is NO_REASSIGNMENT_IN_PROGRESS; a target is checked by
/// validateManualPartitionAssignment (empty list, a broker that is not registered, a broker twice:
/// INVALID_REPLICA_ASSIGNMENT, in broker id order), then, when v1's allow_replication_factor_change is false
/// (KIP-860), a different replica count is INVALID_REPLICATION_FACTOR. A target equal to the current replicas needs
/// no change and is NONE. Moving replicas to another broker is INVALID_REPLICA_ASSIGNMENT: this single node (ONE-REPLICA) does not
/// replicate (on a one-broker cluster every valid target is the current one). The response echoes
/// allow_replication_factor_change (v1).
/// </summary>
public sealed class AlterPartitionReassignmentsHandler(BrokerContext broker) : ApiHandler<AlterPartitionReassignmentsRequest, AlterPartitionReassignmentsResponse>
{
    public override ApiKey Key => ApiKey.AlterPartitionReassignments;

    public override short MinVersion => 0;

    public override short MaxVersion => 1;

    protected override ValueTask<AlterPartitionReassignmentsResponse?> HandleAsync(
        RequestContext context, AlterPartitionReassignmentsRequest request, CancellationToken cancellationToken)
    {
        var allowReplicationFactorChange = context.ApiVersion < 1 || request.AllowReplicationFactorChange;
        var image = broker.Metadata.Image;
        var response = new AlterPartitionReassignmentsResponse { AllowReplicationFactorChange = allowReplicationFactorChange, ErrorMessage = null };
        foreach (var topic in request.Topics)
        {
            var known = image.GetTopic(topic.Name);
            var topicResponse = new AlterPartitionReassignmentsResponse.ReassignableTopicResponse { Name = topic.Name };
            foreach (var target in topic.Partitions)
            {
                var (error, message) = known is null
                    ? (ErrorCode.UnknownTopicOrPartition, $"Unable to find a topic named {topic.Name}.")
                    : known.Partitions.TryGetValue(target.PartitionIndex, out var partition)
                        ? Alter(image, partition, target.Replicas, allowReplicationFactorChange)
                        : (ErrorCode.UnknownTopicOrPartition, $"Unable to find partition {topic.Name}:{target.PartitionIndex}.");
                topicResponse.Partitions.Add(new AlterPartitionReassignmentsResponse.ReassignablePartitionResponse
                {
                    PartitionIndex = target.PartitionIndex,
                    ErrorCode = (short)error,
                    ErrorMessage = message,
                });
            }

            response.Responses.Add(topicResponse);
        }

        return ValueTask.FromResult<AlterPartitionReassignmentsResponse?>(response);
    }

    private static (ErrorCode Error, string? Message) Alter(ClusterImage image, PartitionImage partition, List<int>? target, bool allowReplicationFactorChange)
    {
        if (target is null)
        {
            // cancelPartitionReassignment: nothing is ever being reassigned here.
            return (ErrorCode.NoReassignmentInProgress, "No partition reassignment is in progress.");
        }

        if (target.Count == 0)
        {
            return (ErrorCode.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.");
        }

        int? previous = null;
        foreach (var brokerId in target.Order())
        {
            if (!image.Brokers.ContainsKey(brokerId))
            {
                return (ErrorCode.InvalidReplicaAssignment, $"The manual partition assignment includes broker {brokerId}, but no such broker is registered.");
            }

            if (brokerId == previous)
            {
                return (ErrorCode.InvalidReplicaAssignment, $"The manual partition assignment includes the broker {brokerId} more than once.");
            }

            previous = brokerId;
        }

        if (!allowReplicationFactorChange && target.Count != partition.Replicas.Length)
        {
            return (ErrorCode.InvalidReplicationFactor, $"The replication factor is changed from {partition.Replicas.Length} to {target.Count}");
        }

        return partition.Replicas.SequenceEqual(target)
            ? (ErrorCode.None, null)
            : (ErrorCode.InvalidReplicaAssignment, "Moving replicas between brokers is not supported: this broker does not replicate partitions.");
    }
}
