using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// OffsetForLeaderEpoch (key 23), v2–4: the end offset of a leader epoch, as Kafka's
/// LeaderEpochFileCache.endOffsetFor answers it — the current epoch ends at the log end offset; an
/// older epoch ends where the next higher epoch starts, reported with the largest known epoch not above
/// the requested one; an epoch above the current one, or -1, gets epoch -1 / offset -1.
/// Simplification: there is no leader-epoch checkpoint file yet; the epochs are derived from the
/// partition leader epoch the log stamps in each batch header (monotonic in the log), found by a binary
/// search over batch headers, plus the partition's current leader epoch starting at the log end offset
/// when no batch carries it yet. current_leader_epoch is checked (FENCED_LEADER_EPOCH below the
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

                try
                {
                    (result.LeaderEpoch, result.EndOffset) = EndOffsetForEpoch(log, p.LeaderEpoch, partition.LeaderEpoch);
                }
                catch (KafkaStorageException)
                {
                    result.ErrorCode = (short)ErrorCode.KafkaStorageError;
                }
            }
        }

        return ValueTask.FromResult<OffsetForLeaderEpochResponse?>(response);
    }

    /// <summary>Kafka's current-leader-epoch check: -1 skips it; older is fenced, newer is not known yet.</summary>
    public static ErrorCode CheckCurrentLeaderEpoch(int requested, int current) =>
        requested == -1 ? ErrorCode.None : requested < current ? ErrorCode.FencedLeaderEpoch : requested > current ? ErrorCode.UnknownLeaderEpoch : ErrorCode.None;

    /// <summary>LeaderEpochFileCache.endOffsetFor over the epochs found in the log's batch headers.</summary>
    public static (int Epoch, long EndOffset) EndOffsetForEpoch(PartitionLog log, int requestedEpoch, int currentEpoch)
    {
        if (requestedEpoch == -1 || requestedEpoch > currentEpoch)
        {
            return (-1, -1);
        }

        var logEnd = log.LogEndOffset;
        if (requestedEpoch == currentEpoch)
        {
            return (currentEpoch, logEnd);
        }

        // The first batch whose epoch is above the requested one starts the next epoch.
        var logStart = log.LogStartOffset;
        long lo = logStart, hi = logEnd;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            if (BatchHeaderAt(log, mid) is not { } header)
            {
                break;
            }

            if (header.PartitionLeaderEpoch > requestedEpoch)
            {
                hi = Math.Max(lo, header.BaseOffset);
            }
            else
            {
                lo = header.NextOffset;
            }
        }

        var nextEpochStart = Math.Min(lo, logEnd);
        if (nextEpochStart > logStart && BatchHeaderAt(log, nextEpochStart - 1) is { PartitionLeaderEpoch: >= 0 } floor)
        {
            return (floor.PartitionLeaderEpoch, nextEpochStart);
        }

        return (requestedEpoch, nextEpochStart);
    }

    /// <summary>The partition leader epoch of the batch holding <paramref name="offset"/>, or null when there is none.</summary>
    public static int? EpochAt(PartitionLog log, long offset) => BatchHeaderAt(log, offset)?.PartitionLeaderEpoch;

    /// <summary>The header of the batch holding <paramref name="offset"/> (the first batch ending at or after it), or null.</summary>
    public static RecordBatchHeader? BatchHeaderAt(PartitionLog log, long offset)
    {
        LogReadResult read;
        try
        {
            read = log.Read(offset, RecordBatchHeader.Size, log.LogEndOffset, minOneBatch: true);
        }
        catch (OffsetOutOfRangeException)
        {
            return null;
        }

        if (read.Region is not { } region || region.Length < RecordBatchHeader.Size)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[RecordBatchHeader.Size];
        var done = 0;
        while (done < bytes.Length)
        {
            var n = RandomAccess.Read(region.File, bytes[done..], region.Position + done);
            if (n == 0)
            {
                return null;
            }

            done += n;
        }

        return RecordBatchHeader.Read(bytes);
    }
}
