using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// ListOffsets (key 2), v1–11. Special timestamps: -1 latest (the high watermark for read_uncommitted,
/// the last stable offset for read_committed (isolation_level, v2+), and the log end
/// offset for a follower's replica id ≥ 0), -2 earliest (log start offset), -3 the record with the largest
/// timestamp (v7+), -4 earliest local (v8+; the log start offset: there is no tiered storage), -5 latest
/// tiered (v9+) and -6 earliest pending upload (v11+), both offset -1 / epoch -1 without tiered storage,
/// as Kafka answers. Any other timestamp finds the first record with timestamp ≥ it below the
/// fetchable offset; none found is timestamp -1 / offset -1 with no error. Special timestamps below
/// the version that introduced them are treated as ordinary timestamps. leader_epoch (v4+) is the
/// epoch of the batch holding the offset (the current epoch for latest); current_leader_epoch is checked
/// (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH). A partition listed twice gets INVALID_REQUEST; unknown
/// partitions UNKNOWN_TOPIC_OR_PARTITION. timeout_ms (v10+) only matters for tiered storage and is ignored.
/// </summary>
public sealed class ListOffsetsHandler(BrokerContext broker) : ApiHandler<ListOffsetsRequest, ListOffsetsResponse>
{
    private const long Latest = -1;
    private const long Earliest = -2;
    private const long MaxTimestamp = -3;
    private const long EarliestLocal = -4;
    private const long LatestTiered = -5;
    private const long EarliestPendingUpload = -6;

    public override ApiKey Key => ApiKey.ListOffsets;

    public override short MinVersion => 1;

    public override short MaxVersion => 11;

    protected override ValueTask<ListOffsetsResponse?> HandleAsync(RequestContext context, ListOffsetsRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var response = new ListOffsetsResponse();
        var image = broker.Replicas.Image;
        HashSet<(string, int)>? seen = null;
        HashSet<(string, int)>? duplicates = null;
        foreach (var topic in request.Topics)
        {
            foreach (var p in topic.Partitions)
            {
                seen ??= [];
                if (!seen.Add((topic.Name, p.PartitionIndex)))
                {
                    (duplicates ??= []).Add((topic.Name, p.PartitionIndex));
                }
            }
        }

        foreach (var topic in request.Topics)
        {
            var topicResponse = new ListOffsetsResponse.ListOffsetsTopicResponse { Name = topic.Name };
            response.Topics.Add(topicResponse);
            var topicImage = image.GetTopic(topic.Name);
            foreach (var p in topic.Partitions)
            {
                var result = new ListOffsetsResponse.ListOffsetsPartitionResponse { PartitionIndex = p.PartitionIndex };
                topicResponse.Partitions.Add(result);
                if (duplicates is not null && duplicates.Contains((topic.Name, p.PartitionIndex)))
                {
                    result.ErrorCode = (short)ErrorCode.InvalidRequest;
                    continue;
                }

                if (topicImage is null || !topicImage.Partitions.TryGetValue(p.PartitionIndex, out var partition) || broker.Replicas.GetLog(topic.Name, p.PartitionIndex) is not { } log)
                {
                    result.ErrorCode = (short)ErrorCode.UnknownTopicOrPartition;
                    continue;
                }

                var epochError = OffsetForLeaderEpochHandler.CheckCurrentLeaderEpoch(version >= 4 ? p.CurrentLeaderEpoch : -1, partition.LeaderEpoch);
                if (epochError != ErrorCode.None)
                {
                    result.ErrorCode = (short)epochError;
                    continue;
                }

                try
                {
                    Lookup(log, p.Timestamp, version, request.ReplicaId, version >= 2 && request.IsolationLevel == 1, partition.LeaderEpoch, result);
                }
                catch (KafkaStorageException)
                {
                    (result.ErrorCode, result.Timestamp, result.Offset, result.LeaderEpoch) = ((short)ErrorCode.KafkaStorageError, -1, -1, -1);
                }
            }
        }

        return ValueTask.FromResult<ListOffsetsResponse?>(response);
    }

    private static void Lookup(PartitionLog log, long timestamp, short version, int replicaId, bool readCommitted, int leaderEpoch, ListOffsetsResponse.ListOffsetsPartitionResponse result)
    {
        // Consumers may see up to the high watermark (read_uncommitted) or the last stable offset
        // (read_committed); followers up to the log end.
        var fetchable = replicaId >= 0 ? log.LogEndOffset : readCommitted ? log.LastStableOffset : log.HighWatermark;
        result.Timestamp = -1;
        result.Offset = -1;
        result.LeaderEpoch = -1;
        switch (timestamp)
        {
            case Latest:
                result.Offset = fetchable;
                result.LeaderEpoch = version >= 4 ? leaderEpoch : -1;
                return;
            case Earliest:
            case EarliestLocal when version >= 8:
                result.Offset = log.LogStartOffset;
                result.LeaderEpoch = version >= 4 ? EpochFor(log, log.LogStartOffset) : -1;
                return;
            case LatestTiered when version >= 9:
            case EarliestPendingUpload when version >= 11:
                return;
            case MaxTimestamp when version >= 7:
                if (log.MaxTimestampAndOffset() is { } max)
                {
                    (result.Timestamp, result.Offset) = (max.Timestamp, max.Offset);
                    result.LeaderEpoch = version >= 4 ? EpochFor(log, max.Offset) : -1;
                }

                return;
            default:
                if (log.FindOffsetByTimestamp(timestamp) is { } found && found.Offset < fetchable)
                {
                    (result.Timestamp, result.Offset) = (found.Timestamp, found.Offset);
                    result.LeaderEpoch = version >= 4 ? EpochFor(log, found.Offset) : -1;
                }

                return;
        }
    }

    private static int EpochFor(PartitionLog log, long offset) => OffsetForLeaderEpochHandler.EpochAt(log, offset) ?? -1;
}
