using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DeleteRecords (key 21), v0–2: moves each partition's log start offset up to the requested offset
/// (-1 means the high watermark) and answers the new low watermark. As Kafka's
/// Partition.deleteRecordsOnLeader: an offset beyond the high watermark, or negative, is
/// OFFSET_OUT_OF_RANGE; a topic whose cleanup.policy lacks "delete" is POLICY_VIOLATION; unknown
/// partitions are UNKNOWN_TOPIC_OR_PARTITION; failed partitions report low watermark -1. With one
/// replica the low watermark is the leader's log start offset, so nothing waits for timeout_ms.
/// </summary>
public sealed class DeleteRecordsHandler(BrokerContext broker) : ApiHandler<DeleteRecordsRequest, DeleteRecordsResponse>
{
    private const long HighWatermark = -1;

    public override ApiKey Key => ApiKey.DeleteRecords;

    public override short MinVersion => 0;

    public override short MaxVersion => 2;

    protected override ValueTask<DeleteRecordsResponse?> HandleAsync(RequestContext context, DeleteRecordsRequest request, CancellationToken cancellationToken)
    {
        var response = new DeleteRecordsResponse();
        foreach (var topic in request.Topics)
        {
            var topicResult = new DeleteRecordsResponse.DeleteRecordsTopicResult { Name = topic.Name };
            response.Topics.Add(topicResult);
            foreach (var p in topic.Partitions)
            {
                var result = new DeleteRecordsResponse.DeleteRecordsPartitionResult { PartitionIndex = p.PartitionIndex, LowWatermark = -1 };
                topicResult.Partitions.Add(result);
                result.ErrorCode = (short)Delete(topic.Name, p, result);
            }
        }

        return ValueTask.FromResult<DeleteRecordsResponse?>(response);
    }

    private ErrorCode Delete(string topic, DeleteRecordsRequest.DeleteRecordsPartition partition, DeleteRecordsResponse.DeleteRecordsPartitionResult result)
    {
        if (broker.Replicas.GetLog(topic, partition.PartitionIndex) is not { } log)
        {
            return ErrorCode.UnknownTopicOrPartition;
        }

        if ((log.Config.CleanupPolicy & CleanupPolicy.Delete) == 0)
        {
            return ErrorCode.PolicyViolation;
        }

        var offset = partition.Offset == HighWatermark ? log.HighWatermark : partition.Offset;
        if (offset < 0 || offset > log.HighWatermark)
        {
            return ErrorCode.OffsetOutOfRange;
        }

        try
        {
            result.LowWatermark = log.DeleteRecordsBefore(offset);
            return ErrorCode.None;
        }
        catch (OffsetOutOfRangeException)
        {
            return ErrorCode.OffsetOutOfRange;
        }
        catch (KafkaStorageException)
        {
            return ErrorCode.KafkaStorageError;
        }
    }
}
