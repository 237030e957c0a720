using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// Produce (key 0), v0–13. v0–13 are advertised as Kafka 4 does (KAFKA-18659: librdkafka before 2.x
/// only enables compression when Produce v0 is listed), but v0–2 carry message formats v0/v1, which
/// Kafka 4 dropped: every partition of such a request gets UNSUPPORTED_VERSION and nothing is appended.
/// v3+ append record batches (magic 2) as they arrived, straight from the network buffer (the log does
/// the one copy). Checks, as Kafka's validateRecords and LogValidator: exactly one batch per partition
/// (INVALID_RECORD), magic 2 (INVALID_RECORD), no zstd below v7 (UNSUPPORTED_COMPRESSION_TYPE),
/// keyed records on compacted topics (INVALID_RECORD with per-record errors, v8+), max.message.bytes
/// (MESSAGE_TOO_LARGE), CRC and framing (CORRUPT_MESSAGE). acks must be -1, 0 or 1
/// (INVALID_REQUIRED_ACKS); acks=0 sends no response, and closes the connection when a partition failed (Kafka's signal). Topics by name up to v12, by id from v13
/// (UNKNOWN_TOPIC_ID). error_message is v8+. ONE-REPLICA: with one replica acks=1 and acks=-1 are both satisfied
/// once the batch is in the log. Idempotent and transactional batches (producer id ≥ 0) are checked by the
/// partition's producer state before anything is written: an older epoch → INVALID_PRODUCER_EPOCH, a gap
/// in sequences → OUT_OF_ORDER_SEQUENCE_NUMBER, a plain batch inside the producer's open transaction →
/// INVALID_TXN_STATE (with Kafka's messages, v8+). A retry of one of the producer's last 5 batches is not
/// written again: the answer is the original base offset and no error, as Kafka's.
/// When flush.messages asks for a flush, a partition is answered only after a flush that covers its records
/// (group commit: the partitions of a request, and concurrent requests, share fsyncs); a failed flush is
/// KAFKA_STORAGE_ERROR. The request's other partitions are appended before waiting.
/// current_leader / node_endpoints (v10+) only accompany NOT_LEADER_OR_FOLLOWER, which a single
/// broker leading every partition never returns.
/// </summary>
public sealed class ProduceHandler(BrokerContext broker) : ApiHandler<ProduceRequest, ProduceResponse>
{
    // Bound on a compressed batch's records when they must be inspected (keys on compacted topics):
    // more than this is refused as a decompression bomb rather than allowed to exhaust memory.
    private const int MaxDecompressedBytes = 64 * 1024 * 1024;

    public override ApiKey Key => ApiKey.Produce;

    public override short MinVersion => 0;

    public override short MaxVersion => 13;

    protected override ValueTask<ProduceResponse?> HandleAsync(RequestContext context, ProduceRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        List<PendingAppend>? pending = null;
        var responses = context.Reusable<ResponseObjects>();
        var response = responses.Begin();
        var validAcks = request.Acks is -1 or 0 or 1;
        var image = broker.Replicas.Image;
        foreach (var topic in request.TopicData)
        {
            var topicResponse = responses.Topic();
            topicResponse.Name = topic.Name;
            topicResponse.TopicId = topic.TopicId;
            response.Responses.Add(topicResponse);
            var topicImage = version >= 13 ? image.GetTopic(topic.TopicId) : image.GetTopic(topic.Name);
            var unknownTopic = version >= 13 ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition;
            var compacted = topicImage is not null && IsCompacted(topicImage.Name, topic.PartitionData);
            foreach (var partition in topic.PartitionData)
            {
                var result = responses.Partition();
                result.Index = partition.Index;
                result.BaseOffset = -1;
                topicResponse.PartitionResponses.Add(result);
                if (version < 3)
                {
                    result.ErrorCode = (short)ErrorCode.UnsupportedVersion;
                }
                else if (topicImage is null)
                {
                    result.ErrorCode = (short)unknownTopic;
                }
                else if (!validAcks)
                {
                    result.ErrorCode = (short)ErrorCode.InvalidRequiredAcks;
                }
                else
                {
                    AppendPartition(topicImage.Name, partition, version, compacted, result, request.TransactionalId, ref pending);
                }
            }
        }

        if (pending is not null)
        {
            return CompleteAfterFlushesAsync(context, request.Acks, response, pending);
        }

        return ValueTask.FromResult(Answer(context, request.Acks, response));
    }

    /// <summary>A partition whose append waits for a flush before it is answered.</summary>
    private readonly record struct PendingAppend(Partition? Hosted, short Version, ProduceResponse.PartitionProduceResponse Result, ValueTask<PartitionAppendResult> Append);

