using System.Buffers;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// Fetch (key 1), v4–18, for consumers. Topics by name up to v12 (UNKNOWN_TOPIC_OR_PARTITION), by id
/// from v13 (UNKNOWN_TOPIC_ID). Reads whole batches from the fetch offset (a fetch starting inside a
/// batch gets the whole batch) up to the high watermark (read_uncommitted) or the last stable offset
/// (read_committed, with the aborted transactions overlapping the returned data from the segments'
/// .txnindex; aborted_transactions is null for read_uncommitted as Kafka sends), within each partition's max bytes and the
/// response's max_bytes; as Kafka does, the first partition with data returns its first batch whole even
/// when it exceeds the limits. Out-of-range fetch offsets get OFFSET_OUT_OF_RANGE; current_leader_epoch
/// (v9+) is checked (FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH). max_wait_ms + min_bytes long-poll on
/// the append notifier without holding a thread. Fetch sessions (KIP-227, v7+) follow Kafka's
/// FetchManager: epoch 0 opens a session (full response, new id when the cache has a slot), epoch -1
/// is sessionless and closes the given session, other epochs are incremental (partition updates,
/// forgotten topics, only partitions with changes in the response; FETCH_SESSION_ID_NOT_FOUND,
/// INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR). Fetches from followers (replica id ≥ 0,
/// or replica_state from v15) get NOT_LEADER_OR_FOLLOWER per partition: there is no replication yet.
/// rack_id is ignored, preferred_read_replica is -1 (v11+). Records stay segment file regions until the
/// response is written: sent with sendfile on plain TCP listeners (<see cref="FetchResponseBuffers"/>).
/// </summary>
public sealed class FetchHandler(BrokerContext broker) : ApiHandler<FetchRequest, FetchResponseBuffers>
{
    private const sbyte ReadCommitted = 1;

    private readonly FetchSessionCache _sessions = new(
        int.TryParse(broker.Settings.Config.GetString("max.incremental.fetch.session.cache.slots"), out var slots) ? slots : FetchSessionCache.DefaultMaxSlots,
        long.TryParse(broker.Settings.Config.GetString("min.incremental.fetch.session.eviction.ms"), out var eviction) ? eviction : FetchSessionCache.DefaultEvictionMs,
        broker.Time);

    public override ApiKey Key => ApiKey.Fetch;

    public override short MinVersion => 4;

    public override short MaxVersion => 18;

    /// <summary>The broker's fetch sessions (exposed for tests).</summary>
    public FetchSessionCache Sessions => _sessions;

