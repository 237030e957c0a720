using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// ElectLeaders (key 43), v0–2 (Kafka 4.x's range; flexible from v2), as Kafka's ReplicationControlManager.electLeaders
/// answers it. Election type (v1+) 0 = preferred, 1 = unclean (v0 is always preferred); any other value fails the request
/// with INVALID_REQUEST "Unknown election type N" at the top level and on every listed partition
/// (ElectLeadersRequest.getErrorResponse). Per partition: unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION
/// ("No such topic as T" / "No such partition as T-P"); a partition already led by its preferred replica (preferred)
/// or with a leader (unclean) is ELECTION_NOT_NEEDED, which on a single node is every partition (ONE-REPLICA). A partition without
/// such a leader gets PREFERRED_LEADER_NOT_AVAILABLE / ELIGIBLE_LEADERS_NOT_AVAILABLE: this broker is the only
/// candidate there is. Null topic_partitions means every partition, and then, as Kafka, every topic is listed but
/// ELECTION_NOT_NEEDED partitions are left out.
/// </summary>
public sealed class ElectLeadersHandler(BrokerContext broker) : ApiHandler<ElectLeadersRequest, ElectLeadersResponse>
{
    private const sbyte Preferred = 0;
    private const sbyte Unclean = 1;
    private const string ElectionNotNeededMessage = "Leader election not needed for topic partition.";
    private const string PreferredLeaderNotAvailableMessage = "The preferred leader was not available.";
    private const string EligibleLeadersNotAvailableMessage = "Eligible topic partition leaders are not available.";

    public override ApiKey Key => ApiKey.ElectLeaders;

    public override short MinVersion => 0;

    public override short MaxVersion => 2;

    protected override ValueTask<ElectLeadersResponse?> HandleAsync(RequestContext context, ElectLeadersRequest request, CancellationToken cancellationToken)
    {
        var electionType = context.ApiVersion >= 1 ? request.ElectionType : Preferred;
        var response = new ElectLeadersResponse();
        if (electionType is not (Preferred or Unclean))
        {
            var message = $"Unknown election type {electionType}";
            response.ErrorCode = (short)ErrorCode.InvalidRequest;
            foreach (var topic in request.TopicPartitions ?? [])
            {
                var result = new ElectLeadersResponse.ReplicaElectionResult { Topic = topic.Topic };
                foreach (var partition in topic.Partitions)
                {
                    result.PartitionResult.Add(new ElectLeadersResponse.PartitionResult { PartitionId = partition, ErrorCode = (short)ErrorCode.InvalidRequest, ErrorMessage = message });
                }

                response.ReplicaElectionResults.Add(result);
            }

            return ValueTask.FromResult<ElectLeadersResponse?>(response);
        }

        var image = broker.Metadata.Image;
        if (request.TopicPartitions is null)
        {
            foreach (var topic in image.TopicsByName.Values)
            {
                var result = new ElectLeadersResponse.ReplicaElectionResult { Topic = topic.Name };
                foreach (var partition in topic.Partitions.Values)
                {
                    var (error, message) = Elect(partition, electionType);
                    if (error != ErrorCode.ElectionNotNeeded)
                    {
                        result.PartitionResult.Add(new ElectLeadersResponse.PartitionResult { PartitionId = partition.PartitionId, ErrorCode = (short)error, ErrorMessage = message });
                    }
                }

                response.ReplicaElectionResults.Add(result);
            }

            return ValueTask.FromResult<ElectLeadersResponse?>(response);
        }

        foreach (var topic in request.TopicPartitions)
        {
            var known = image.GetTopic(topic.Topic);
            var result = new ElectLeadersResponse.ReplicaElectionResult { Topic = topic.Topic };
            foreach (var partitionId in topic.Partitions)
            {
                var (error, message) = known is null
                    ? (ErrorCode.UnknownTopicOrPartition, $"No such topic as {topic.Topic}")
                    : known.Partitions.TryGetValue(partitionId, out var partition)
                        ? Elect(partition, electionType)
                        : (ErrorCode.UnknownTopicOrPartition, $"No such partition as {topic.Topic}-{partitionId}");
                result.PartitionResult.Add(new ElectLeadersResponse.PartitionResult { PartitionId = partitionId, ErrorCode = (short)error, ErrorMessage = message });
            }

            response.ReplicaElectionResults.Add(result);
        }

        return ValueTask.FromResult<ElectLeadersResponse?>(response);
    }

    /// <summary>PartitionRegistration.hasPreferredLeader / hasLeader; no other leader can be elected here.</summary>
    private static (ErrorCode Error, string Message) Elect(PartitionImage partition, sbyte electionType) => electionType == Preferred
        ? partition.Replicas.Length > 0 && partition.Leader == partition.Replicas[0]
            ? (ErrorCode.ElectionNotNeeded, ElectionNotNeededMessage)
            : (ErrorCode.PreferredLeaderNotAvailable, PreferredLeaderNotAvailableMessage)
        : partition.Leader >= 0
            ? (ErrorCode.ElectionNotNeeded, ElectionNotNeededMessage)
            : (ErrorCode.EligibleLeadersNotAvailable, EligibleLeadersNotAvailableMessage);
}
