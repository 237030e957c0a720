using KafkaCompatBroker.Controller;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// A coordinator told which of its internal topic's partitions this broker leads (Kafka's GroupCoordinator and
/// TransactionCoordinator onElection/onResignation): load the partition's state on election, unload it on resignation.
/// Called on the metadata publishing thread with no lock held; must not block on a coordinator lock.
/// </summary>
public interface ICoordinatorElectionListener
{
    /// <summary>This broker became the leader of <paramref name="partition"/> at <paramref name="leaderEpoch"/>.</summary>
    void OnElection(int partition, int leaderEpoch);

    /// <summary>This broker no longer leads <paramref name="partition"/>: another leads at <paramref name="leaderEpoch"/>, or (null) the topic was deleted.</summary>
    void OnResignation(int partition, int? leaderEpoch);
}

/// <summary>
/// Tells the coordinators about leadership of <c>__consumer_offsets</c> / <c>__transaction_state</c> partitions this
/// broker gains or loses, from each metadata delta (Kafka's BrokerMetadataPublisher.updateCoordinator).
/// </summary>
public sealed class CoordinatorElectionPublisher(int nodeId, ICoordinatorElectionListener groups, ICoordinatorElectionListener transactions) : IMetadataPublisher
{
    public string Name => nameof(CoordinatorElectionPublisher);

    public void OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage)
    {
        ArgumentNullException.ThrowIfNull(delta);
        ArgumentNullException.ThrowIfNull(newImage);
        Update(delta, newImage, ConsumerOffsetsTopic.Name, groups);
        Update(delta, newImage, TransactionStateTopic.Name, transactions);
    }

    private void Update(MetadataDelta delta, ClusterImage image, string topicName, ICoordinatorElectionListener listener)
    {
        foreach (var (_, deleted) in delta.DeletedTopics)
        {
            if (deleted.Name == topicName)
            {
                foreach (var partition in deleted.Partitions.Values)
                {
                    if (partition.Leader == nodeId)
                    {
                        listener.OnResignation(partition.PartitionId, null);
                    }
                }
            }
        }

        if (image.GetTopic(topicName) is not { } topic)
        {
            return;
        }

        var before = delta.Previous.GetTopic(topic.Id);
        foreach (var id in delta.ChangedPartitionsOf(topic.Id))
        {
            var now = topic.Partitions[id];
            PartitionImage? old = before is not null && before.Partitions.TryGetValue(id, out var p) ? p : null;
            var led = old is not null && old.Leader == nodeId;
            if (now.Leader == nodeId)
            {
                if (!led || old!.LeaderEpoch != now.LeaderEpoch)
                {
                    listener.OnElection(id, now.LeaderEpoch);
                }
            }
            else if (led)
            {
                listener.OnResignation(id, now.LeaderEpoch);
            }
        }
    }
}

/// <summary>A listener that only logs (at Debug) until a coordinator runtime loads and unloads shards on these calls.</summary>
public sealed class LoggingCoordinatorElectionListener(string coordinator, ILogger logger) : ICoordinatorElectionListener
{
    public void OnElection(int partition, int leaderEpoch) =>
        logger.LogDebug("{Coordinator}: elected for partition {Partition} at leader epoch {LeaderEpoch}", coordinator, partition, leaderEpoch);

    public void OnResignation(int partition, int? leaderEpoch) =>
        logger.LogDebug("{Coordinator}: resigned partition {Partition} (leader epoch {LeaderEpoch})", coordinator, partition, leaderEpoch?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none: deleted");
}
