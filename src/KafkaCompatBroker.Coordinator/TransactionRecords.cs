using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.TransactionCoordinatorRecords;

namespace KafkaCompatBroker.Coordinator;

/// <summary>
/// The records of <c>__transaction_state</c> in Kafka's format (transaction-coordinator-records): the key is
/// TransactionLogKey v0 behind an int16 0 (the coordinator record type); the value is TransactionLogValue
/// behind its int16 version — v1 (flexible, with previous/next producer id and the client's transaction
/// version as tagged fields) when the cluster runs transaction.version ≥ 1, else v0, as Kafka writes them.
/// An Empty transaction is written with a null partition list.
/// </summary>
public static class TransactionRecords
{
    public static byte[] Key(string transactionalId) => GroupRecords.Versioned(new TransactionLogKey { TransactionalId = transactionalId }, 0);

    public static byte[] Value(TxnTransit transit, short transactionVersionLevel)
    {
        List<TransactionLogValue.PartitionsSchema>? partitions = null;
        if (transit.State != TransactionState.Empty)
        {
            partitions = [.. transit.Partitions
                .GroupBy(p => p.Topic, StringComparer.Ordinal)
                .Select(g => new TransactionLogValue.PartitionsSchema { Topic = g.Key, PartitionIds = [.. g.Select(p => p.Partition)] })];
        }

        var version = (short)(transactionVersionLevel >= 1 ? 1 : 0);
        var value = new TransactionLogValue
        {
            ProducerId = transit.ProducerId,
            ProducerEpoch = transit.ProducerEpoch,
            TransactionTimeoutMs = transit.TimeoutMs,
            TransactionStatus = (sbyte)transit.State,
            TransactionPartitions = partitions,
            TransactionLastUpdateTimestampMs = transit.LastUpdateTimestampMs,
            TransactionStartTimestampMs = transit.StartTimestampMs,
        };
        if (version >= 1)
        {
            value.PreviousProducerId = transit.PreviousProducerId;
            value.NextProducerId = transit.NextProducerId;
            value.ClientTransactionVersion = transit.ClientTransactionVersion;
        }

        return GroupRecords.Versioned(value, version);
    }

    /// <summary>Reads a key; throws <see cref="KafkaProtocolException"/> when it is not a TransactionLogKey.</summary>
    public static string ReadKey(ReadOnlySpan<byte> key)
    {
        if (key.Length < 2 || key[0] != 0 || key[1] != 0)
        {
            throw new KafkaProtocolException("unknown __transaction_state key version");
        }

        return GroupRecords.Read<TransactionLogKey>(key).TransactionalId;
    }

    /// <summary>Reads a value into a transaction's state (the last epoch is not persisted, as in Kafka).</summary>
    public static TransactionMetadata ReadValue(string transactionalId, ReadOnlySpan<byte> value)
    {
        var decoded = GroupRecords.Read<TransactionLogValue>(value);
        var state = (TransactionState)decoded.TransactionStatus;
        if (!Enum.IsDefined(state))
        {
            throw new KafkaProtocolException($"unknown transaction state {decoded.TransactionStatus}");
        }

        var metadata = new TransactionMetadata(transactionalId)
        {
            ProducerId = decoded.ProducerId,
            PreviousProducerId = decoded.PreviousProducerId,
            NextProducerId = decoded.NextProducerId,
            ProducerEpoch = decoded.ProducerEpoch,
            TimeoutMs = decoded.TransactionTimeoutMs,
            State = state,
            StartTimestampMs = decoded.TransactionStartTimestampMs,
            LastUpdateTimestampMs = decoded.TransactionLastUpdateTimestampMs,
            ClientTransactionVersion = decoded.ClientTransactionVersion,
        };
        if (state != TransactionState.Empty && decoded.TransactionPartitions is { } topics)
        {
            foreach (var topic in topics)
            {
                foreach (var partition in topic.PartitionIds)
                {
                    metadata.Partitions.Add(new TopicPartition(topic.Topic, partition));
                }
            }
        }

        return metadata;
    }
}
