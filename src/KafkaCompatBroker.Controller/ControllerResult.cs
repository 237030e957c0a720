namespace KafkaCompatBroker.Controller;

/// <summary>
/// What one controller operation decided (Kafka's ControllerResult): the records to commit, as one batch, and
/// the answer to give once they are committed. No records: nothing to write (a failure, validate-only, no change).
/// </summary>
public readonly record struct ControllerResult<T>(IReadOnlyList<MetadataRecord> Records, T Response)
{
    /// <summary>An answer that writes nothing.</summary>
    public static ControllerResult<T> Of(T response) => new([], response);
}
