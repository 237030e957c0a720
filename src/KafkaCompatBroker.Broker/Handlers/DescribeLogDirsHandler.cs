using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DescribeLogDirs (key 35), v1–5: every log dir of this broker with the partitions it holds — all of
/// them when topics is null, else only the listed partitions that exist here — each with its size on
/// disk, offset lag 0 (max(high watermark − log end offset, 0), as Kafka computes it for a current
/// log) and is_future false (no replica moves between dirs). total_bytes / usable_bytes (v4+) come
/// from the file system holding the dir; is_cordoned (v5) is false. A dir that cannot be read is
/// reported with KAFKA_STORAGE_ERROR. The top-level error_code is v3+.
/// </summary>
public sealed class DescribeLogDirsHandler(BrokerContext broker) : ApiHandler<DescribeLogDirsRequest, DescribeLogDirsResponse>
{
    public override ApiKey Key => ApiKey.DescribeLogDirs;

    public override short MinVersion => 1;

    public override short MaxVersion => 5;

    protected override ValueTask<DescribeLogDirsResponse?> HandleAsync(RequestContext context, DescribeLogDirsRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        Dictionary<string, HashSet<int>>? wanted = null;
        if (request.Topics is { } topics)
        {
            wanted = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
            foreach (var topic in topics)
            {
                if (!wanted.TryGetValue(topic.Topic, out var partitions))
                {
                    wanted[topic.Topic] = partitions = [];
                }

                partitions.UnionWith(topic.Partitions);
            }
        }

        var logs = broker.Logs.AllLogs;
        var response = new DescribeLogDirsResponse();
        foreach (var dir in broker.Logs.LogDirs)
        {
            var fullDir = Path.GetFullPath(dir);
            var result = new DescribeLogDirsResponse.DescribeLogDirsResult { LogDir = fullDir };
            response.Results.Add(result);
            try
            {
                var byTopic = new SortedDictionary<string, DescribeLogDirsResponse.DescribeLogDirsTopic>(StringComparer.Ordinal);
                foreach (var log in logs)
                {
                    var tp = log.TopicPartition;
                    if (!string.Equals(Path.GetFullPath(Path.GetDirectoryName(log.Directory)!), fullDir.TrimEnd(Path.DirectorySeparatorChar), StringComparison.Ordinal)
                        || (wanted is not null && !(wanted.TryGetValue(tp.Topic, out var partitions) && partitions.Contains(tp.Partition))))
                    {
                        continue;
                    }

                    if (!byTopic.TryGetValue(tp.Topic, out var topic))
                    {
                        byTopic[tp.Topic] = topic = new DescribeLogDirsResponse.DescribeLogDirsTopic { Name = tp.Topic };
                    }

                    topic.Partitions.Add(new DescribeLogDirsResponse.DescribeLogDirsPartition
                    {
                        PartitionIndex = tp.Partition,
                        PartitionSize = log.Size,
                        OffsetLag = Math.Max(log.HighWatermark - log.LogEndOffset, 0),
                        IsFutureKey = false,
                    });
                }

                foreach (var topic in byTopic.Values)
                {
                    topic.Partitions.Sort(static (a, b) => a.PartitionIndex.CompareTo(b.PartitionIndex));
                    result.Topics.Add(topic);
                }

                if (version >= 4)
                {
                    var drive = new DriveInfo(fullDir);
                    result.TotalBytes = drive.TotalSize;
                    result.UsableBytes = drive.AvailableFreeSpace;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or KafkaStorageException)
            {
                result.ErrorCode = (short)ErrorCode.KafkaStorageError;
                result.Topics.Clear();
            }
        }

        return ValueTask.FromResult<DescribeLogDirsResponse?>(response);
    }
}
