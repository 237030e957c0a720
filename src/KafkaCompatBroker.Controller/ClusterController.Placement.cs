using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.MetadataRecords;

namespace KafkaCompatBroker.Controller;

/// <summary>Replica placement and the PartitionRecords of new partitions (Kafka's ReplicationControlManager, StripedReplicaPlacer).</summary>
public sealed partial class ClusterController
{
    /// <summary>
    /// The replicas of a new topic's partitions: explicit <paramref name="assignments"/> checked, or placed from the
    /// partition count and replication factor (-1: the defaults). <paramref name="configCount"/> ConfigRecords and the
    /// TopicRecord share the operation's record budget with the PartitionRecords.
    /// </summary>
    private (ErrorCode Error, string? Message, List<List<int>> Placement) PlaceNewTopic(
        ClusterImage image, int numPartitions, short replicationFactor, IReadOnlyDictionary<int, IReadOnlyList<int>>? assignments, int configCount)
    {
        List<List<int>> placement;
        if (assignments is { Count: > 0 })
        {
            if (numPartitions != -1)
            {
                return (ErrorCode.InvalidRequest, "A manual partition assignment was specified, but numPartitions was not set to -1.", []);
            }

            if (replicationFactor != -1)
            {
                return (ErrorCode.InvalidRequest, "A manual partition assignment was specified, but replicationFactor was not set to -1.", []);
            }

            placement = [];
            for (var i = 0; i < assignments.Count; i++)
            {
                if (!assignments.TryGetValue(i, out var replicas))
                {
                    return (ErrorCode.InvalidReplicaAssignment, "Partitions should be a consecutive 0-based integer sequence", []);
                }

                placement.Add([.. replicas]);
            }

            if (ValidateManualAssignment(image, placement, placement[0].Count) is { } invalidAssignment)
            {
                return (ErrorCode.InvalidReplicaAssignment, invalidAssignment, []);
            }

            if (placement.Count > MaxRecordsPerUserOperation - 1 - configCount)
            {
                return (ErrorCode.PolicyViolation, ExcessiveBatchMessage, []);
            }

            return (ErrorCode.None, null, placement);
        }

        var partitions = numPartitions == -1 ? DefaultNumPartitions : numPartitions;
        var replication = replicationFactor == -1 ? DefaultReplicationFactor : replicationFactor;
        if (partitions <= 0)
        {
            return (ErrorCode.InvalidPartitions, "Number of partitions was set to an invalid non-positive value.", []);
        }

        if (replication <= 0)
        {
            return (ErrorCode.InvalidReplicationFactor, "Replication factor must be larger than 0, or -1 to use the default value.", []);
        }

        var (error, message) = Place(image, 0, partitions, replication, MaxRecordsPerUserOperation - 1 - configCount, out placement);
        return (error, message, placement);
    }

    /// <summary>
    /// Rack-unaware round-robin placement over the live brokers (sorted by id) from a random start, so leaders
    /// spread. INVALID_REPLICATION_FACTOR when there are too few brokers (StripedReplicaPlacer checks that before
    /// it places anything), then POLICY_VIOLATION when <paramref name="count"/> partition records would not fit
    /// in <paramref name="maxPartitions"/>: both before any list sized by a count from the wire is allocated.
    /// </summary>
    private static (ErrorCode Error, string? Message) Place(ClusterImage image, int firstPartition, int count, int replicationFactor, int maxPartitions, out List<List<int>> placement)
    {
        placement = [];
        var brokers = image.LiveBrokers.Select(b => b.BrokerId).ToArray();
        if (replicationFactor > brokers.Length)
        {
            return (ErrorCode.InvalidReplicationFactor, $"Unable to replicate the partition {replicationFactor} time(s): The target replication factor of {replicationFactor} cannot be reached because only {brokers.Length} broker(s) are registered.");
        }

        if (count > maxPartitions)
        {
            return (ErrorCode.PolicyViolation, ExcessiveBatchMessage);
        }

        placement.Capacity = count;

        var start = brokers.Length > 1 ? Random.Shared.Next(brokers.Length) : 0;
        for (var p = 0; p < count; p++)
        {
            var replicas = new List<int>(replicationFactor);
            for (var r = 0; r < replicationFactor; r++)
            {
                replicas.Add(brokers[(start + firstPartition + p + r) % brokers.Length]);
            }

            placement.Add(replicas);
        }

        return (ErrorCode.None, null);
    }

    private static string? ValidateManualAssignment(ClusterImage image, List<List<int>> placement, int replicationFactor)
    {
        for (var p = 0; p < placement.Count; p++)
        {
            var replicas = placement[p];
            if (replicas.Count == 0)
            {
                return "The manual partition assignment includes an empty replica list.";
            }

            var seen = new HashSet<int>();
            foreach (var broker in replicas)
            {
                if (!seen.Add(broker))
                {
                    return $"The manual partition assignment includes the broker {broker} more than once.";
                }

                if (!image.Brokers.ContainsKey(broker))
                {
                    return $"The manual partition assignment includes broker {broker}, but no such broker is registered.";
                }
            }

            if (replicas.Count != replicationFactor)
            {
                return $"The manual partition assignment includes a partition with {replicas.Count} replica(s), but this is inconsistent with previous partitions, which have {replicationFactor} replica(s).";
            }

            if (!replicas.Any(b => image.Brokers[b].IsLive))
            {
                return $"All brokers specified in the manual partition assignment for partition {p} are fenced or in controlled shutdown.";
            }
        }

        return null;
    }

    /// <summary>A new partition: the live replicas are the ISR, the first of them leads, epochs start at 0.</summary>
    private static MetadataRecord PartitionRecordFor(ClusterImage image, KafkaUuid topicId, int partitionId, List<int> replicas)
    {
        var isr = replicas.Where(b => image.Brokers.TryGetValue(b, out var broker) && broker.IsLive).ToList();
        return new MetadataRecord(
            new PartitionRecord
            {
                PartitionId = partitionId,
                TopicId = topicId,
                Replicas = [.. replicas],
                Isr = isr,
                Leader = isr.Count > 0 ? isr[0] : -1,
                LeaderEpoch = 0,
                PartitionEpoch = 0,
            },
            PartitionRecordVersion);
    }
}
