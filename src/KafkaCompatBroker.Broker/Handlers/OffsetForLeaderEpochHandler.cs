using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// OffsetForLeaderEpoch (key 23), v2–4: the end offset of a leader epoch, as Kafka's
/// LeaderEpochFileCache.endOffsetFor answers it — the current epoch ends at the log end offset; an
/// older epoch ends where the next higher epoch starts, reported with the largest known epoch not above
/// the requested one; an epoch above the current one, or -1, gets epoch -1 / offset -1.
/// The epochs come from the log's leader-epoch cache (its leader-epoch-checkpoint), plus the partition's
/// current leader epoch starting at the log end offset when no batch carries it yet. current_leader_epoch is checked (FENCED_LEADER_EPOCH below the
/// partition's epoch, UNKNOWN_LEADER_EPOCH above it); unknown partitions get UNKNOWN_TOPIC_OR_PARTITION.
/// replica_id (v3+) is accepted from consumers (-2) and followers alike.
/// </summary>
public sealed class OffsetForLeaderEpochHandler(BrokerContext broker) : ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse>
{
    public override ApiKey Key => ApiKey.OffsetForLeaderEpoch;

    public override short MinVersion => 2;

    public override short MaxVersion => 4;

    protected override ValueTask<OffsetForLeaderEpochResponse?> HandleAsync(RequestContext context, OffsetForLeaderEpochRequest request, CancellationToken cancellationToken)
    {
        var response = new OffsetForLeaderEpochResponse();
        var image = broker.Replicas.Image;
        foreach (var topic in request.Topics)
        {
            var topicResult = new OffsetForLeaderEpochResponse.OffsetForLeaderTopicResult { Topic = topic.Topic };
            response.Topics.Add(topicResult);
            var topicImage = image.GetTopic(topic.Topic);
            foreach (var p in topic.Partitions)
            {
                var result = new OffsetForLeaderEpochResponse.EpochEndOffset { Partition = p.Partition };
                topicResult.Partitions.Add(result);
                if (topicImage is null || !topicImage.Partitions.TryGetValue(p.Partition, out var partition) || broker.Replicas.GetLog(topic.Topic, p.Partition) is not { } log)
                {
                    result.ErrorCode = (short)ErrorCode.UnknownTopicOrPartition;
                    continue;
                }

                var epochError = CheckCurrentLeaderEpoch(p.CurrentLeaderEpoch, partition.LeaderEpoch);
                if (epochError != ErrorCode.None)
                {
                    result.ErrorCode = (short)epochError;
                    continue;
                }

                (result.LeaderEpoch, result.EndOffset) = EndOffsetForEpoch(log, p.LeaderEpoch, partition.LeaderEpoch);
            }
        }

        return ValueTask.FromResult<OffsetForLeaderEpochResponse?>(response);
    }

    /// <summary>Kafka's current-leader-epoch check: -1 skips it; older is fenced, newer is not known yet.</summary>
    public static ErrorCode CheckCurrentLeaderEpoch(int requested, int current) =>
        requested == -1 ? ErrorCode.None : requested < current ? ErrorCode.FencedLeaderEpoch : requested > current ? ErrorCode.UnknownLeaderEpoch : ErrorCode.None;

    /// <summary>
    /// LeaderEpochFileCache.endOffsetFor over the log's leader-epoch cache, with the partition's current epoch
    /// starting at the log end when no batch carries it yet (Kafka assigns it when the broker becomes leader).
    /// </summary>
    public static (int Epoch, long EndOffset) EndOffsetForEpoch(PartitionLog log, int requestedEpoch, int currentEpoch)
    {
        if (requestedEpoch == LeaderEpochFileCache.UndefinedEpoch || requestedEpoch > currentEpoch)
        {
            return (LeaderEpochFileCache.UndefinedEpoch, LeaderEpochFileCache.UndefinedEpochOffset);
        }

        var logEnd = log.LogEndOffset;
        if (requestedEpoch == currentEpoch)
        {
            return (currentEpoch, logEnd);
        }

        var cache = log.LeaderEpochCache;
        var latest = cache.LatestEpoch;
        if (requestedEpoch > latest)
        {
            // Past every stored epoch, below the current one: the current epoch starts at the log end.
            return (latest == LeaderEpochFileCache.UndefinedEpoch ? requestedEpoch : latest, logEnd);
        }

        return cache.EndOffsetFor(requestedEpoch, logEnd);
    }

    /// <summary>The leader epoch of the record at <paramref name="offset"/> (from the leader-epoch cache), or null when the log holds no such record.</summary>
    public static int? EpochAt(PartitionLog log, long offset) =>
        offset >= log.LogStartOffset && offset < log.LogEndOffset ? log.LeaderEpochCache.EpochForOffset(offset) : null;
}
