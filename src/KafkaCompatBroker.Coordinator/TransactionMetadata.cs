using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// The state of one transactional id (Kafka's TransactionMetadata). Changes are prepared as a
/// <see cref="TxnTransit"/> (the values to write to <c>__transaction_state</c>), appended, then applied
/// with <see cref="Apply"/>. Guarded by the coordinator's lock.
/// </summary>
public sealed class TransactionMetadata(string transactionalId)
{
    public const short NoProducerEpoch = -1;
    public const long NoProducerId = -1;

    public string TransactionalId { get; } = transactionalId;

    public long ProducerId { get; set; } = NoProducerId;

    /// <summary>The producer id before the last rotation (KIP-360 retries of an exhausted epoch).</summary>
    public long PreviousProducerId { get; set; } = NoProducerId;

    /// <summary>TV2: the producer id the transaction moves to when it completes (epoch exhausted).</summary>
    public long NextProducerId { get; set; } = NoProducerId;

    public short ProducerEpoch { get; set; } = NoProducerEpoch;

    /// <summary>The epoch before the last bump (a retried InitProducerId gets the same answer again); not persisted.</summary>
    public short LastProducerEpoch { get; set; } = NoProducerEpoch;

    public int TimeoutMs { get; set; }

    public TransactionState State { get; set; } = TransactionState.Empty;

    public HashSet<TopicPartition> Partitions { get; set; } = [];

    public long StartTimestampMs { get; set; } = -1;

    public long LastUpdateTimestampMs { get; set; }

    /// <summary>The transaction version the client used for the last transition (2 = KIP-890 part 2).</summary>
    public short ClientTransactionVersion { get; set; }

    /// <summary>Markers of the Prepare* state still to write (partitions are removed as their marker lands).</summary>
    internal bool MarkersInFlight { get; set; }

    /// <summary>The epoch fence of an InitProducerId or a timeout could not be written (Kafka's hasFailedEpochFence).</summary>
    internal bool HasFailedEpochFence { get; set; }

    /// <summary>Epochs at Short.MaxValue - 1 and above are never handed out, so a producer can always be fenced.</summary>
    public static bool IsEpochExhausted(short epoch) => epoch >= short.MaxValue - 1;

    public bool IsProducerEpochExhausted => IsEpochExhausted(ProducerEpoch);

    public TxnTransit Current() => new(
        ProducerId, PreviousProducerId, NextProducerId, ProducerEpoch, LastProducerEpoch, TimeoutMs, State, [.. Partitions],
        StartTimestampMs, LastUpdateTimestampMs, ClientTransactionVersion);

    public void Apply(TxnTransit transit)
    {
        ProducerId = transit.ProducerId;
        PreviousProducerId = transit.PreviousProducerId;
        NextProducerId = transit.NextProducerId;
        ProducerEpoch = transit.ProducerEpoch;
        LastProducerEpoch = transit.LastProducerEpoch;
        TimeoutMs = transit.TimeoutMs;
        State = transit.State;
        Partitions = [.. transit.Partitions];
        StartTimestampMs = transit.StartTimestampMs;
        LastUpdateTimestampMs = transit.LastUpdateTimestampMs;
        ClientTransactionVersion = transit.ClientTransactionVersion;
    }

    /// <summary>The epoch fence of InitProducerId / a timeout: one more epoch (never past Short.MaxValue), not persisted on its own.</summary>
    public short FencedEpoch() =>
        HasFailedEpochFence || ProducerEpoch == short.MaxValue ? ProducerEpoch : (short)(ProducerEpoch + 1);

    /// <summary>
    /// InitProducerId on an idle transactional id: the next epoch (Kafka's prepareIncrementProducerEpoch).
    /// Null when the expected epoch shows the caller is fenced.
    /// </summary>
    public TxnTransit? PrepareIncrementProducerEpoch(int timeoutMs, short? expectedEpoch, long now)
    {
        var bumped = (short)(ProducerEpoch + 1);
        short epoch, last;
        if (expectedEpoch is null)
        {
            (epoch, last) = (bumped, NoProducerEpoch);
        }
        else if (ProducerEpoch == NoProducerEpoch || expectedEpoch == ProducerEpoch)
        {
            (epoch, last) = (bumped, ProducerEpoch);
        }
        else if (expectedEpoch == LastProducerEpoch)
        {
            // A retry of a successful call: the same epoch again.
            (epoch, last) = (ProducerEpoch, LastProducerEpoch);
        }
        else
        {
            return null;
        }

        return Current() with
        {
            PreviousProducerId = ProducerId,
            ProducerEpoch = epoch,
            LastProducerEpoch = last,
            TimeoutMs = timeoutMs,
            State = TransactionState.Empty,
            Partitions = [],
            StartTimestampMs = -1,
            LastUpdateTimestampMs = now,
        };
    }

