using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// ConsumerGroupHeartbeat (key 68), v0–1: the KIP-848 consumer group protocol (join with epoch 0,
/// heartbeat with the current epoch, leave with -1, static temporary leave with -2). The group
/// coordinator does the work; see <c>GroupCoordinator.ConsumerGroups.cs</c>. v0 lets the coordinator
/// pick the member id when the request has none; v1 requires the client's own. Errors carry Kafka's
/// messages (INVALID_REQUEST, UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH, UNRELEASED_INSTANCE_ID,
/// FENCED_INSTANCE_ID, GROUP_ID_NOT_FOUND, GROUP_MAX_SIZE_REACHED, UNSUPPORTED_ASSIGNOR,
/// INVALID_REGULAR_EXPRESSION). The assignment is sent on full requests and when it changed.
/// </summary>
public sealed class ConsumerGroupHeartbeatHandler(BrokerContext broker) : ApiHandler<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse>
{
    public override ApiKey Key => ApiKey.ConsumerGroupHeartbeat;

    public override short MinVersion => 0;

    public override short MaxVersion => 1;

    protected override ValueTask<ConsumerGroupHeartbeatResponse?> HandleAsync(RequestContext context, ConsumerGroupHeartbeatRequest request, CancellationToken cancellationToken)
    {
        List<OwnedTopicPartitions>? owned = null;
        if (request.TopicPartitions is { } topicPartitions)
        {
            owned = new List<OwnedTopicPartitions>(topicPartitions.Count);
            foreach (var topic in topicPartitions)
            {
                owned.Add(new OwnedTopicPartitions(topic.TopicId, topic.Partitions));
            }
        }

        var result = broker.GroupCoordinator.ConsumerGroupHeartbeat(new ConsumerGroupHeartbeatParams
        {
            GroupId = request.GroupId,
            MemberId = request.MemberId,
            MemberEpoch = request.MemberEpoch,
            InstanceId = request.InstanceId,
            RackId = request.RackId,
            RebalanceTimeoutMs = request.RebalanceTimeoutMs,
            SubscribedTopicNames = request.SubscribedTopicNames,
            SubscribedTopicRegex = context.ApiVersion >= 1 ? request.SubscribedTopicRegex : null,
            ServerAssignor = request.ServerAssignor,
            TopicPartitions = owned,
            ClientId = context.ClientId ?? "",
            ClientHost = ClientAddress.Format(context.Connection.RemoteEndPoint),
            ApiVersion = context.ApiVersion,
        });

        var response = new ConsumerGroupHeartbeatResponse
        {
            ErrorCode = (short)result.Error,
            ErrorMessage = result.ErrorMessage,
            MemberId = result.MemberId,
            MemberEpoch = result.MemberEpoch,
            HeartbeatIntervalMs = result.HeartbeatIntervalMs,
        };
        if (result.Assignment is { } assignment)
        {
            response.Assignment = new ConsumerGroupHeartbeatResponse.AssignmentData();
            foreach (var (topicId, partitions) in assignment)
            {
                response.Assignment.TopicPartitions.Add(new ConsumerGroupHeartbeatResponse.TopicPartitions { TopicId = topicId, Partitions = [.. partitions] });
            }
        }

        return ValueTask.FromResult<ConsumerGroupHeartbeatResponse?>(response);
    }
}
