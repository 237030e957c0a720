using System.Buffers;
using System.Buffers.Binary;

namespace KafkaCompatBroker.Records;

/// <summary>Type in a control record's key (Kafka's ControlRecordType).</summary>
public enum ControlRecordType : short
{
    Abort = 0,
    Commit = 1,
    LeaderChange = 2,
    SnapshotHeader = 3,
    SnapshotFooter = 4,
    KRaftVersion = 5,
    KRaftVoters = 6,
}

/// <summary>A transaction marker: the single record of a control batch that commits or aborts a transaction.</summary>
public readonly record struct EndTransactionMarker(ControlRecordType Type, int CoordinatorEpoch);

/// <summary>
/// Control records. Key: int16 version (0) + int16 type. End-transaction value: int16 version (0) + int32 coordinatorEpoch.
/// Control batches carry attributes control + transactional and are written by the broker, never by clients.
/// </summary>
public static class ControlRecords
{
    public const int KeySize = 4;
    public const int EndTransactionValueSize = 6;

    /// <summary>Writes a COMMIT or ABORT marker batch for a producer; returns the batch size.</summary>
    public static int WriteEndTransactionBatch(
        IBufferWriter<byte> output,
        ControlRecordType type,
        long producerId,
        short producerEpoch,
        int coordinatorEpoch,
        long timestamp,
        long baseOffset = 0,
        int partitionLeaderEpoch = -1)
    {
        if (type is not (ControlRecordType.Commit or ControlRecordType.Abort))
        {
            throw new ArgumentOutOfRangeException(nameof(type), type, "an end-transaction marker is COMMIT or ABORT");
        }

        Span<byte> key = stackalloc byte[KeySize];
        Span<byte> value = stackalloc byte[EndTransactionValueSize];
        WriteKey(key, type);
        BinaryPrimitives.WriteInt16BigEndian(value, 0);
        BinaryPrimitives.WriteInt32BigEndian(value[2..], coordinatorEpoch);

        using var builder = new RecordBatchBuilder(CompressionType.None, producerId, producerEpoch, baseSequence: -1, isTransactional: true)
        {
            IsControl = true,
            BaseOffset = baseOffset,
            PartitionLeaderEpoch = partitionLeaderEpoch,
        };
        builder.Append(timestamp, key, value);
        return builder.WriteTo(output);
    }

    /// <summary>Writes a control record key (version 0).</summary>
    public static void WriteKey(Span<byte> destination, ControlRecordType type)
    {
        BinaryPrimitives.WriteInt16BigEndian(destination, 0);
        BinaryPrimitives.WriteInt16BigEndian(destination[2..], (short)type);
    }

    /// <summary>Reads the type from a control record key; throws INVALID_RECORD if the key is too short or its version negative.</summary>
    public static ControlRecordType ReadType(ReadOnlySpan<byte> key)
    {
        if (key.Length < KeySize)
        {
            RecordsException.ThrowInvalidRecord($"control record key needs {KeySize} bytes, found {key.Length}");
        }

        var version = BinaryPrimitives.ReadInt16BigEndian(key);
        if (version < 0)
        {
            RecordsException.ThrowInvalidRecord($"invalid control record key version {version}");
        }

        return (ControlRecordType)BinaryPrimitives.ReadInt16BigEndian(key[2..]);
    }

    /// <summary>Reads an end-transaction marker from the record of a control batch.</summary>
    public static EndTransactionMarker ReadEndTransactionMarker(in Record record)
    {
        if (record.IsKeyNull || record.IsValueNull)
        {
            RecordsException.ThrowInvalidRecord("control record with a null key or value");
        }

        var type = ReadType(record.Key);
        if (type is not (ControlRecordType.Commit or ControlRecordType.Abort))
        {
            RecordsException.ThrowInvalidRecord($"control record type {type} is not an end-transaction marker");
        }

        var value = record.Value;
        if (value.Length < EndTransactionValueSize)
        {
            RecordsException.ThrowInvalidRecord($"end transaction marker value needs {EndTransactionValueSize} bytes, found {value.Length}");
        }

        var version = BinaryPrimitives.ReadInt16BigEndian(value);
        if (version < 0)
        {
            RecordsException.ThrowInvalidRecord($"invalid end transaction marker version {version}");
        }

        return new EndTransactionMarker(type, BinaryPrimitives.ReadInt32BigEndian(value[2..]));
    }
}