    /// <summary>InitProducerId with the epoch exhausted: a new producer id at epoch 0 (Kafka's prepareProducerIdRotation).</summary>
    public TxnTransit PrepareProducerIdRotation(long newProducerId, int timeoutMs, long now, bool recordLastEpoch) => Current() with
    {
        ProducerId = newProducerId,
        PreviousProducerId = ProducerId,
        ProducerEpoch = 0,
        LastProducerEpoch = recordLastEpoch ? ProducerEpoch : NoProducerEpoch,
        TimeoutMs = timeoutMs,
        State = TransactionState.Empty,
        Partitions = [],
        StartTimestampMs = -1,
        LastUpdateTimestampMs = now,
    };

    public TxnTransit PrepareAddPartitions(IEnumerable<TopicPartition> added, long now, short clientTransactionVersion)
    {
        var starts = State is TransactionState.Empty or TransactionState.CompleteAbort or TransactionState.CompleteCommit;
        var partitions = new HashSet<TopicPartition>(Partitions);
        partitions.UnionWith(added);
        return Current() with
        {
            PreviousProducerId = ProducerId,
            State = TransactionState.Ongoing,
            Partitions = [.. partitions],
            StartTimestampMs = starts ? now : StartTimestampMs,
            LastUpdateTimestampMs = now,
            ClientTransactionVersion = clientTransactionVersion,
        };
    }

    /// <summary>PrepareCommit / PrepareAbort (Kafka's prepareAbortOrCommit): TV2 bumps the epoch at every end.</summary>
    public TxnTransit PrepareAbortOrCommit(TransactionState next, short clientTransactionVersion, long nextProducerId, long now, bool noPartitionAdded)
    {
        short epoch = ProducerEpoch, last = LastProducerEpoch;
        if (clientTransactionVersion >= 2)
        {
            // Already at the maximum an abort goes through without a bump, so a broken producer can recover.
            if (!(ProducerEpoch == short.MaxValue && next == TransactionState.PrepareAbort))
            {
                epoch = (short)(ProducerEpoch + 1);
            }

            last = ProducerEpoch;
        }

        return Current() with
        {
            PreviousProducerId = ProducerId,
            NextProducerId = nextProducerId,
            ProducerEpoch = epoch,
            LastProducerEpoch = last,
            State = next,
            StartTimestampMs = noPartitionAdded ? now : StartTimestampMs,
            LastUpdateTimestampMs = now,
            ClientTransactionVersion = clientTransactionVersion,
        };
    }

    /// <summary>CompleteCommit / CompleteAbort after the markers; TV2 moves to the next producer id when the epoch ran out.</summary>
    public TxnTransit PrepareComplete(long now)
    {
        var rotate = ClientTransactionVersion >= 2 && NextProducerId != NoProducerId;
        return Current() with
        {
            ProducerId = rotate ? NextProducerId : ProducerId,
            PreviousProducerId = ProducerId,
            ProducerEpoch = rotate ? (short)0 : ProducerEpoch,
            NextProducerId = NoProducerId,
            State = State == TransactionState.PrepareCommit ? TransactionState.CompleteCommit : TransactionState.CompleteAbort,
            Partitions = [],
            LastUpdateTimestampMs = now,
        };
    }
}

/// <summary>The values of a transaction after a transition: what is written to <c>__transaction_state</c>.</summary>
public sealed record TxnTransit(
    long ProducerId,
    long PreviousProducerId,
    long NextProducerId,
    short ProducerEpoch,
    short LastProducerEpoch,
    int TimeoutMs,
    TransactionState State,
    IReadOnlyList<TopicPartition> Partitions,
    long StartTimestampMs,
    long LastUpdateTimestampMs,
    short ClientTransactionVersion);
