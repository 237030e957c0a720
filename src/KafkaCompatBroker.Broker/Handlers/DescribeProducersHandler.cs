using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DescribeProducers (key 61), v0: the active producers of each partition from its producer state
/// (producer id, epoch, last sequence, last timestamp, coordinator epoch, open transaction's first
/// offset or -1), as Kafka's UnifiedLog.activeProducers. A partition not in the cluster metadata gets
/// UNKNOWN_TOPIC_OR_PARTITION with Kafka's default message; one this broker does not lead NOT_LEADER_OR_FOLLOWER.
/// </summary>
public sealed class DescribeProducersHandler(BrokerContext broker) : ApiHandler<DescribeProducersRequest, DescribeProducersResponse>
{
    public override ApiKey Key => ApiKey.DescribeProducers;

    public override short MinVersion => 0;

    public override short MaxVersion => 0;

    protected override ValueTask<DescribeProducersResponse?> HandleAsync(RequestContext context, DescribeProducersRequest request, CancellationToken cancellationToken)
    {
        var response = new DescribeProducersResponse();
        var image = broker.Replicas.Image;
        foreach (var topic in request.Topics)
        {
            var topicResponse = new DescribeProducersResponse.TopicResponse { Name = topic.Name };
            response.Topics.Add(topicResponse);
            var topicImage = image.GetTopic(topic.Name);
            foreach (var index in topic.PartitionIndexes)
            {
                var partition = new DescribeProducersResponse.PartitionResponse { PartitionIndex = index };
                topicResponse.Partitions.Add(partition);
                if (topicImage is null || !topicImage.Partitions.ContainsKey(index))
                {
                    partition.ErrorCode = (short)ErrorCode.UnknownTopicOrPartition;
                    partition.ErrorMessage = "This server does not host this topic-partition.";
                    continue;
                }

                if (broker.Replicas.GetLog(topic.Name, index) is not { } log)
                {
                    partition.ErrorCode = (short)ErrorCode.NotLeaderOrFollower;
                    continue;
                }

                foreach (var producer in log.ActiveProducers())
                {
                    partition.ActiveProducers.Add(new DescribeProducersResponse.ProducerState
                    {
                        ProducerId = producer.ProducerId,
                        ProducerEpoch = producer.ProducerEpoch,
                        LastSequence = producer.LastSequence,
                        LastTimestamp = producer.LastTimestamp,
                        CoordinatorEpoch = producer.CoordinatorEpoch,
                        CurrentTxnStartOffset = producer.CurrentTxnFirstOffset,
                    });
                }
            }
        }

        return ValueTask.FromResult<DescribeProducersResponse?>(response);
    }
}
