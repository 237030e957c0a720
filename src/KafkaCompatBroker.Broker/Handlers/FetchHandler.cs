using System.Buffers;
using System.Runtime.CompilerServices;
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
/// the partitions read (a waiter registered in each partition's watcher list, woken by appends to them) without holding a thread. Fetch sessions (KIP-227, v7+) follow Kafka's
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

    // Pooled state machines: a long-poll wait allocates none.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<FetchResponseBuffers?> HandleAsync(RequestContext context, FetchRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var useIds = version >= 13;
        var replicaId = version >= 15 ? request.ReplicaState.ReplicaId : request.ReplicaId;
        var scratch = context.Reusable<Scratch>();
        try
        {
            return await HandleAsync(scratch, version, useIds, replicaId, request, cancellationToken);
        }
        finally
        {
            // Nothing of this request (file handles, session entries) stays reachable from the connection.
            scratch.End();
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FetchResponseBuffers?> HandleAsync(Scratch scratch, short version, bool useIds, int replicaId, FetchRequest request, CancellationToken cancellationToken)
    {
        // Which partitions to read, and the session (if any) the response belongs to.
        var reads = scratch.Reads;
        reads.EnsureCapacity(PartitionCount(request));
        FetchSession? session = null;
        var createSession = false;
        if (version >= 7 && request.SessionEpoch != 0 && request.SessionEpoch != -1)
        {
            var found = _sessions.Get(request.SessionId);
            var error = found is null ? ErrorCode.FetchSessionIdNotFound : ErrorCode.None;
            if (found is not null)
            {
                lock (found.Lock)
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
                var failed = scratch.Begin();
                failed.Response.ErrorCode = (short)error;
                return failed;
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
        var results = scratch.ResultsFor(reads.Count);
        var started = broker.Time.GetTimestamp();
        FetchWaiter? waiter = null;
        try
        {
            while (true)
            {
                // Armed before reading, so an append to a watched partition between the read and the wait is not missed.
                waiter?.Arm();
                var (bytes, anyError) = ReadAll(reads, results, scratch.Aborted, request.MaxBytes, replicaId, request.IsolationLevel == ReadCommitted);
                var waited = broker.Time.GetElapsedTime(started);
                var remaining = TimeSpan.FromMilliseconds(request.MaxWaitMs) - waited;
                // A stopping broker answers parked fetches with what they have rather than keeping shutdown waiting.
                if (request.MaxWaitMs <= 0 || reads.Count == 0 || bytes >= request.MinBytes || anyError || remaining <= TimeSpan.Zero
                    || broker.Replicas.IsStopping)
                {
                    break;
                }

                if (waiter is null)
                {
                    // Kafka's DelayedFetch, watched by the partitions it reads: only appends to them wake it. The
                    // registration comes before a second read, which sees whatever was appended before it.
                    waiter = scratch.Waiter(broker.Time);
                    Watch(waiter, results, reads.Count);
                    continue;
                }

                // Whole milliseconds, rounded up: a shorter timer would fire at once and the loop would spin until the deadline.
                await waiter.WaitAsync(TimeSpan.FromMilliseconds(Math.Ceiling(remaining.TotalMilliseconds)), cancellationToken);
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            waiter?.UnwatchAll();
        }

        return BuildResponse(scratch, results, version, isolation, session, createSession, useIds);
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
    /// The partitions' aborted transactions (read_committed) go to <paramref name="aborted"/>, each result naming its range.
    /// </summary>
    private (long Bytes, bool AnyError) ReadAll(List<PartitionRead> reads, PartitionResult[] results, List<AbortedTxn> aborted, int maxBytes, int replicaId, bool readCommitted)
    {
        var image = broker.Replicas.Image;
        aborted.Clear();
        long limit = Math.Max(0, maxBytes);
        var minOneBatch = true;
        long total = 0;
        var anyError = false;
        for (var i = 0; i < reads.Count; i++)
        {
            var read = reads[i];
            var result = ReadPartition(image, read, (int)Math.Min(Math.Max(read.MaxBytes, 0), limit), minOneBatch, replicaId, readCommitted, aborted);
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

    /// <summary>Registers the waiter on every partition the read resolved (each result names its partition).</summary>
    private static void Watch(FetchWaiter waiter, PartitionResult[] results, int count)
    {
        for (var i = 0; i < count; i++)
        {
            if (results[i].Partition is { } partition)
            {
                waiter.Watch(partition.Watchers);
            }
        }

        FetchWaiter.AfterWatching();
    }

    private PartitionResult ReadPartition(ClusterImage image, in PartitionRead read, int maxBytes, bool minOneBatch, int replicaId, bool readCommitted, List<AbortedTxn> aborted)
    {
        // Keys name topics by id (v13+) or by name; a topic name is never empty.
        var byId = read.Key.Topic.Length == 0;
        var topic = byId ? image.GetTopic(read.Key.TopicId) : image.GetTopic(read.Key.Topic);
        if (topic is null)
        {
            return PartitionResult.Failed(byId ? ErrorCode.UnknownTopicId : ErrorCode.UnknownTopicOrPartition, null);
        }

        // The partition is resolved once: its epoch check and its read use the same object. By id, a partition of an
        // older topic of the same name (not yet replaced) is not this topic's.
        var hosted = broker.Replicas.GetPartition(topic.Name, read.Key.Partition);
        if (hosted is null || hosted.TopicId != topic.Id)
        {
            return PartitionResult.Failed(ErrorCode.UnknownTopicOrPartition, topic.Name);
        }

        if (replicaId >= 0)
        {
            // ONE-REPLICA: there are no followers; a cluster serves replica fetches here (and tracks their offsets for the ISR).
            return PartitionResult.Failed(ErrorCode.NotLeaderOrFollower, topic.Name, broker.Settings.NodeId, hosted.LeaderEpoch);
        }

        var data = hosted.Read(read.FetchOffset, read.CurrentLeaderEpoch, maxBytes, minOneBatch, readCommitted, aborted);
        if (data.Error != ErrorCode.None)
        {
            // ONE-REPLICA: the leader is this broker.
            var leader = data.Error is ErrorCode.FencedLeaderEpoch or ErrorCode.UnknownLeaderEpoch ? broker.Settings.NodeId : -1;
            return PartitionResult.Failed(data.Error, topic.Name, leader, leader < 0 ? -1 : hosted.LeaderEpoch) with { Partition = hosted };
        }

        return new PartitionResult(ErrorCode.None, topic.Name, data.Region, data.HighWatermark, data.LastStableOffset, data.LogStartOffset, -1, -1, data.AbortedStart, data.AbortedCount, hosted);
    }

    private FetchResponseBuffers BuildResponse(Scratch scratch, PartitionResult[] results, short version, sbyte isolation, FetchSession? session, bool createSession, bool useIds)
    {
        var reads = scratch.Reads;
        var buffers = scratch.Begin();
        var response = buffers.Response;
        try
        {
            var sent = scratch.Sent;
            if (session is not null)
            {
                session.Lock.Enter();
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

                        sent.Add(cached);
                    }

                    if (current is null || (useIds ? current.TopicId != read.Key.TopicId : current.Topic != read.Key.Topic))
                    {
                        current = scratch.Topic();
                        current.Topic = useIds ? "" : read.Key.Topic;
                        current.TopicId = useIds ? read.Key.TopicId : KafkaUuid.Zero;
                        response.Responses.Add(current);
                    }

                    var data = scratch.Partition();
                    data.PartitionIndex = read.Key.Partition;
                    data.ErrorCode = (short)result.Error;
                    data.HighWatermark = result.HighWatermark;
                    data.LastStableOffset = result.LastStableOffset;
                    data.LogStartOffset = version >= 5 ? result.LogStartOffset : -1;
                    scratch.SetAborted(data, result, include: result.Error == ErrorCode.None && isolation == ReadCommitted);
                    data.Records = result.Region is { Length: > 0 } region ? buffers.AddRecords(region) : ReadOnlySequence<byte>.Empty;
                    if (version >= 12 && result.Error is ErrorCode.NotLeaderOrFollower or ErrorCode.FencedLeaderEpoch)
                    {
                        data.CurrentLeader.LeaderId = result.LeaderId;
                        data.CurrentLeader.LeaderEpoch = result.LeaderEpoch;
                    }

                    current.Partitions.Add(data);
                }

                if (session is not null)
                {
                    response.SessionId = session.Id;
                    session.MoveToEnd(sent);
                }
            }
            finally
            {
                if (session is not null)
                {
                    session.Lock.Exit();
                }
            }

            if (createSession && _sessions.TryCreate(useIds, reads.Count) is { } created)
            {
                lock (created.Lock)
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

    /// <summary>One partition to read: from the request (sessionless or full) or from the session's cache (incremental).</summary>
    private readonly record struct PartitionRead(FetchPartitionKey Key, long FetchOffset, int MaxBytes, int CurrentLeaderEpoch, CachedFetchPartition? Cached);

    /// <summary>A partition's read; its aborted transactions (read_committed) are [AbortedStart, +AbortedCount) of the request's list.</summary>
    private readonly record struct PartitionResult(ErrorCode Error, string? Topic, FileRegion? Region, long HighWatermark, long LastStableOffset, long LogStartOffset, int LeaderId, int LeaderEpoch, int AbortedStart = 0, int AbortedCount = 0, Partition? Partition = null)
    {
        public static PartitionResult Failed(ErrorCode error, string? topic, int leaderId = -1, int leaderEpoch = -1) =>
            new(error, topic, null, -1, -1, -1, leaderId, leaderEpoch);
    }

    /// <summary>
    /// A connection's Fetch working set, reused request after request so a warm consumer's fetches allocate
    /// nothing: the partitions to read and their results, and the response with its topic, partition and
    /// aborted-transaction entries (reset and refilled). The dispatcher writes and disposes the response
    /// (which returns its record buffers) before the connection's next request; nothing keeps it after that.
    /// </summary>
    private sealed class Scratch
    {
        private readonly FetchResponse _response = new();
        private readonly Stack<FetchResponse.FetchableTopicResponse> _topics = new();
        private readonly Stack<FetchResponse.PartitionData> _partitions = new();
        private readonly Stack<List<FetchResponse.AbortedTransaction>> _spareAbortedLists = new();
        private readonly Stack<FetchResponse.AbortedTransaction> _abortedEntries = new();
        private PartitionResult[] _results = [];
        private FetchResponseBuffers? _buffers;
        private FetchWaiter? _waiter;

        public List<PartitionRead> Reads { get; } = [];

        /// <summary>The aborted transactions of every partition read (read_committed); results name their ranges.</summary>
        public List<AbortedTxn> Aborted { get; } = [];

        /// <summary>The session partitions a response carries (incremental fetches).</summary>
        public List<CachedFetchPartition> Sent { get; } = [];

        /// <summary>The connection's long-poll waiter, created at its first wait.</summary>
        public FetchWaiter Waiter(TimeProvider time) => _waiter ??= new FetchWaiter(time);

        public PartitionResult[] ResultsFor(int count)
        {
            if (_results.Length < count)
            {
                _results = new PartitionResult[count];
            }

            return _results;
        }

        /// <summary>The response (in its buffers wrapper), emptied: its previous entries reset and kept for reuse.</summary>
        public FetchResponseBuffers Begin()
        {
            foreach (var topic in _response.Responses)
            {
                foreach (var partition in topic.Partitions)
                {
                    // Reset leaves an empty aborted-transactions list: the partition's own, or a spare one.
                    if (partition.AbortedTransactions is { } aborted)
                    {
                        foreach (var entry in aborted)
                        {
                            entry.Reset();
                            _abortedEntries.Push(entry);
                        }
                    }
                    else if (_spareAbortedLists.TryPop(out var spare))
                    {
                        partition.AbortedTransactions = spare;
                    }

                    partition.Reset();
                    _partitions.Push(partition);
                }

                topic.Reset();
                _topics.Push(topic);
            }

            _response.Reset();
            // The wrapper of the one response: disposing it (after the write) returned its buffers, so it is empty.
            return _buffers ??= new FetchResponseBuffers(_response);
        }

        public FetchResponse.FetchableTopicResponse Topic() => _topics.TryPop(out var topic) ? topic : new();

        public FetchResponse.PartitionData Partition() => _partitions.TryPop(out var partition) ? partition : new();

        /// <summary>
        /// Fills a partition's aborted transactions from its result (read_committed), or makes them null
        /// (read_uncommitted and errors, as Kafka sends), keeping the emptied list for a later partition.
        /// </summary>
        public void SetAborted(FetchResponse.PartitionData data, in PartitionResult result, bool include)
        {
            var list = data.AbortedTransactions ??= [];
            if (!include)
            {
                _spareAbortedLists.Push(list);
                data.AbortedTransactions = null;
                return;
            }

            for (var i = result.AbortedStart; i < result.AbortedStart + result.AbortedCount; i++)
            {
                var entry = _abortedEntries.TryPop(out var reusedEntry) ? reusedEntry : new FetchResponse.AbortedTransaction();
                entry.ProducerId = Aborted[i].ProducerId;
                entry.FirstOffset = Aborted[i].FirstOffset;
                list.Add(entry);
            }
        }

        /// <summary>Drops the request's references (file regions, session partitions), keeping the capacity.</summary>
        public void End()
        {
            Array.Clear(_results);
            Reads.Clear();
            Aborted.Clear();
            Sent.Clear();
        }
    }
}
