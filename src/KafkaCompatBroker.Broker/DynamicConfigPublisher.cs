using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// Applies the dynamic broker configs the components read outside the topic defaults, as Kafka's reconfigurables do
/// (LogCleaner, DynamicProducerStateManagerConfig, DynamicListenerConfig): when the image's BROKER configs change, it
/// pushes the values in effect to the log manager (producer.id.expiration.ms, log.cleaner.backoff.ms), the cleaner
/// (producer.id.expiration.ms), the transaction coordinator (transaction.partition.verification.enable) and the
/// broker settings (advertised.listeners, then the broker's registration). Built once the broker is loaded, it
/// applies the image it finds, so values stored before a restart hold from the start.
/// </summary>
internal sealed class DynamicConfigPublisher : IDisposable
{
    private readonly BrokerContext _broker;
    private readonly LogCleaner? _cleaner;
    private readonly IReadOnlyList<int> _boundPorts;
    private readonly ILogger _logger;
    private readonly Lock _applying = new();
    private readonly Lock _registering = new();
    private IReadOnlyDictionary<string, string>? _clusterDefaults;
    private IReadOnlyDictionary<string, string>? _perBroker;

    /// <param name="boundPorts">The ports each listener bound, in listeners order (an advertised port 0 takes its listener's).</param>
    public DynamicConfigPublisher(BrokerContext broker, LogCleaner? cleaner, IReadOnlyList<int> boundPorts)
    {
        _broker = broker;
        _cleaner = cleaner;
        _boundPorts = boundPorts;
        _logger = broker.LoggerFactory.CreateLogger<DynamicConfigPublisher>();
        _broker.Metadata.ImageChanged += OnImageChanged;
        Apply(_broker.Metadata.Image);
    }

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

    /// <summary>
    /// The advertised listeners <paramref name="effective"/> gives, or null (logged) when they do not fit the listeners
    /// bound at start-up: the broker then keeps advertising what it did, as Kafka keeps its config when a dynamic
    /// update cannot be applied.
    /// </summary>
    public static IReadOnlyList<AdvertisedListener>? ResolveAdvertised(BrokerConfig effective, IReadOnlyList<int> boundPorts, ILogger logger)
    {
        try
        {
            return BrokerListeners.FromConfig(effective).Resolve(boundPorts);
        }
        catch (ConfigException e)
        {
            logger.LogWarning("The dynamic advertised.listeners cannot be applied: {Reason}", e.Message);
            return null;
        }
    }

    public void Dispose() => _broker.Metadata.ImageChanged -= OnImageChanged;

    private void OnImageChanged(object? sender, ImageChangedEventArgs e) => Apply(e.Current);

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
            if (ResolveAdvertised(effective, _boundPorts, _logger) is { } advertised && !advertised.SequenceEqual(_broker.Settings.AdvertisedListeners))
            {
                _broker.Settings = _broker.Settings with { AdvertisedListeners = advertised };
                _logger.LogInformation("Advertising {Listeners}", string.Join(",", advertised.Select(a => $"{a.Name}://{a.Host}:{a.Port}")));
            }

            if (!Registered(image))
            {
                // The registration is a metadata commit, which cannot run inside this image change's notification.
                ThreadPool.QueueUserWorkItem(_ => Register(), null);
            }
        }
    }

    /// <summary>Whether this broker's registration lists the advertised listeners (Metadata and DescribeCluster answer from it).</summary>
    private bool Registered(ClusterImage image) =>
        image.Brokers.TryGetValue(_broker.Settings.NodeId, out var registration)
        && registration.Endpoints.Select(e => new AdvertisedListener(e.Listener, e.Host, e.Port)).SequenceEqual(_broker.Settings.AdvertisedListeners);

    /// <summary>Registers this broker again with its advertised listeners (a new incarnation, as a restart would).</summary>
    private void Register()
    {
        lock (_registering)
        {
            try
            {
                var settings = _broker.Settings;
                if (Registered(_broker.Metadata.Image))
                {
                    return;
                }

                var result = _broker.Metadata.RegisterBroker(
                    settings.NodeId, KafkaUuid.NewRandom(), [.. settings.AdvertisedListeners.Select(a => new BrokerEndpoint(a.Name, a.Host, a.Port, 0))], settings.Rack);
                if (result.Error != ErrorCode.None)
                {
                    _logger.LogWarning("Could not register the new advertised listeners: {Error} {Message}", result.Error, result.ErrorMessage);
                }
            }
            catch (ObjectDisposedException)
            {
                // the broker is stopping
            }
        }
    }
}
