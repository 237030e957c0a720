using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.FixtureRecorder;

internal enum ResponseOutcome
{
    /// <summary>A response was written.</summary>
    Send,

    /// <summary>Nothing to send (Produce with acks=0).</summary>
    None,

    /// <summary>The request cannot be answered: close the connection.</summary>
    Close,
}

/// <summary>
/// Minimal answers, encoded with the generated codecs, that let a producer get as far as its
/// Produce requests: ApiVersions, Metadata (one broker, every topic asked for exists with one
/// partition), Produce (success, increasing offsets) and InitProducerId (producer id 1000, epoch 0).
/// </summary>
internal sealed class Responder(string host, int port)
{
    private const int NodeId = 1;
    private const short UnsupportedVersion = 35;

    /// <summary>
    /// Versions advertised in ApiVersions (clipped to what the codecs support). Only Produce, Metadata,
    /// ApiVersions and InitProducerId are answered; the others are advertised because producers enable
    /// features by them: librdkafka uses record batch v2 only with Fetch v4+, zstd only with Fetch v10+,
    /// lz4 only when FindCoordinator exists; kafka-python infers the broker version from these ranges.
    /// Produce starts at 0 (Kafka 4 starts at 3) because librdkafka before 2.x (kcat's 2.0.2) compresses
    /// with gzip, snappy or lz4 only if the broker lists Produce v0; against Kafka 4 it sends them uncompressed.
    /// </summary>
    private static readonly (ApiKey Key, short Min, short Max)[] Advertised =
    [
        (ApiKey.Produce, 0, 12),
        (ApiKey.Fetch, 4, 12),
        (ApiKey.Metadata, 0, 12),
        (ApiKey.FindCoordinator, 0, 6),
        (ApiKey.ApiVersions, 0, 4),
        (ApiKey.InitProducerId, 0, 5),
    ];

    private static readonly ApiKey[] Answered = [ApiKey.Produce, ApiKey.Metadata, ApiKey.ApiVersions, ApiKey.InitProducerId];

    private readonly object _lock = new();
    private readonly SortedSet<string> _topics = new(StringComparer.Ordinal) { "fixtures" };
    private readonly Dictionary<(string Topic, int Partition), long> _nextOffsets = [];

    public ResponseOutcome Respond(byte[] frame, ApiKey apiKey, short apiVersion, IBufferWriter<byte> output)
    {
        var correlationId = BinaryPrimitives.ReadInt32BigEndian(frame.AsSpan(4));
        if (apiKey == ApiKey.ApiVersions && !IsSupported(apiKey, apiVersion))
        {
            // The client may downgrade: error 35 and our version list, in a v0 body behind a v0 header.
            Write(output, new ResponseHeader { CorrelationId = correlationId }, 0, BuildApiVersions(UnsupportedVersion), 0);
            return ResponseOutcome.Send;
        }

        if (!IsSupported(apiKey, apiVersion))
        {
            return ResponseOutcome.Close;
        }

        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
        var header = new RequestHeader();
        header.Read(ref reader, KafkaApis.RequestHeaderVersion(apiKey, apiVersion));
        var request = KafkaApis.CreateRequest(apiKey);
        request.Read(ref reader, apiVersion);

        IKafkaMessage? response = request switch
        {
            ApiVersionsRequest => BuildApiVersions(0),
            MetadataRequest metadata => BuildMetadata(metadata, apiVersion),
            ProduceRequest produce => BuildProduce(produce),
            InitProducerIdRequest => new InitProducerIdResponse { ProducerId = 1000, ProducerEpoch = 0 },
            _ => null,
        };
        if (response is null)
        {
            return request is ProduceRequest ? ResponseOutcome.None : ResponseOutcome.Close;
        }

        var responseHeader = new ResponseHeader { CorrelationId = header.CorrelationId };
        Write(output, responseHeader, KafkaApis.ResponseHeaderVersion(apiKey, apiVersion), response, apiVersion);
        return ResponseOutcome.Send;
    }

    private static bool IsSupported(ApiKey apiKey, short apiVersion)
    {
        foreach (var (key, min, max) in EffectiveRanges())
        {
            if (key == apiKey && Array.IndexOf(Answered, apiKey) >= 0)
            {
                return apiVersion >= min && apiVersion <= max;
            }
        }

        return false;
    }