    private async ValueTask<ProduceResponse?> CompleteAfterFlushesAsync(RequestContext context, short acks, ProduceResponse response, List<PendingAppend> pending)
    {
        foreach (var p in pending)
        {
            Fill(p.Hosted, p.Version, p.Result, await p.Append.ConfigureAwait(false));
        }

        return Answer(context, acks, response);
    }

    private static ProduceResponse? Answer(RequestContext context, short acks, ProduceResponse response)
    {
        if (acks == 0)
        {
            // No response is sent, so a failure can only be signalled as Kafka does: by closing the connection.
            if (AnyPartitionFailed(response))
            {
                context.CloseConnection = true;
            }

            return null;
        }

        return response;
    }

    /// <summary>Whether the topic is compacted, from a hosted log's config when there is one: building the topic's config anew costs allocations on every request.</summary>
    private bool IsCompacted(string topic, List<ProduceRequest.PartitionProduceData> partitions)
    {
        // ReplicaManager keeps every hosted log's config equal to the topic's.
        LogConfig? config = null;
        foreach (var partition in partitions)
        {
            if (broker.Replicas.GetLog(topic, partition.Index) is { } log)
            {
                config = log.Config;
                break;
            }
        }

        config ??= broker.Replicas.ConfigFor(topic);
        return (config.CleanupPolicy & CleanupPolicy.Compact) != 0;
    }

    private void AppendPartition(string topic, ProduceRequest.PartitionProduceData partition, short version, bool compacted, ProduceResponse.PartitionProduceResponse result, string? transactionalId, ref List<PendingAppend>? pending)
    {
        var records = partition.Records ?? ReadOnlySequence<byte>.Empty;
        // Resolved once: the append, its leader epoch and the log start offsets answered all come from this partition.
        var hosted = broker.Replicas.GetPartition(topic, partition.Index);
        var check = ValidateRecords(records, version);
        if (check != ErrorCode.None)
        {
            // Kafka answers these without an error message (PartitionResponse(Errors)).
            result.ErrorCode = (short)check;
            return;
        }

        if (compacted && !CheckKeys(topic, partition.Index, records, version, result))
        {
            // As for Kafka's RecordValidationException: the response carries the log start offset.
            if (version >= 5 && hosted is not null)
            {
                result.LogStartOffset = hosted.Log.LogStartOffset;
            }

            return;
        }

        // KIP-890: a transactional batch must belong to the producer's ongoing transaction (v12+ adds it).
        if (transactionalId is not null && RecordBatchHeader.TryRead(records, out var batchHeader) && batchHeader.IsTransactional && batchHeader.ProducerId >= 0)
        {
            var txnError = broker.TransactionCoordinator.VerifyProducePartition(transactionalId, batchHeader.ProducerId, batchHeader.ProducerEpoch, new TopicPartition(topic, partition.Index), version);
            if (txnError != ErrorCode.None)
            {
                result.ErrorCode = (short)txnError;
                SetMessage(result, version, txnError == ErrorCode.InvalidTxnState ? "Partition was not added to the transaction" : null);
                return;
            }
        }

        var append = broker.Replicas.AppendAsync(hosted, topic, partition.Index, records);
        if (!append.IsCompleted)
        {
            (pending ??= []).Add(new PendingAppend(hosted, version, result, append));
            return;
        }

        Fill(hosted, version, result, append.Result);
    }

    private static void Fill(Partition? hosted, short version, ProduceResponse.PartitionProduceResponse result, PartitionAppendResult append)
    {
        result.ErrorCode = (short)append.Error;
        if (append.Error != ErrorCode.None)
        {
            SetMessage(result, version, append.ErrorMessage);
            if (hosted is not null && append.Error == ErrorCode.InvalidRecord)
            {
                result.LogStartOffset = version >= 5 ? hosted.Log.LogStartOffset : -1;
            }

            return;
        }

        result.BaseOffset = append.Result.FirstOffset;
        result.LogAppendTimeMs = version >= 2 ? append.Result.LogAppendTime : -1;
        result.LogStartOffset = version >= 5 ? append.Result.LogStartOffset : -1;
    }

