namespace KafkaCompatBroker.Records;

/// <summary>Compression codec of a record batch (attribute bits 0-2).</summary>
public enum CompressionType : byte
{
    None = 0,
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

/// <summary>Meaning of a batch's timestamps (attribute bit 3).</summary>
public enum TimestampType : byte
{
    CreateTime = 0,
    LogAppendTime = 1,
}
