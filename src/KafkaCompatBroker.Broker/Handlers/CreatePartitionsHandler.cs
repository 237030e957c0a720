using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// CreatePartitions (key 37), v0–3, as Kafka's ControllerApis.createPartitions and
/// ReplicationControlManager answer it: a topic named twice is INVALID_REQUEST "Duplicate topic name."; an
/// unknown topic is UNKNOWN_TOPIC_OR_PARTITION (no message, as Kafka's exception carries none); a count that
/// is not an increase is INVALID_PARTITIONS ("Topic already has N partition(s)." / "The topic T currently has N
/// partition(s); M would not be an increase."); explicit assignments (one broker list per new partition) are
/// checked as Kafka checks them (INVALID_REPLICA_ASSIGNMENT); validate_only creates nothing. The new
/// partitions' logs are created by the ReplicaManager when the change is published. All versions carry an
/// error message field (null on success); timeout_ms never expires on a single node (ONE-REPLICA).
/// Kafka collects the PartitionRecords of all the request's topics in one list bounded at 10,000
/// (QuorumController.MAX_RECORDS_PER_USER_OP); a topic whose new partitions would overflow what the topics before
/// it left fails. Kafka catches that overflow per topic as UNKNOWN_SERVER_ERROR after building the whole placement;
/// here it is POLICY_VIOLATION with the message Kafka's controller gives the same overflow elsewhere
/// (EventHandlerExceptionInfo), checked before anything is placed, and the other topics go on.
/// </summary>
public sealed class CreatePartitionsHandler(BrokerContext broker) : ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse>
{
    public override ApiKey Key => ApiKey.CreatePartitions;

    public override short MinVersion => 0;

    public override short MaxVersion => 3;

    protected override async ValueTask<CreatePartitionsResponse?> HandleAsync(RequestContext context, CreatePartitionsRequest request, CancellationToken cancellationToken)
    {
        var response = new CreatePartitionsResponse();
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var topic in request.Topics)
        {
            counts[topic.Name] = counts.GetValueOrDefault(topic.Name) + 1;
        }

        // Kafka answers the duplicates first, then the rest.
        foreach (var (name, count) in counts)
        {
            if (count > 1)
            {
                response.Results.Add(Result(name, ErrorCode.InvalidRequest, "Duplicate topic name."));
            }
        }

        var budget = ClusterController.MaxRecordsPerUserOperation;
        foreach (var topic in request.Topics)
        {
            if (counts[topic.Name] > 1)
            {
                continue;
            }

            List<IReadOnlyList<int>>? assignments = null;
            if (topic.Assignments is { } given)
            {
                assignments = new List<IReadOnlyList<int>>(given.Count);
                foreach (var assignment in given)
                {
                    assignments.Add(assignment.BrokerIds);
                }
            }

            var before = broker.Metadata.Image.GetTopic(topic.Name)?.Partitions.Count ?? 0;
            var result = await broker.Controller.CreatePartitionsAsync(topic.Name, topic.Count, assignments, request.ValidateOnly, budget);
            if (result.IsSuccess)
            {
                budget -= topic.Count - before;
            }

            var message = result.Error switch
            {
                ErrorCode.None => null,
                ErrorCode.UnknownTopicOrPartition => null,
                _ => result.ErrorMessage,
            };
            response.Results.Add(Result(topic.Name, result.Error, message));
        }

        return response;
    }

    private static CreatePartitionsResponse.CreatePartitionsTopicResult Result(string name, ErrorCode error, string? message) =>
        new() { Name = name, ErrorCode = (short)error, ErrorMessage = message };
}
