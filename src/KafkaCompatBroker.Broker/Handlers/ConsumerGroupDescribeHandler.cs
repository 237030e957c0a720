using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// ConsumerGroupDescribe (key 69), v0–1: state, group and assignment epochs, the preferred server
/// assignor and every member with its current and target assignments (topic names resolved from the
/// ids; topics deleted since are left out). An unknown id, or a classic group, is GROUP_ID_NOT_FOUND;
/// an empty id INVALID_GROUP_ID. v1 adds the member type (1 = consumer protocol). Authorized
/// operations, when asked for, are every group operation (no authorizer).
/// </summary>
public sealed class ConsumerGroupDescribeHandler(BrokerContext broker) : ApiHandler<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse>
{
    /// <summary>READ, DELETE, DESCRIBE, DESCRIBE_CONFIGS and ALTER_CONFIGS: what Kafka allows on a group without an authorizer.</summary>
    public const int GroupAuthorizedOperations = (1 << 3) | (1 << 6) | (1 << 8) | (1 << 10) | (1 << 11);

    public override ApiKey Key => ApiKey.ConsumerGroupDescribe;

    public override short MinVersion => 0;

    public override short MaxVersion => 1;

    protected override ValueTask<ConsumerGroupDescribeResponse?> HandleAsync(RequestContext context, ConsumerGroupDescribeRequest request, CancellationToken cancellationToken)
    {
        var response = new ConsumerGroupDescribeResponse();
        var valid = request.GroupIds.FindAll(id => id.Length > 0);
        var descriptions = broker.GroupCoordinator.DescribeConsumerGroups(valid);
        var next = 0;
        var image = broker.Metadata.Image;
        foreach (var groupId in request.GroupIds)
        {
            if (groupId.Length == 0)
            {
                response.Groups.Add(new ConsumerGroupDescribeResponse.DescribedGroup { GroupId = groupId, ErrorCode = (short)ErrorCode.InvalidGroupId });
                continue;
            }

            var description = descriptions[next++];
            var described = new ConsumerGroupDescribeResponse.DescribedGroup
            {
                GroupId = groupId,
                ErrorCode = (short)description.Error,
                ErrorMessage = description.ErrorMessage,
                GroupState = description.State,
                GroupEpoch = description.GroupEpoch,
                AssignmentEpoch = description.AssignmentEpoch,
                AssignorName = description.AssignorName,
            };
            foreach (var member in description.Members ?? [])
            {
                described.Members.Add(new ConsumerGroupDescribeResponse.Member
                {
                    MemberId = member.MemberId,
                    InstanceId = member.InstanceId,
                    RackId = member.RackId,
                    MemberEpoch = member.MemberEpoch,
                    ClientId = member.ClientId,
                    ClientHost = member.ClientHost,
                    SubscribedTopicNames = [.. member.SubscribedTopicNames],
                    SubscribedTopicRegex = member.SubscribedTopicRegex,
                    Assignment = ToAssignment(member.Assignment, image),
                    TargetAssignment = ToAssignment(member.TargetAssignment, image),
                    MemberType = context.ApiVersion >= 1 ? (sbyte)1 : (sbyte)-1,
                });
            }

            if (request.IncludeAuthorizedOperations && description.Error == ErrorCode.None)
            {
                described.AuthorizedOperations = GroupAuthorizedOperations;
            }

            response.Groups.Add(described);
        }

        return ValueTask.FromResult<ConsumerGroupDescribeResponse?>(response);
    }

    private static ConsumerGroupDescribeResponse.Assignment ToAssignment(IReadOnlyDictionary<KafkaUuid, SortedSet<int>> partitions, Controller.ClusterImage image)
    {
        var assignment = new ConsumerGroupDescribeResponse.Assignment();
        foreach (var (topicId, set) in partitions)
        {
            if (image.GetTopic(topicId) is { } topic)
            {
                assignment.TopicPartitions.Add(new ConsumerGroupDescribeResponse.TopicPartitions { TopicId = topicId, TopicName = topic.Name, Partitions = [.. set] });
            }
        }

        assignment.TopicPartitions.Sort(static (a, b) => string.CompareOrdinal(a.TopicName, b.TopicName));
        return assignment;
    }
}
