namespace KafkaCompatBroker.Storage;

/// <summary>Who appends: decides offset assignment and which batches are acceptable.</summary>
public enum AppendOrigin
{
    /// <summary>A producer: offsets assigned, control batches refused, max.message.bytes enforced, LogAppendTime applied.</summary>
    Client,

    /// <summary>The broker's own coordinators (offsets, transaction markers): offsets assigned, control batches allowed.</summary>
    Coordinator,

    /// <summary>A follower copying the leader: offsets and timestamps kept as they are.</summary>
    Replication,
}
