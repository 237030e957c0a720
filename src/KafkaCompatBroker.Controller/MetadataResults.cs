using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Controller;

/// <summary>The outcome of a metadata operation: NONE, or a Kafka error code with a message for the response.</summary>
public readonly record struct MetadataResult(ErrorCode Error, string? ErrorMessage)
{
    public static readonly MetadataResult Success = new(ErrorCode.None, null);

    public bool IsSuccess => Error == ErrorCode.None;
}

/// <summary>CreateTopic's outcome: the new topic's id (zero for validateOnly or on error), its partition count and replication factor.</summary>
public sealed record CreateTopicResult(ErrorCode Error, string? ErrorMessage, KafkaUuid TopicId, int NumPartitions, short ReplicationFactor)
{
    public bool IsSuccess => Error == ErrorCode.None;

    internal static CreateTopicResult Failed(ErrorCode error, string message) => new(error, message, KafkaUuid.Zero, -1, -1);
}

/// <summary>DeleteTopic's outcome: the deleted topic's name and id when it existed.</summary>
public sealed record DeleteTopicResult(ErrorCode Error, string? ErrorMessage, string? Name, KafkaUuid TopicId)
{
    public bool IsSuccess => Error == ErrorCode.None;
}

/// <summary>RegisterBroker's outcome: the broker epoch (the offset of its registration record).</summary>
public sealed record RegisterBrokerResult(ErrorCode Error, string? ErrorMessage, long BrokerEpoch)
{
    public bool IsSuccess => Error == ErrorCode.None;
}

/// <summary>IncrementalAlterConfigs operation types (the wire values of ConfigOperation).</summary>
public enum AlterConfigOpType : byte
{
    Set = 0,
    Delete = 1,
    Append = 2,
    Subtract = 3,
}

/// <summary>One IncrementalAlterConfigs change: a key, an operation and (for SET/APPEND/SUBTRACT) a value.</summary>
public sealed record AlterConfigOp(string Name, AlterConfigOpType Op, string? Value);

/// <summary>A block of producer ids handed to one broker: [<see cref="FirstProducerId"/>, first + size).</summary>
public readonly record struct ProducerIdBlock(int BrokerId, long FirstProducerId, int Size)
{
    /// <summary>Kafka's block size (ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE).</summary>
    public const int DefaultSize = 1000;

    public long NextBlockFirstId => FirstProducerId + Size;
}

/// <summary>The outcome of <see cref="IClusterController.AllocateProducerIdsAsync"/>.</summary>
public readonly record struct ProducerIdBlockResult(ErrorCode Error, string? ErrorMessage, ProducerIdBlock Block);