    protected override async ValueTask<FetchResponseBuffers?> HandleAsync(RequestContext context, FetchRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var useIds = version >= 13;
        var replicaId = version >= 15 ? request.ReplicaState.ReplicaId : request.ReplicaId;

        // Which partitions to read, and the session (if any) the response belongs to.
        var reads = new List<PartitionRead>(PartitionCount(request));
        FetchSession? session = null;
        var createSession = false;
        if (version >= 7 && request.SessionEpoch != 0 && request.SessionEpoch != -1)
        {
            var found = _sessions.Get(request.SessionId);
            var error = found is null ? ErrorCode.FetchSessionIdNotFound : ErrorCode.None;
            if (found is not null)
            {
                lock (found)
                {
                    if (found.Epoch != request.SessionEpoch)
                    {
                        error = ErrorCode.InvalidFetchSessionEpoch;
                    }
                    else if (found.UsesTopicIds != useIds)
                    {
                        error = ErrorCode.FetchSessionTopicIdError;
                    }
                    else
                    {
                        UpdateSession(found, request, useIds);
                        if (found.Size == 0)
                        {
                            // Every partition was forgotten: the session ends and the answer is sessionless.
                            _sessions.Remove(found.Id);
                        }
                        else
                        {
                            session = found;
                            _sessions.Touch(found);
                            found.Epoch = FetchSession.NextEpoch(found.Epoch);
                            reads.EnsureCapacity(found.Size);
                            foreach (var p in found.Partitions)
                            {
                                reads.Add(new PartitionRead(p.Key, p.FetchOffset, p.MaxBytes, p.CurrentLeaderEpoch, p));
                            }
                        }
                    }
                }
            }

            if (error != ErrorCode.None)
            {
                return new FetchResponseBuffers(new FetchResponse { ErrorCode = (short)error, SessionId = 0 });
            }
        }
        else
        {
            if (version >= 7 && request.SessionId != 0)
            {
                // A full fetch closes the session it names.
                _sessions.Remove(request.SessionId);
            }

            createSession = version >= 7 && request.SessionEpoch == 0;
            foreach (var topic in request.Topics)
            {
                foreach (var p in topic.Partitions)
                {
                    reads.Add(new PartitionRead(KeyOf(topic.TopicId, topic.Topic, p.Partition, useIds), p.FetchOffset, p.PartitionMaxBytes, version >= 9 ? p.CurrentLeaderEpoch : -1, null));
                }
            }
        }

        var isolation = request.IsolationLevel;
        var results = new PartitionResult[reads.Count];
        var started = broker.Time.GetTimestamp();
        while (true)
        {
            // Take the wake-up task before reading, so an append between the read and the wait is not missed.
            var nextAppend = broker.Replicas.Notifier.NextAppend;
            var (bytes, anyError) = ReadAll(reads, results, request.MaxBytes, replicaId, request.IsolationLevel == ReadCommitted);
            var waited = broker.Time.GetElapsedTime(started);
            var remaining = TimeSpan.FromMilliseconds(request.MaxWaitMs) - waited;
            if (request.MaxWaitMs <= 0 || reads.Count == 0 || bytes >= request.MinBytes || anyError || remaining <= TimeSpan.Zero)
            {
                break;
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var delay = Task.Delay(remaining, broker.Time, timeout.Token);
            await Task.WhenAny(nextAppend, delay);
            await timeout.CancelAsync();
            cancellationToken.ThrowIfCancellationRequested();
        }

        return BuildResponse(reads, results, version, isolation, session, createSession, useIds);
    }

    /// <summary>The request's partitions: the read list's capacity, so it is allocated once at its size.</summary>
    private static int PartitionCount(FetchRequest request)
    {
        var count = 0;
        foreach (var topic in request.Topics)
        {
            count += topic.Partitions.Count;
        }

        return count;
    }

    private static FetchPartitionKey KeyOf(KafkaUuid topicId, string topic, int partition, bool useIds) =>
        useIds ? new FetchPartitionKey(topicId, "", partition) : new FetchPartitionKey(KafkaUuid.Zero, topic, partition);

    /// <summary>Kafka's FetchSession.update: add or update the request's partitions, drop the forgotten ones.</summary>
    private static void UpdateSession(FetchSession session, FetchRequest request, bool useIds)
    {
        foreach (var topic in request.Topics)
        {
            foreach (var p in topic.Partitions)
            {
                session.AddOrUpdate(KeyOf(topic.TopicId, topic.Topic, p.Partition, useIds), p.FetchOffset, p.PartitionMaxBytes, p.CurrentLeaderEpoch);
            }
        }

        foreach (var forgotten in request.ForgottenTopicsData)
        {
            foreach (var partition in forgotten.Partitions)
            {
                session.Remove(KeyOf(forgotten.TopicId, forgotten.Topic, partition, useIds));
            }
        }
    }

    /// <summary>
    /// Reads every partition (file regions only, no copies): Kafka's readFromLog limits, where the
    /// response max bytes shrink as partitions return data and only the first partition with data may
    /// exceed them by returning its first batch whole. Returns the bytes readable and whether any partition failed.
    /// </summary>
    private (long Bytes, bool AnyError) ReadAll(List<PartitionRead> reads, PartitionResult[] results, int maxBytes, int replicaId, bool readCommitted)
    {
        var image = broker.Replicas.Image;
        long limit = Math.Max(0, maxBytes);
        var minOneBatch = true;
        long total = 0;
        var anyError = false;
        for (var i = 0; i < reads.Count; i++)
        {
            var read = reads[i];
            var result = ReadPartition(image, read, (int)Math.Min(Math.Max(read.MaxBytes, 0), limit), minOneBatch, replicaId, readCommitted);
            results[i] = result;
            if (result.Error != ErrorCode.None)
            {
                anyError = true;
                continue;
            }

            var length = result.Region?.Length ?? 0;
            limit = Math.Max(0, limit - length);
            total += length;
            if (length > 0)
            {
                minOneBatch = false;
            }
        }

        return (total, anyError);
    }

    private PartitionResult ReadPartition(ClusterImage image, in PartitionRead read, int maxBytes, bool minOneBatch, int replicaId, bool readCommitted)
    {
        // Keys name topics by id (v13+) or by name; a topic name is never empty.
        var byId = read.Key.Topic.Length == 0;
        var topic = byId ? image.GetTopic(read.Key.TopicId) : image.GetTopic(read.Key.Topic);
        if (topic is null)
        {
            return PartitionResult.Failed(byId ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition, null);
        }

        if (!topic.Partitions.TryGetValue(read.Key.Partition, out var partition) || broker.Replicas.GetLog(topic.Name, read.Key.Partition) is not { } log)
        {
            return PartitionResult.Failed(ErrorCode.UnknownTopicOrPartition, topic.Name);
        }

        if (replicaId >= 0)
        {
            return PartitionResult.Failed(ErrorCode.NotLeaderOrFollower, topic.Name, partition.Leader, partition.LeaderEpoch);
        }

        if (OffsetForLeaderEpochHandler.CheckCurrentLeaderEpoch(read.CurrentLeaderEpoch, partition.LeaderEpoch) is var epochError and not ErrorCode.None)
        {
            return PartitionResult.Failed(epochError, topic.Name, partition.Leader, partition.LeaderEpoch);
        }

        try
        {
            // read_committed stops at the last stable offset and needs the aborted transactions within the data.
            var lastStable = log.LastStableOffset;
            var data = log.Read(read.FetchOffset, maxBytes, readCommitted ? lastStable : log.HighWatermark, minOneBatch);
            List<AbortedTxn>? aborted = null;
            if (readCommitted && data.Region is not null)
            {
                aborted = log.CollectAbortedTransactions(read.FetchOffset, data.UpperBoundOffset);
            }

            return new PartitionResult(ErrorCode.None, topic.Name, data.Region, data.HighWatermark, lastStable, data.LogStartOffset, -1, -1, aborted);
        }
        catch (OffsetOutOfRangeException)
        {
            return PartitionResult.Failed(ErrorCode.OffsetOutOfRange, topic.Name);
        }
        catch (KafkaStorageException)
        {
            return PartitionResult.Failed(ErrorCode.KafkaStorageError, topic.Name);
        }
    }

    private FetchResponseBuffers BuildResponse(List<PartitionRead> reads, PartitionResult[] results, short version, sbyte isolation, FetchSession? session, bool createSession, bool useIds)
    {
        var response = new FetchResponse();
        var buffers = new FetchResponseBuffers(response);
        try
        {
            List<CachedFetchPartition>? sent = null;
            if (session is not null)
            {
                Monitor.Enter(session);
                sent = [];
            }

            try
            {
                FetchResponse.FetchableTopicResponse? current = null;
                for (var i = 0; i < reads.Count; i++)
                {
                    var read = reads[i];
                    var result = results[i];
                    if (read.Cached is { } cached)
                    {
                        if (!cached.MaybeUpdateResponseData((short)result.Error, result.HighWatermark, result.LogStartOffset, result.Region?.Length ?? 0, update: true))
                        {
                            continue;
                        }

                        sent!.Add(cached);
                    }

                    if (current is null || (useIds ? current.TopicId != read.Key.TopicId : current.Topic != read.Key.Topic))
                    {
                        current = new FetchResponse.FetchableTopicResponse { Topic = useIds ? "" : read.Key.Topic, TopicId = useIds ? read.Key.TopicId : KafkaUuid.Zero };
                        response.Responses.Add(current);
                    }

                    var data = new FetchResponse.PartitionData
                    {
                        PartitionIndex = read.Key.Partition,
                        ErrorCode = (short)result.Error,
                        HighWatermark = result.HighWatermark,
                        LastStableOffset = result.LastStableOffset,
                        LogStartOffset = version >= 5 ? result.LogStartOffset : -1,
                        AbortedTransactions = result.Error == ErrorCode.None && isolation == ReadCommitted ? ToResponse(result.Aborted) : null,
                        Records = result.Region is { Length: > 0 } region ? buffers.AddRecords(region) : ReadOnlySequence<byte>.Empty,
                    };
                    if (version >= 12 && result.Error is ErrorCode.NotLeaderOrFollower or ErrorCode.FencedLeaderEpoch)
                    {
                        data.CurrentLeader = new FetchResponse.LeaderIdAndEpoch { LeaderId = result.LeaderId, LeaderEpoch = result.LeaderEpoch };
                    }

                    current.Partitions.Add(data);
                }

                if (session is not null)
                {
                    response.SessionId = session.Id;
                    session.MoveToEnd(sent!);
                }
            }
            finally
            {
                if (session is not null)
                {
                    Monitor.Exit(session);
                }
            }

            if (createSession && _sessions.TryCreate(useIds, reads.Count) is { } created)
            {
                lock (created)
                {
                    for (var i = 0; i < reads.Count; i++)
                    {
                        var read = reads[i];
                        created.AddOrUpdate(read.Key, read.FetchOffset, read.MaxBytes, read.CurrentLeaderEpoch);
                        created.Find(read.Key)!.MaybeUpdateResponseData((short)results[i].Error, results[i].HighWatermark, results[i].LogStartOffset, 0, update: true);
                    }
                }

                response.SessionId = created.Id;
            }

            return buffers;
        }
        catch
        {
            buffers.Dispose();
            throw;
        }
    }

    private static List<FetchResponse.AbortedTransaction> ToResponse(List<AbortedTxn>? aborted)
    {
        var list = new List<FetchResponse.AbortedTransaction>(aborted?.Count ?? 0);
        if (aborted is not null)
        {
            foreach (var txn in aborted)
            {
                list.Add(new FetchResponse.AbortedTransaction { ProducerId = txn.ProducerId, FirstOffset = txn.FirstOffset });
            }
        }

        return list;
    }

    /// <summary>One partition to read: from the request (sessionless or full) or from the session's cache (incremental).</summary>
    private readonly record struct PartitionRead(FetchPartitionKey Key, long FetchOffset, int MaxBytes, int CurrentLeaderEpoch, CachedFetchPartition? Cached);

    private readonly record struct PartitionResult(ErrorCode Error, string? Topic, FileRegion? Region, long HighWatermark, long LastStableOffset, long LogStartOffset, int LeaderId, int LeaderEpoch, List<AbortedTxn>? Aborted = null)
    {
        public static PartitionResult Failed(ErrorCode error, string? topic, int leaderId = -1, int leaderEpoch = -1) =>
            new(error, topic, null, -1, -1, -1, leaderId, leaderEpoch);
    }
}
