namespace KafkaCompatBroker.Storage;

/// <summary>A fetch or lookup asked for an offset outside [log start offset, log end offset] (Kafka's OFFSET_OUT_OF_RANGE).</summary>
public sealed class OffsetOutOfRangeException(string message) : Exception(message);

/// <summary>The disk failed or a log file is unusable (Kafka's KAFKA_STORAGE_ERROR).</summary>
public sealed class KafkaStorageException(string message, Exception? inner = null) : Exception(message, inner);
