namespace KafkaCompatBroker.Controller;

/// <summary>
/// Receives the committed metadata from <see cref="MetadataLoader"/> (Kafka's MetadataPublisher): every delta once, in
/// log order, starting with an initial delta from the empty image when it is installed. Called with no lock of the
/// controller or the loader held, on the thread that publishes (a request thread whose operation committed, or the
/// thread installing publishers). A publisher may call the controller, but must not block on the answer (it is
/// published after this call returns), and must not take a coordinator lock. An exception is logged; the other
/// publishers still run.
/// </summary>
public interface IMetadataPublisher
{
    /// <summary>A short name for log lines.</summary>
    string Name { get; }

    /// <summary>Applies <paramref name="delta"/>, whose result is <paramref name="newImage"/> (already what readers see).</summary>
    void OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage);
}