    private static bool AnyPartitionFailed(ProduceResponse response)
    {
        foreach (var topic in response.Responses)
        {
            foreach (var partition in topic.PartitionResponses)
            {
                if (partition.ErrorCode != 0)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Kafka's ProduceRequest.validateRecords for v3+: one batch, magic 2, zstd only from v7.</summary>
    private static ErrorCode ValidateRecords(in ReadOnlySequence<byte> records, short version)
    {
        if (!RecordBatchHeader.TryRead(records, out var header))
        {
            // No batch at all (or fewer bytes than a header): at least one batch per partition is required.
            return records.IsEmpty ? ErrorCode.InvalidRecord : ErrorCode.CorruptMessage;
        }

        if (header.Magic != RecordBatchHeader.CurrentMagic)
        {
            return ErrorCode.InvalidRecord;
        }

        if (version < 7 && header.CompressionType == CompressionType.Zstd)
        {
            return ErrorCode.UnsupportedCompressionType;
        }

        var enumerator = RecordBatches.Enumerate(records);
        var batches = 0;
        while (enumerator.MoveNext())
        {
            if (++batches > 1)
            {
                return ErrorCode.InvalidRecord;
            }
        }

        return ErrorCode.None;
    }

    /// <summary>
    /// LogValidator's rule for compacted topics: every record needs a key. Returns false (and fills the
    /// response: INVALID_RECORD with one record error per keyless record) when some record has none.
    /// Corrupt batches are left to the log's validation.
    /// </summary>
    private static bool CheckKeys(string topic, int partition, in ReadOnlySequence<byte> records, short version, ProduceResponse.PartitionProduceResponse result)
    {
        if (RecordBatches.TryValidateAll(records, RecordBatchValidation.Produce, out _, out _) != RecordBatchError.None)
        {
            return true;
        }

        byte[]? copy = null;
        try
        {
            ReadOnlySpan<byte> batch;
            if (records.IsSingleSegment)
            {
                batch = records.FirstSpan;
            }
            else
            {
                copy = ArrayPool<byte>.Shared.Rent((int)records.Length);
                records.CopyTo(copy);
                batch = copy.AsSpan(0, (int)records.Length);
            }

            using var scratch = new PooledBufferWriter();
            List<ProduceResponse.BatchIndexAndErrorMessage>? errors = null;
            var index = 0;
            var reader = RecordBatch.ReadRecords(batch, scratch, MaxDecompressedBytes);
            while (reader.MoveNext())
            {
                if (reader.Current.IsKeyNull)
                {
                    (errors ??= []).Add(new ProduceResponse.BatchIndexAndErrorMessage
                    {
                        BatchIndex = index,
                        BatchIndexErrorMessage = $"Compacted topic cannot accept message without key in topic partition {topic}-{partition}.",
                    });
                }

                index++;
            }

            if (errors is null)
            {
                return true;
            }

            result.ErrorCode = (short)ErrorCode.InvalidRecord;
            if (version >= 8)
            {
                result.RecordErrors = errors;
                var shown = string.Join(", ", errors.Take(3).Select(e => $"RecordError(batchIndex={e.BatchIndex}, message='{e.BatchIndexErrorMessage}')"));
                result.ErrorMessage = $"One or more records have been rejected due to {errors.Count} record errors in total, and only showing the first three errors at most: [{shown}]";
            }

            return false;
        }
        catch (RecordsException e)
        {
            result.ErrorCode = e.ErrorCode;
            SetMessage(result, version, e.Message);
            return false;
        }
        finally
        {
            if (copy is not null)
            {
                ArrayPool<byte>.Shared.Return(copy);
            }
        }
    }

    /// <summary>
    /// A connection's Produce response, refilled request after request with its topic and partition
    /// entries reused: a warm producer's requests allocate no response objects. The dispatcher writes the
    /// response before the connection's next request, and nothing keeps it after that.
    /// </summary>
    private sealed class ResponseObjects
    {
        private readonly ProduceResponse _response = new();
        private readonly Stack<ProduceResponse.TopicProduceResponse> _topics = new();
        private readonly Stack<ProduceResponse.PartitionProduceResponse> _partitions = new();

        /// <summary>The response, emptied (its previous entries reset and kept for <see cref="Topic"/> and <see cref="Partition"/>).</summary>
        public ProduceResponse Begin()
        {
            foreach (var topic in _response.Responses)
            {
                foreach (var partition in topic.PartitionResponses)
                {
                    partition.Reset();
                    _partitions.Push(partition);
                }

                topic.Reset();
                _topics.Push(topic);
            }

            _response.Reset();
            return _response;
        }

        /// <summary>A topic entry with every field at its initial value.</summary>
        public ProduceResponse.TopicProduceResponse Topic() => _topics.TryPop(out var topic) ? topic : new();

        /// <summary>A partition entry with every field at its initial value.</summary>
        public ProduceResponse.PartitionProduceResponse Partition() => _partitions.TryPop(out var partition) ? partition : new();
    }

    private static void SetMessage(ProduceResponse.PartitionProduceResponse result, short version, string? message)
    {
        if (version >= 8)
        {
            result.ErrorMessage = message;
        }
    }
}
