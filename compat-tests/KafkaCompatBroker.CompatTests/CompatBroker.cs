using System.Collections;
using System.Collections.Concurrent;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.CompatTests;

/// <summary>
/// The broker a test class drives: an in-process <see cref="KafkaBroker"/> on 127.0.0.1 (port 0, temp log dir),
/// or, when KAFKA_BOOTSTRAP is set, that external broker (Apache Kafka included; restart tests are skipped).
/// Broker warnings and errors are kept, so a failing test can show the broker side of the story.
/// group.initial.rebalance.delay.ms is 200 ms instead of Kafka's 3 s, so group tests do not wait 3 s per new group.
/// </summary>
public sealed class CompatBroker : IAsyncLifetime
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-compat-" + Guid.NewGuid().ToString("N"));
    private readonly ConcurrentQueue<string> _problems = new();
    private ILoggerFactory? _loggerFactory;
    private KafkaBroker? _broker;
    private int _port;

    /// <summary>host:port the broker advertises instead of its own address (e.g. a proxy in front of it).</summary>
    public string? Advertised { get; init; }

    public static string? External => Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP") is { Length: > 0 } b ? b : null;

    public string Bootstrap => External ?? Advertised ?? $"127.0.0.1:{_port}";

    /// <summary>The port the in-process broker listens on.</summary>
    public int ListenPort => _port;

    /// <summary>The broker's warnings and errors so far (in-process broker only), for failure messages.</summary>
    public string Problems => _problems.IsEmpty ? "(no broker warnings)" : "broker warnings:\n" + string.Join('\n', _problems.TakeLast(20));

    public async Task InitializeAsync()
    {
        if (External is not null)
        {
            return;
        }

        _loggerFactory = LoggerFactory.Create(b => b.AddProvider(new ProblemLogger(_problems)).SetMinimumLevel(LogLevel.Warning));
        await StartAsync(0);
    }

    private async Task StartAsync(int port)
    {
        var config = BrokerConfig.Load(
            $"""
            process.roles=broker,controller
            node.id=1
            listeners=PLAINTEXT://127.0.0.1:{port}
            log.dirs={_dir}
            num.partitions=1
            auto.create.topics.enable=true
            group.initial.rebalance.delay.ms=200
            {(Advertised is null ? "" : "advertised.listeners=PLAINTEXT://" + Advertised)}
            """,
            [],
            new Hashtable());
        _broker = await KafkaBroker.StartAsync(config, _loggerFactory!);
        _port = _broker.Ports[0];
    }

    /// <summary>Stops the broker cleanly and starts it again on the same port and data dir.</summary>
    public async Task RestartAsync()
    {
        if (_broker is null)
        {
            throw new InvalidOperationException("cannot restart an external broker");
        }

        await _broker.DisposeAsync();
        _broker = null;
        await StartAsync(_port);
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }

        _loggerFactory?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class ProblemLogger(ConcurrentQueue<string> problems) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                problems.Enqueue($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " — " + exception.GetType().Name + ": " + exception.Message)}");
            }
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>A fact that only runs against the in-process broker (it restarts the broker).</summary>
public sealed class InProcessFactAttribute : FactAttribute
{
    public InProcessFactAttribute()
    {
        if (CompatBroker.External is not null)
        {
            Skip = "restarts the broker: not possible with KAFKA_BOOTSTRAP";
        }
    }
}
