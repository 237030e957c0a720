using KafkaCompatBroker.Coordinator;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The group coordinator's side of <see cref="CoordinatorElectionPublisher"/> (Kafka's GroupCoordinatorService
/// onElection/onResignation): an election loads the partition's shard, a resignation unloads it. Both run off the
/// publishing thread, one after another in the order they came, because the publishing thread may be a coordinator's
/// holding a shard lock (it created <c>__consumer_offsets</c>) and a load takes shard locks and reads the log.
/// An election at the epoch already hosted changes nothing: start-up loads every partition before this listens, and
/// creating the topic elects its partitions at that same epoch.
/// </summary>
internal sealed class GroupCoordinatorElections(GroupCoordinator coordinator, ILogger logger) : ICoordinatorElectionListener
{
    private readonly Lock _queueLock = new();
    private Task _last = Task.CompletedTask;

    public void OnElection(int partition, int leaderEpoch)
    {
        if (partition >= coordinator.PartitionCount)
        {
            // The shard count is fixed at start-up (offsets.topic.num.partitions or the topic's partitions then), as Kafka's is.
            logger.LogWarning("Not loading __consumer_offsets partition {Partition}: the group coordinator has {Count} shards", partition, coordinator.PartitionCount);
            return;
        }

        if (coordinator.HostedEpoch(partition) != leaderEpoch)
        {
            Enqueue(partition, "load", () => coordinator.Load(partition, leaderEpoch));
        }
    }

    public void OnResignation(int partition, int? leaderEpoch)
    {
        if (partition < coordinator.PartitionCount)
        {
            Enqueue(partition, "unload", () => coordinator.Unload(partition, leaderEpoch));
        }
    }

    /// <summary>Completes once every election and resignation handed over so far has run (tests).</summary>
    public Task Drained
    {
        get
        {
            lock (_queueLock)
            {
                return _last;
            }
        }
    }

    private void Enqueue(int partition, string what, Action action)
    {
        lock (_queueLock)
        {
            _last = _last.ContinueWith(
                _ =>
                {
                    try
                    {
                        action();
                    }
                    catch (Exception e)
                    {
                        logger.LogError(e, "Group coordinator: {What} of __consumer_offsets partition {Partition} failed", what, partition);
                    }
                },
                CancellationToken.None,
                TaskContinuationOptions.None,
                TaskScheduler.Default);
        }
    }
}
