using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// Applies the dynamic broker configs the components read outside the topic defaults, as Kafka's reconfigurables do
/// (LogCleaner, DynamicProducerStateManagerConfig): when the image's BROKER configs change, it pushes the values in
/// effect to the log manager (producer.id.expiration.ms, log.cleaner.backoff.ms), the cleaner (producer.id.expiration.ms),
/// the transaction coordinator (transaction.partition.verification.enable) and the listener hosts (listeners, as
/// DynamicListenerConfig.reconfigure adds and removes listeners). A metadata publisher (Kafka's DynamicConfigPublisher):
/// installed once the broker is loaded, it applies the image it finds (the initial delta), so values stored before a
/// restart hold from the start, and then only deltas that change BROKER configs.
/// </summary>
internal sealed class DynamicConfigPublisher : IMetadataPublisher, IDisposable
{
    private readonly BrokerContext _broker;
    private readonly LogCleaner? _cleaner;
    private readonly ListenerHosts? _listeners;
    private readonly Lock _applying = new();
    private IReadOnlyDictionary<string, string>? _clusterDefaults;
    private IReadOnlyDictionary<string, string>? _perBroker;
    private string? _listenersValue;

    public DynamicConfigPublisher(BrokerContext broker, LogCleaner? cleaner, ListenerHosts? listeners)
    {
        _broker = broker;
        _cleaner = cleaner;
        _listeners = listeners;
    }

    public string Name => nameof(DynamicConfigPublisher);

    /// <summary>Sets the log manager's and the cleaner's dynamic values from <paramref name="effective"/> (also before the logs start).</summary>
    public static void ApplyToLogs(LogManager logs, LogCleaner? cleaner, BrokerConfig effective)
    {
        var expiration = effective.GetInt("producer.id.expiration.ms");
        logs.ProducerIdExpirationMs = expiration;
        logs.CleanerBackoffMs = effective.GetLong("log.cleaner.backoff.ms");
        if (cleaner is not null)
        {
            cleaner.ProducerIdExpirationMs = expiration;
        }
    }

    public void Dispose() => _broker.Metadata.Loader.Remove(this);

    public void OnMetadataUpdate(MetadataDelta delta, ClusterImage newImage)
    {
        if (delta.IsInitial || delta.BrokerConfigsChanged)
        {
            Apply(newImage);
        }
    }

    private void Apply(ClusterImage image)
    {
        lock (_applying)
        {
            var clusterDefaults = DynamicBrokerConfig.ClusterDefaults(image);
            var perBroker = DynamicBrokerConfig.PerBroker(image, _broker.Settings.NodeId);
            if (ReferenceEquals(clusterDefaults, _clusterDefaults) && ReferenceEquals(perBroker, _perBroker))
            {
                return;
            }

            (_clusterDefaults, _perBroker) = (clusterDefaults, perBroker);
            var effective = _broker.Settings.Config.WithDynamic(clusterDefaults, perBroker);
            ApplyToLogs(_broker.Logs, _cleaner, effective);
            _broker.TransactionCoordinator.PartitionVerificationEnable = effective.GetBool("transaction.partition.verification.enable");
            if (_listeners is not null && effective.GetString("listeners") is { } listeners && listeners != _listenersValue)
            {
                // Binding happens off this thread (never under this lock); the value was checked when it was stored.
                _listenersValue = listeners;
                _listeners.Reconcile([.. effective.GetList("listeners").Select(l => ListenerAddress.Parse(l))]);
            }
        }
    }
}
