using KafkaCompatBroker.Controller;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// What the topic and cluster APIs (Metadata, CreateTopics, DeleteTopics, CreatePartitions, DescribeCluster,
/// DescribeTopicPartitions) share: the listener a client is answered on, broker endpoints and liveness as
/// Kafka's KRaft metadata cache computes them, internal topic names, authorized-operation bitfields, and the
/// default messages of the errors these APIs return.
/// </summary>
public static class TopicAdmin
{
    /// <summary>Kafka's Topic.INTERNAL_TOPICS: the topics reported with is_internal = true.</summary>
    public static bool IsInternal(string? topic) => topic is "__consumer_offsets" or "__transaction_state" or "__share_group_state";

    /// <summary>Errors.UNKNOWN_TOPIC_OR_PARTITION.message().</summary>
    public const string UnknownTopicOrPartitionMessage = "This server does not host this topic-partition.";

    /// <summary>Errors.UNKNOWN_TOPIC_ID.message().</summary>
    public const string UnknownTopicIdMessage = "This server does not host this topic ID.";

    /// <summary>Kafka's "not requested" value of the *_authorized_operations fields.</summary>
    public const int AuthorizedOperationsNotRequested = int.MinValue;

    // AclOperation codes: READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, CLUSTER_ACTION 9,
    // DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12.

    /// <summary>
    /// With no authorizer Kafka reports every operation AclEntry.supportedOperations(TOPIC) lists:
    /// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, DESCRIBE_CONFIGS, ALTER_CONFIGS.
    /// </summary>
    public const int TopicAuthorizedOperations = (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11);

    /// <summary>
    /// With no authorizer Kafka reports every operation AclEntry.supportedOperations(CLUSTER) lists:
    /// CREATE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE.
    /// </summary>
    public const int ClusterAuthorizedOperations = (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

    /// <summary>
    /// The listener name a request is answered for: the connection's listener when it is one of the advertised
    /// listeners' names (each listener names its connections), otherwise the first advertised listener.
    /// </summary>
    public static string ListenerFor(BrokerContext broker, RequestContext context)
    {
        var listeners = broker.Settings.AdvertisedListeners;
        foreach (var listener in listeners)
        {
            if (string.Equals(listener.Name, context.Connection.ListenerName, StringComparison.Ordinal))
            {
                return listener.Name;
            }
        }

        return listeners.Count > 0 ? listeners[0].Name : context.Connection.ListenerName;
    }

    /// <summary>A broker's endpoint on <paramref name="listener"/>, or null when it has none (Kafka's BrokerRegistration.node).</summary>
    public static BrokerEndpoint? EndpointOf(BrokerRegistration broker, string listener)
    {
        foreach (var endpoint in broker.Endpoints)
        {
            if (string.Equals(endpoint.Listener, listener, StringComparison.Ordinal))
            {
                return endpoint;
            }
        }

        return null;
    }

    /// <summary>Replicas Kafka reports offline: not registered, fenced, or without the listener.</summary>
    public static List<int> OfflineReplicas(ClusterImage image, PartitionImage partition, string listener)
    {
        var offline = new List<int>(0);
        foreach (var id in partition.Replicas)
        {
            if (!image.Brokers.TryGetValue(id, out var broker) || broker.Fenced || EndpointOf(broker, listener) is null)
            {
                offline.Add(id);
            }
        }

        return offline;
    }

    /// <summary>The replicas (or ISR) that are registered, unfenced and have the listener (Kafka filters these for Metadata v0 only).</summary>
    public static List<int> AliveReplicas(ClusterImage image, IEnumerable<int> replicas, string listener)
    {
        var alive = new List<int>();
        foreach (var id in replicas)
        {
            if (image.Brokers.TryGetValue(id, out var broker) && !broker.Fenced && EndpointOf(broker, listener) is not null)
            {
                alive.Add(id);
            }
        }

        return alive;
    }

    /// <summary>The leader's id when it is registered with an endpoint on the listener, otherwise null.</summary>
    public static bool LeaderReachable(ClusterImage image, PartitionImage partition, string listener) =>
        image.Brokers.TryGetValue(partition.Leader, out var leader) && EndpointOf(leader, listener) is not null;
}
