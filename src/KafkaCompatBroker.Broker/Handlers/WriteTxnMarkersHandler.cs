using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// WriteTxnMarkers (key 27), v1–2: what a transaction coordinator sends to the leaders of a transaction's
/// partitions. Each marker (COMMIT when transaction_result is true, ABORT otherwise) is written to each
/// listed partition through <see cref="TransactionMarkerWriter"/>, which appends a control batch with
/// the coordinator's origin; the partition's producer state ends the transaction (and records an ABORT
/// in the .txnindex). Per partition errors as Kafka's: UNKNOWN_TOPIC_OR_PARTITION for partitions not in
/// the metadata, and the append's own (INVALID_PRODUCER_EPOCH for an older producer epoch,
/// TRANSACTION_COORDINATOR_FENCED for an older coordinator epoch, NOT_LEADER_OR_FOLLOWER, KAFKA_STORAGE_ERROR).
/// v2's transaction_version is accepted; markers are checked with the legacy rule (epoch ≥ the producer's).
/// </summary>
public sealed class WriteTxnMarkersHandler(BrokerContext broker) : ApiHandler<WriteTxnMarkersRequest, WriteTxnMarkersResponse>
{
    public override ApiKey Key => ApiKey.WriteTxnMarkers;

    public override short MinVersion => 1;

    public override short MaxVersion => 2;

    protected override ValueTask<WriteTxnMarkersResponse?> HandleAsync(RequestContext context, WriteTxnMarkersRequest request, CancellationToken cancellationToken)
    {
        var response = new WriteTxnMarkersResponse();
        foreach (var marker in request.Markers)
        {
            var markerResult = new WriteTxnMarkersResponse.WritableTxnMarkerResult { ProducerId = marker.ProducerId };
            response.Markers.Add(markerResult);
            foreach (var topic in marker.Topics)
            {
                var topicResult = new WriteTxnMarkersResponse.WritableTxnMarkerTopicResult { Name = topic.Name };
                markerResult.Topics.Add(topicResult);
                var topicImage = broker.Replicas.Image.GetTopic(topic.Name);
                foreach (var index in topic.PartitionIndexes)
                {
                    var error = topicImage is null || !topicImage.Partitions.ContainsKey(index)
                        ? ErrorCode.UnknownTopicOrPartition
                        : Write(topic.Name, index, marker);
                    topicResult.Partitions.Add(new WriteTxnMarkersResponse.WritableTxnMarkerPartitionResult { PartitionIndex = index, ErrorCode = (short)error });
                }
            }
        }

        return ValueTask.FromResult<WriteTxnMarkersResponse?>(response);
    }

    private ErrorCode Write(string topic, int partition, WriteTxnMarkersRequest.WritableTxnMarker marker)
    {
        if (broker.Replicas.GetLog(topic, partition) is null)
        {
            return ErrorCode.NotLeaderOrFollower;
        }

        return broker.MarkerWriter.Write(topic, partition, marker.ProducerId, marker.ProducerEpoch, marker.CoordinatorEpoch, marker.TransactionResult).Error;
    }
}
