using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// The transaction coordinator (Kafka's TransactionCoordinator + TransactionStateManager) for every
/// transactional id: ONE-REPLICA: this single node leads every partition of <c>__transaction_state</c>. State lives
/// under one lock; every change is appended to the log first (<see cref="ITransactionLog"/>), then applied,
/// then answered. Ending a transaction writes PrepareCommit/PrepareAbort, then the markers to every
/// partition of the transaction (<see cref="ITransactionMarkerSink"/>, outside the lock, because a marker
/// append may call into the group coordinator), then CompleteCommit/CompleteAbort. On a single broker this
/// is done synchronously before EndTxn is answered, so the next transaction never waits for markers;
/// markers that fail are retried on a timer. Timers (timed-out transactions, transactional id expiry,
/// marker retries) run on the injected <see cref="TimeProvider"/>.
/// </summary>
public sealed partial class TransactionCoordinator : IDisposable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, TransactionMetadata> _transactions = new(StringComparer.Ordinal);
    private readonly TransactionCoordinatorConfig _config;
    private readonly ITransactionLog _txnLog;
    private readonly ITransactionMarkerSink _markers;
    private readonly IProducerIdSource _producerIds;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly ITimer _abortTimer;
    private readonly ITimer _expireTimer;
    private readonly ITimer _retryTimer;
    private bool _disposed;
    private volatile bool _partitionVerificationEnable;

    public TransactionCoordinator(
        TransactionCoordinatorConfig config, ITransactionLog txnLog, ITransactionMarkerSink markers, IProducerIdSource producerIds, TimeProvider time, ILogger<TransactionCoordinator> log)
    {
        _config = config;
        _partitionVerificationEnable = config.PartitionVerificationEnable;
        _txnLog = txnLog;
        _markers = markers;
        _producerIds = producerIds;
        _time = time;
        _log = log;
        var abortInterval = TimeSpan.FromMilliseconds(config.AbortTimedOutTransactionsIntervalMs);
        _abortTimer = time.CreateTimer(static s => ((TransactionCoordinator)s!).AbortTimedOutTransactions(), this, abortInterval, abortInterval);
        var expireInterval = TimeSpan.FromMilliseconds(config.RemoveExpiredTransactionalIdsIntervalMs);
        _expireTimer = time.CreateTimer(static s => ((TransactionCoordinator)s!).RemoveExpiredTransactionalIds(), this, expireInterval, expireInterval);
        _retryTimer = time.CreateTimer(static s => ((TransactionCoordinator)s!).RetryPendingCompletions(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public TransactionCoordinatorConfig Config => _config;

    /// <summary>
    /// transaction.partition.verification.enable in effect: starts as the config's value; the broker sets it from the
    /// dynamic broker configs (Kafka's ProducerStateManagerConfig is reconfigurable), and the next check follows it.
    /// </summary>
    public bool PartitionVerificationEnable
    {
        get => _partitionVerificationEnable;
        set => _partitionVerificationEnable = value;
    }

    private long Now => _time.GetUtcNow().ToUnixTimeMilliseconds();

    // ------------------------------------------------------------------ InitProducerId

    /// <summary>
    /// InitProducerId: without a transactional id a fresh producer id at epoch 0; with one, the id's next
    /// epoch (a new producer id once the epoch is exhausted). <paramref name="producerId"/> /
    /// <paramref name="producerEpoch"/> (v3+, KIP-360) are the caller's current ones, or -1/-1. An ongoing
    /// transaction is aborted with a fenced epoch first and CONCURRENT_TRANSACTIONS answered, as Kafka does.
    /// </summary>
    public InitProducerIdResult InitProducerId(string? transactionalId, int transactionTimeoutMs, long producerId = -1, short producerEpoch = -1, bool enable2Pc = false)
    {
        if (enable2Pc && !_config.TwoPhaseCommitEnable)
        {
            // KIP-939: with transaction.two.phase.commit.enable=false a 2PC producer is not authorized.
            return InitProducerIdResult.Failed(ErrorCode.TransactionalIdAuthorizationFailed);
        }

        if (transactionalId is null)
        {
            return TryGenerateProducerId(out var id, out var error) ? new InitProducerIdResult(ErrorCode.None, id, 0) : InitProducerIdResult.Failed(error);
        }

        if (transactionalId.Length == 0)
        {
            return InitProducerIdResult.Failed(ErrorCode.InvalidRequest);
        }

        if ((producerId == TransactionMetadata.NoProducerId) != (producerEpoch == TransactionMetadata.NoProducerEpoch))
        {
            return InitProducerIdResult.Failed(ErrorCode.InvalidRequest);
        }

        if (transactionTimeoutMs <= 0 || transactionTimeoutMs > _config.TransactionMaxTimeoutMs)
        {
            return InitProducerIdResult.Failed(ErrorCode.InvalidTransactionTimeout);
        }

        (long Id, short Epoch)? expected = producerId >= 0 ? (producerId, producerEpoch) : null;
        TransactionMetadata? fenced;
        lock (_lock)
        {
            if (!_transactions.TryGetValue(transactionalId, out var metadata))
            {
                if (!TryGenerateProducerId(out var newId, out var error))
                {
                    return InitProducerIdResult.Failed(error);
                }

                metadata = new TransactionMetadata(transactionalId) { ProducerId = newId, TimeoutMs = transactionTimeoutMs, LastUpdateTimestampMs = Now };
                _transactions[transactionalId] = metadata;
            }

            if (expected is { } e && !(metadata.ProducerEpoch == TransactionMetadata.NoProducerEpoch || e.Id == metadata.ProducerId
                || (e.Id == metadata.PreviousProducerId && TransactionMetadata.IsEpochExhausted(e.Epoch))))
            {
                return InitProducerIdResult.Failed(ErrorCode.ProducerFenced);
            }

            switch (metadata.State)
            {
                case TransactionState.PrepareAbort or TransactionState.PrepareCommit:
                    return InitProducerIdResult.Failed(ErrorCode.ConcurrentTransactions);
                case TransactionState.Empty or TransactionState.CompleteAbort or TransactionState.CompleteCommit:
                    TxnTransit? transit;
                    if (metadata.IsProducerEpochExhausted && (expected is null || expected.Value.Epoch == metadata.ProducerEpoch))
                    {
                        if (!TryGenerateProducerId(out var rotated, out var error))
                        {
                            return InitProducerIdResult.Failed(error);
                        }

                        transit = metadata.PrepareProducerIdRotation(rotated, transactionTimeoutMs, Now, expected is not null);
                    }
                    else
                    {
                        transit = metadata.IsProducerEpochExhausted ? null : metadata.PrepareIncrementProducerEpoch(transactionTimeoutMs, expected?.Epoch, Now);
                    }

                    if (transit is null)
                    {
                        return InitProducerIdResult.Failed(ErrorCode.ProducerFenced);
                    }

                    var appendError = AppendLocked(transactionalId, transit);
                    if (appendError != ErrorCode.None)
                    {
                        return InitProducerIdResult.Failed(appendError);
                    }

                    metadata.Apply(transit);
                    _log.LogInformation("Initialized transactional id {TransactionalId} with producer id {ProducerId} and epoch {Epoch}", transactionalId, metadata.ProducerId, metadata.ProducerEpoch);
                    return new InitProducerIdResult(ErrorCode.None, metadata.ProducerId, metadata.ProducerEpoch);
                case TransactionState.Ongoing:
                    // Abort the ongoing transaction with a bumped epoch (never returned to anyone); the
                    // producer retries and then gets the next epoch (or a new producer id when exhausted).
                    var result = EndTransactionLocked(transactionalId, metadata.ProducerId, metadata.FencedEpoch(), commit: false, isFromClient: false, _config.TransactionVersionLevel, isEpochFence: true, out fenced);
                    if (result.Error != ErrorCode.None)
                    {
                        return InitProducerIdResult.Failed(result.Error);
                    }

                    break;
                default:
                    return InitProducerIdResult.Failed(ErrorCode.UnknownServerError);
            }
        }

        if (fenced is not null)
        {
            WriteMarkersAndComplete(fenced);
        }

        return InitProducerIdResult.Failed(ErrorCode.ConcurrentTransactions);
    }

    private bool TryGenerateProducerId(out long producerId, out ErrorCode error)
    {
        try
        {
            producerId = _producerIds.GenerateProducerId();
            error = ErrorCode.None;
            return true;
        }
        catch (ProducerIdException e)
        {
            _log.LogWarning("No producer id: {Reason}", e.Message);
            (producerId, error) = (-1, e.Error);
            return false;
        }
    }

    // ------------------------------------------------------------------ AddPartitionsToTxn / AddOffsetsToTxn

    /// <summary>
    /// Adds partitions to the producer's transaction (starting it): AddPartitionsToTxn, AddOffsetsToTxn
    /// (the group's <c>__consumer_offsets</c> partition) and the implicit add of Transactions V2
    /// (<paramref name="clientTransactionVersion"/> 2). Errors as Kafka's handleAddPartitionsToTransaction.
    /// </summary>
    public ErrorCode AddPartitions(string? transactionalId, long producerId, short producerEpoch, IReadOnlyCollection<TopicPartition> partitions, short clientTransactionVersion = 0)
    {
        if (string.IsNullOrEmpty(transactionalId))
        {
            return ErrorCode.InvalidRequest;
        }

        lock (_lock)
        {
            if (!_transactions.TryGetValue(transactionalId, out var metadata) || metadata.ProducerId != producerId)
            {
                return ErrorCode.InvalidProducerIdMapping;
            }

            if (metadata.ProducerEpoch != producerEpoch)
            {
                return ErrorCode.ProducerFenced;
            }

            if (metadata.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort)
            {
                return ErrorCode.ConcurrentTransactions;
            }

            if (metadata.State == TransactionState.Ongoing && partitions.All(metadata.Partitions.Contains))
            {
                return ErrorCode.None;
            }

            var transit = metadata.PrepareAddPartitions(partitions, Now, clientTransactionVersion);
            var error = AppendLocked(transactionalId, transit);
            if (error == ErrorCode.None)
            {
                metadata.Apply(transit);
            }

            return error;
        }
    }

    /// <summary>
    /// AddPartitionsToTxn v4+ with verify_only (Kafka's handleVerifyPartitionsInTransaction): NONE for a
    /// partition in the ongoing transaction, TRANSACTION_ABORTABLE for one that is not.
    /// </summary>
    public IReadOnlyDictionary<TopicPartition, ErrorCode> VerifyPartitions(string? transactionalId, long producerId, short producerEpoch, IReadOnlyCollection<TopicPartition> partitions)
    {
        ErrorCode all;
        if (string.IsNullOrEmpty(transactionalId))
        {
            all = ErrorCode.InvalidRequest;
        }
        else
        {
            lock (_lock)
            {
                if (!_transactions.TryGetValue(transactionalId, out var metadata) || metadata.ProducerId != producerId)
                {
                    all = ErrorCode.InvalidProducerIdMapping;
                }
                else if (metadata.ProducerEpoch != producerEpoch)
                {
                    all = ErrorCode.ProducerFenced;
                }
                else if (metadata.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort)
                {
                    all = ErrorCode.ConcurrentTransactions;
                }
                else
                {
                    return partitions.Distinct().ToDictionary(p => p, p => metadata.Partitions.Contains(p) ? ErrorCode.None : ErrorCode.TransactionAbortable);
                }
            }
        }

        return partitions.Distinct().ToDictionary(p => p, _ => all);
    }

    /// <summary>
    /// Is <paramref name="partition"/> in the ongoing transaction of (transactional id, producer id, epoch)?
    /// With <paramref name="addIfMissing"/> (Transactions V2: Produce v12+, TxnOffsetCommit v5+) it is added,
    /// starting the transaction, as Kafka's AddPartitionsToTxnManager does. Returns the coordinator's error
    /// (NONE; TRANSACTION_ABORTABLE when not in the transaction; INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED,
    /// CONCURRENT_TRANSACTIONS, ...). The TxnOffsetCommit handler calls it for the group's offsets partition.
    /// </summary>
    public ErrorCode VerifyPartition(string transactionalId, long producerId, short producerEpoch, TopicPartition partition, bool addIfMissing) =>
        addIfMissing
            ? AddPartitions(transactionalId, producerId, producerEpoch, [partition], clientTransactionVersion: 2)
            : VerifyPartitions(transactionalId, producerId, producerEpoch, [partition])[partition];

    /// <summary>
    /// Produce-side verification (KIP-890) of a transactional batch: the error the Produce response carries,
    /// mapped as Kafka's AddPartitionsToTxnManager and ReplicaManager do (PRODUCER_FENCED → INVALID_PRODUCER_EPOCH;
    /// TRANSACTION_ABORTABLE → INVALID_TXN_STATE before Produce v11; retriable coordinator errors →
    /// NOT_ENOUGH_REPLICAS, which old clients retry without a metadata refresh). Produce v12+ adds the
    /// partition implicitly when the cluster runs Transactions V2.
    /// </summary>
    public ErrorCode VerifyProducePartition(string transactionalId, long producerId, short producerEpoch, TopicPartition partition, short produceVersion)
    {
        // transaction.partition.verification.enable=false skips the check, but not an implicit add (Kafka's ReplicaManager).
        var addPartition = produceVersion > 11 && _config.TransactionVersionLevel >= 2;
        if (!PartitionVerificationEnable && !addPartition)
        {
            return ErrorCode.None;
        }

        var error = VerifyPartition(transactionalId, producerId, producerEpoch, partition, addPartition);
        return error switch
        {
            ErrorCode.ProducerFenced => ErrorCode.InvalidProducerEpoch,
            ErrorCode.TransactionAbortable when produceVersion < 11 => ErrorCode.InvalidTxnState,
            ErrorCode.ConcurrentTransactions or ErrorCode.NetworkException or ErrorCode.CoordinatorLoadInProgress
                or ErrorCode.CoordinatorNotAvailable or ErrorCode.NotCoordinator => ErrorCode.NotEnoughReplicas,
            _ => error,
        };
    }

    // ------------------------------------------------------------------ EndTxn

    /// <summary>
    /// EndTxn: commit or abort the ongoing transaction. <paramref name="clientTransactionVersion"/> is 2
    /// for EndTxn v5+ (the epoch is bumped at every end and returned), else 0. Errors and retries as
    /// Kafka's endTransaction / endTransactionWithTV1.
    /// </summary>
    public EndTxnResult EndTransaction(string? transactionalId, long producerId, short producerEpoch, bool commit, short clientTransactionVersion)
    {
        if (string.IsNullOrEmpty(transactionalId))
        {
            return EndTxnResult.Failed(ErrorCode.InvalidRequest);
        }

        TransactionMetadata? toComplete;
        EndTxnResult result;
        lock (_lock)
        {
            result = EndTransactionLocked(transactionalId, producerId, producerEpoch, commit, isFromClient: true, clientTransactionVersion, isEpochFence: false, out toComplete);
        }

        if (toComplete is null)
        {
            return result;
        }

        WriteMarkersAndComplete(toComplete);
        if (clientTransactionVersion < 2)
        {
            return new EndTxnResult(ErrorCode.None, -1, -1);
        }

        lock (_lock)
        {
            // The producer id and epoch the producer continues with (a new producer id after an exhausted epoch).
            return toComplete.NextProducerId != TransactionMetadata.NoProducerId
                ? new EndTxnResult(ErrorCode.None, toComplete.NextProducerId, 0)
                : new EndTxnResult(ErrorCode.None, toComplete.ProducerId, toComplete.ProducerEpoch);
        }
    }

    private EndTxnResult EndTransactionLocked(
        string transactionalId, long producerId, short producerEpoch, bool commit, bool isFromClient, short clientTransactionVersion, bool isEpochFence, out TransactionMetadata? toComplete)
    {
        toComplete = null;
        if (!_transactions.TryGetValue(transactionalId, out var metadata))
        {
            return EndTxnResult.Failed(ErrorCode.InvalidProducerIdMapping);
        }

        var (error, transit, isRetryAnswer) = clientTransactionVersion >= 2
            ? PrepareEndV2(metadata, producerId, producerEpoch, commit, isFromClient, clientTransactionVersion, isEpochFence)
            : PrepareEndV1(metadata, producerId, producerEpoch, commit, isFromClient, isEpochFence);
        if (transit is null)
        {
            if (error == ErrorCode.None && isRetryAnswer)
            {
                return new EndTxnResult(ErrorCode.None, metadata.ProducerId, metadata.ProducerEpoch);
            }

            return error == ErrorCode.None ? new EndTxnResult(ErrorCode.None, -1, -1) : EndTxnResult.Failed(error);
        }

        var appendError = AppendLocked(transactionalId, transit);
        if (appendError != ErrorCode.None)
        {
            if (isEpochFence)
            {
                // The fenced epoch is never returned to a client, so it need not be bumped again next time.
                metadata.HasFailedEpochFence = true;
            }

            return EndTxnResult.Failed(appendError);
        }

        metadata.Apply(transit);
        metadata.HasFailedEpochFence = false;
        toComplete = metadata;
        return new EndTxnResult(ErrorCode.None, metadata.ProducerId, metadata.ProducerEpoch);
    }

    /// <summary>Transactions V1 (EndTxn v0–4): the epoch must match exactly; a completed transaction's retry is answered NONE.</summary>
    private (ErrorCode Error, TxnTransit? Transit, bool IsRetry) PrepareEndV1(
        TransactionMetadata metadata, long producerId, short producerEpoch, bool commit, bool isFromClient, bool isEpochFence)
    {
        if (metadata.ProducerId != producerId)
        {
            return (ErrorCode.InvalidProducerIdMapping, null, false);
        }

        if ((isFromClient && producerEpoch != metadata.ProducerEpoch) || producerEpoch < metadata.ProducerEpoch)
        {
            return (ErrorCode.ProducerFenced, null, false);
        }

        switch (metadata.State)
        {
            case TransactionState.Ongoing:
                if (!commit && isEpochFence)
                {
                    metadata.ProducerEpoch = producerEpoch;
                    metadata.LastProducerEpoch = TransactionMetadata.NoProducerEpoch;
                }

                var next = commit ? TransactionState.PrepareCommit : TransactionState.PrepareAbort;
                return (ErrorCode.None, metadata.PrepareAbortOrCommit(next, 0, TransactionMetadata.NoProducerId, Now, false), false);
            case TransactionState.CompleteCommit:
                return (commit ? ErrorCode.None : ErrorCode.InvalidTxnState, null, false);
            case TransactionState.CompleteAbort:
                return (!commit ? ErrorCode.None : ErrorCode.InvalidTxnState, null, false);
            case TransactionState.PrepareCommit:
                return (commit ? ErrorCode.ConcurrentTransactions : ErrorCode.InvalidTxnState, null, false);
            case TransactionState.PrepareAbort:
                return (!commit ? ErrorCode.ConcurrentTransactions : ErrorCode.InvalidTxnState, null, false);
            case TransactionState.Empty:
                return (ErrorCode.InvalidTxnState, null, false);
            default:
                return (ErrorCode.UnknownServerError, null, false);
        }
    }

    /// <summary>
    /// Transactions V2 (EndTxn v5+, and every abort the coordinator starts itself): the epoch is bumped at
    /// every end; a retry carries the previous epoch; an abort without partitions is allowed (Kafka's table:
    /// Empty/Complete* + abort at the current epoch bumps the epoch).
    /// </summary>
    private (ErrorCode Error, TxnTransit? Transit, bool IsRetry) PrepareEndV2(
        TransactionMetadata metadata, long producerId, short producerEpoch, bool commit, bool isFromClient, short clientTransactionVersion, bool isEpochFence)
    {
        var retryOnOverflow = !isEpochFence && metadata.PreviousProducerId == producerId && producerEpoch == short.MaxValue - 1 && metadata.ProducerEpoch == 0;
        var retryOnEpochBump = !isEpochFence && metadata.ProducerEpoch == producerEpoch + 1;
        var isRetry = retryOnEpochBump || retryOnOverflow;
        bool validEpoch = isEpochFence
            ? (!isFromClient || producerEpoch == metadata.ProducerEpoch) && producerEpoch >= metadata.ProducerEpoch
            : metadata.State switch
            {
                TransactionState.PrepareCommit or TransactionState.PrepareAbort => retryOnEpochBump,
                TransactionState.CompleteCommit or TransactionState.CompleteAbort => isRetry || producerEpoch == metadata.ProducerEpoch,
                _ => producerEpoch == metadata.ProducerEpoch,
            };

        if (metadata.ProducerId != producerId && !retryOnOverflow)
        {
            return (ErrorCode.InvalidProducerIdMapping, null, false);
        }

        if (!validEpoch)
        {
            return (ErrorCode.ProducerFenced, null, false);
        }

        (ErrorCode, TxnTransit?, bool) Complete(TransactionState next, bool noPartitionAdded)
        {
            var nextProducerId = TransactionMetadata.NoProducerId;
            if (!isEpochFence && metadata.IsProducerEpochExhausted && !TryGenerateProducerId(out nextProducerId, out var error))
            {
                return (error, null, false);
            }

            if (next == TransactionState.PrepareAbort && isEpochFence)
            {
                metadata.ProducerEpoch = producerEpoch;
                metadata.LastProducerEpoch = TransactionMetadata.NoProducerEpoch;
            }

            return (ErrorCode.None, metadata.PrepareAbortOrCommit(next, clientTransactionVersion, nextProducerId, Now, noPartitionAdded), false);
        }

        switch (metadata.State)
        {
            case TransactionState.Ongoing:
                return Complete(commit ? TransactionState.PrepareCommit : TransactionState.PrepareAbort, false);
            case TransactionState.CompleteCommit:
                if (commit)
                {
                    return isRetry ? (ErrorCode.None, null, true) : (ErrorCode.InvalidTxnState, null, false);
                }

                return isRetry ? (ErrorCode.InvalidTxnState, null, false) : Complete(TransactionState.PrepareAbort, true);
            case TransactionState.CompleteAbort:
                if (!commit)
                {
                    return isRetry ? (ErrorCode.None, null, true) : Complete(TransactionState.PrepareAbort, true);
                }

                return (ErrorCode.InvalidTxnState, null, false);
            case TransactionState.PrepareCommit:
                return (commit ? ErrorCode.ConcurrentTransactions : ErrorCode.InvalidTxnState, null, false);
            case TransactionState.PrepareAbort:
                return (!commit ? ErrorCode.ConcurrentTransactions : ErrorCode.InvalidTxnState, null, false);
            case TransactionState.Empty:
                return !commit ? Complete(TransactionState.PrepareAbort, true) : (ErrorCode.InvalidTxnState, null, false);
            default:
                return (ErrorCode.UnknownServerError, null, false);
        }
    }

    // ------------------------------------------------------------------ markers and completion

    /// <summary>
    /// Writes the markers of a transaction in PrepareCommit/PrepareAbort (outside the lock), then its
    /// Complete* record. A partition whose marker fails stays pending and the retry timer tries again.
    /// </summary>
    private void WriteMarkersAndComplete(TransactionMetadata metadata)
    {
        TopicPartition[] partitions;
        long producerId;
        short producerEpoch;
        bool commit;
        lock (_lock)
        {
            if (metadata.State is not (TransactionState.PrepareCommit or TransactionState.PrepareAbort) || metadata.MarkersInFlight)
            {
                return;
            }

            metadata.MarkersInFlight = true;
            partitions = [.. metadata.Partitions];
            (producerId, producerEpoch, commit) = (metadata.ProducerId, metadata.ProducerEpoch, metadata.State == TransactionState.PrepareCommit);
        }

        var failed = false;
        try
        {
            var coordinatorEpoch = _txnLog.CoordinatorEpoch(metadata.TransactionalId);
            foreach (var partition in partitions)
            {
                var error = _markers.Write(partition, producerId, producerEpoch, coordinatorEpoch, commit);
                if (error is ErrorCode.InvalidProducerEpoch or ErrorCode.TransactionCoordinatorFenced)
                {
                    // A newer producer epoch or coordinator already wrote to the partition: this marker is moot.
                    _log.LogWarning("Marker for {TransactionalId} on {Partition} refused with {Error}; not retried", metadata.TransactionalId, partition, error);
                }
                else if (error != ErrorCode.None)
                {
                    _log.LogWarning("Marker for {TransactionalId} on {Partition} failed with {Error}; will retry", metadata.TransactionalId, partition, error);
                    failed = true;
                    continue;
                }

                lock (_lock)
                {
                    metadata.Partitions.Remove(partition);
                }
            }
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _log.LogError(e, "Writing the markers of {TransactionalId} failed; will retry", metadata.TransactionalId);
            failed = true;
        }

        lock (_lock)
        {
            metadata.MarkersInFlight = false;
            if (!failed && metadata.Partitions.Count == 0 && _transactions.TryGetValue(metadata.TransactionalId, out var current) && ReferenceEquals(current, metadata))
            {
                var transit = metadata.PrepareComplete(Now);
                if (AppendLocked(metadata.TransactionalId, transit) == ErrorCode.None)
                {
                    metadata.Apply(transit);
                    return;
                }
            }

            ScheduleRetryLocked();
        }
    }

    private void ScheduleRetryLocked()
    {
        if (!_disposed)
        {
            _retryTimer.Change(TimeSpan.FromMilliseconds(_config.MarkerRetryIntervalMs), Timeout.InfiniteTimeSpan);
        }
    }

    private void RetryPendingCompletions()
    {
        List<TransactionMetadata> pending;
        lock (_lock)
        {
            pending = [.. _transactions.Values.Where(m => m.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort)];
        }

        foreach (var metadata in pending)
        {
            WriteMarkersAndComplete(metadata);
        }
    }

    // ------------------------------------------------------------------ timers

    /// <summary>Aborts Ongoing transactions older than their timeout, with a fenced epoch (Kafka's abortTimedOutTransactions).</summary>
    internal void AbortTimedOutTransactions()
    {
        var toComplete = new List<TransactionMetadata>();
        lock (_lock)
        {
            var now = Now;
            foreach (var metadata in _transactions.Values.ToList())
            {
                if (metadata.State != TransactionState.Ongoing || metadata.StartTimestampMs + metadata.TimeoutMs >= now)
                {
                    continue;
                }

                _log.LogInformation("Aborting transaction {TransactionalId} (producer id {ProducerId}) after its timeout of {TimeoutMs} ms", metadata.TransactionalId, metadata.ProducerId, metadata.TimeoutMs);
                var result = EndTransactionLocked(
                    metadata.TransactionalId, metadata.ProducerId, metadata.FencedEpoch(), commit: false, isFromClient: false, _config.TransactionVersionLevel, isEpochFence: true, out var fenced);
                if (fenced is not null)
                {
                    toComplete.Add(fenced);
                }
                else if (result.Error != ErrorCode.None)
                {
                    _log.LogWarning("Rollback of transaction {TransactionalId} failed: {Error}", metadata.TransactionalId, result.Error);
                }
            }
        }

        foreach (var metadata in toComplete)
        {
            WriteMarkersAndComplete(metadata);
        }
    }

    /// <summary>Forgets transactional ids idle for transactional.id.expiration.ms: a tombstone, then removal.</summary>
    internal void RemoveExpiredTransactionalIds()
    {
        lock (_lock)
        {
            var cutoff = Now - _config.TransactionalIdExpirationMs;
            foreach (var metadata in _transactions.Values.ToList())
            {
                if (metadata.State is not (TransactionState.Empty or TransactionState.CompleteCommit or TransactionState.CompleteAbort) || metadata.LastUpdateTimestampMs > cutoff)
                {
                    continue;
                }

                try
                {
                    _txnLog.Append(metadata.TransactionalId, TransactionRecords.Key(metadata.TransactionalId), null);
                    _transactions.Remove(metadata.TransactionalId);
                    _log.LogInformation("Expired transactional id {TransactionalId}", metadata.TransactionalId);
                }
                catch (TransactionLogException e)
                {
                    _log.LogWarning("Writing the tombstone of transactional id {TransactionalId} failed: {Reason}", metadata.TransactionalId, e.Message);
                }
            }
        }
    }

    // ------------------------------------------------------------------ log and recovery

    private ErrorCode AppendLocked(string transactionalId, TxnTransit transit)
    {
        try
        {
            _txnLog.Append(transactionalId, TransactionRecords.Key(transactionalId), TransactionRecords.Value(transit, _config.TransactionVersionLevel));
            return ErrorCode.None;
        }
        catch (TransactionLogException e)
        {
            _log.LogWarning("Appending the state of {TransactionalId} failed: {Reason}", transactionalId, e.Message);
            return e.Error;
        }
    }

    /// <summary>Replays one <c>__transaction_state</c> record at start-up (log order; null value = tombstone).</summary>
    public void Replay(string transactionalId, ReadOnlySpan<byte> value, bool tombstone)
    {
        lock (_lock)
        {
            if (tombstone)
            {
                _transactions.Remove(transactionalId);
            }
            else
            {
                _transactions[transactionalId] = TransactionRecords.ReadValue(transactionalId, value);
            }
        }
    }

    /// <summary>After the replay: transactions left in PrepareCommit/PrepareAbort get their markers and are completed.</summary>
    public void OnLoaded()
    {
        List<TransactionMetadata> pending;
        lock (_lock)
        {
            pending = [.. _transactions.Values.Where(m => m.State is TransactionState.PrepareCommit or TransactionState.PrepareAbort)];
        }

        foreach (var metadata in pending)
        {
            _log.LogInformation("Completing {State} of transactional id {TransactionalId} found at start-up", metadata.State, metadata.TransactionalId);
            WriteMarkersAndComplete(metadata);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
        }

        _abortTimer.Dispose();
        _expireTimer.Dispose();
        _retryTimer.Dispose();
    }
}