    /// <summary>The advertised ranges clipped to the versions the request and response codecs handle.</summary>
    private static IEnumerable<(ApiKey Key, short Min, short Max)> EffectiveRanges()
    {
        foreach (var (key, min, max) in Advertised)
        {
            var request = KafkaApis.CreateRequest(key);
            var response = KafkaApis.CreateResponse(key);
            var lo = Math.Max(min, Math.Max(request.LowestSupportedVersion, response.LowestSupportedVersion));
            var hi = Math.Min(max, Math.Min(request.HighestSupportedVersion, response.HighestSupportedVersion));
            if (lo <= hi)
            {
                yield return (key, (short)lo, (short)hi);
            }
        }
    }

    private static ApiVersionsResponse BuildApiVersions(short errorCode)
    {
        var response = new ApiVersionsResponse { ErrorCode = errorCode };
        foreach (var (key, min, max) in EffectiveRanges())
        {
            response.ApiKeys.Add(new ApiVersionsResponse.ApiVersion { ApiKey = (short)key, MinVersion = min, MaxVersion = max });
        }

        return response;
    }

    private MetadataResponse BuildMetadata(MetadataRequest request, short version)
    {
        var response = new MetadataResponse
        {
            ClusterId = "fixture-recorder",
            ControllerId = NodeId,
        };
        response.Brokers.Add(new MetadataResponse.MetadataResponseBroker { NodeId = NodeId, Host = host, Port = port });

        List<string> names;
        lock (_lock)
        {
            // Topics are "created" on first mention; a null list (in v0: an empty one) asks for all of them.
            if (request.Topics is { } requested && (version > 0 || requested.Count > 0))
            {
                names = [];
                foreach (var topic in requested)
                {
                    if (topic.Name is { } name)
                    {
                        _topics.Add(name);
                        names.Add(name);
                    }
                }
            }
            else
            {
                names = [.. _topics];
            }
        }

        foreach (var name in names)
        {
            var topic = new MetadataResponse.MetadataResponseTopic { Name = name, TopicId = TopicId(name) };
            topic.Partitions.Add(new MetadataResponse.MetadataResponsePartition
            {
                PartitionIndex = 0,
                LeaderId = NodeId,
                LeaderEpoch = 0,
                ReplicaNodes = [NodeId],
                IsrNodes = [NodeId],
            });
            response.Topics.Add(topic);
        }

        return response;
    }

    private ProduceResponse? BuildProduce(ProduceRequest request)
    {
        var response = new ProduceResponse();
        foreach (var topic in request.TopicData)
        {
            var topicResponse = new ProduceResponse.TopicProduceResponse { Name = topic.Name, TopicId = topic.TopicId };
            foreach (var partition in topic.PartitionData)
            {
                var count = partition.Records is { } records ? CountRecords(records) : 0;
                long baseOffset;
                lock (_lock)
                {
                    var key = (topic.Name, partition.Index);
                    baseOffset = _nextOffsets.GetValueOrDefault(key);
                    _nextOffsets[key] = baseOffset + count;
                }

                topicResponse.PartitionResponses.Add(new ProduceResponse.PartitionProduceResponse
                {
                    Index = partition.Index,
                    BaseOffset = baseOffset,
                    LogStartOffset = 0,
                });
            }

            response.Responses.Add(topicResponse);
        }

        return request.Acks == 0 ? null : response;
    }

    /// <summary>Records in a v2 record set: the sum of each batch's lastOffsetDelta + 1 (header bytes 23-26).</summary>
    private static long CountRecords(ReadOnlySequence<byte> records)
    {
        long count = 0;
        Span<byte> header = stackalloc byte[27];
        while (records.Length >= header.Length)
        {
            records.Slice(0, header.Length).CopyTo(header);
            var batchLength = BinaryPrimitives.ReadInt32BigEndian(header[8..]);
            count += BinaryPrimitives.ReadInt32BigEndian(header[23..]) + 1L;
            if (batchLength <= 0 || records.Length < 12L + batchLength)
            {
                break;
            }

            records = records.Slice(12L + batchLength);
        }

        return count;
    }

    /// <summary>A stable topic id derived from the name, so fixtures do not depend on randomness.</summary>
    private static KafkaUuid TopicId(string name)
    {
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name));
        return KafkaUuid.FromBytes(hash.AsSpan(0, 16));
    }

    private static void Write(IBufferWriter<byte> output, ResponseHeader header, short headerVersion, IKafkaMessage body, short version)
    {
        header.Write(output, headerVersion);
        body.Write(output, version);
    }
}
