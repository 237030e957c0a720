using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.CompatTests;

/// <summary>
/// The broker a test class drives: an in-process broker (<see cref="TestCluster"/>: 127.0.0.1, port 0, temp log dir),
/// or, when KAFKA_BOOTSTRAP is set, that external broker (Apache Kafka included; restart tests are skipped).
/// Broker warnings and errors are kept, so a failing test can show the broker side of the story.
/// group.initial.rebalance.delay.ms is 200 ms instead of Kafka's 3 s, so group tests do not wait 3 s per new group.
/// </summary>
public sealed class CompatBroker : IAsyncLifetime
{
    private readonly ConcurrentQueue<string> _problems = new();
    private ILoggerFactory? _loggerFactory;
    private TestCluster? _cluster;

    /// <summary>host:port the broker advertises instead of its own address (e.g. a proxy in front of it).</summary>
    public string? Advertised { get; init; }

    public static string? External => Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP") is { Length: > 0 } b ? b : null;

    public string Bootstrap => External ?? Advertised ?? $"127.0.0.1:{ListenPort}";

    /// <summary>The port the in-process broker listens on.</summary>
    public int ListenPort => _cluster?.Port(0) ?? 0;

    /// <summary>The broker's warnings and errors so far (in-process broker only), for failure messages.</summary>
    public string Problems => _problems.IsEmpty ? "(no broker warnings)" : "broker warnings:\n" + string.Join('\n', _problems.TakeLast(20));

    public async Task InitializeAsync()
    {
        if (External is not null)
        {
            return;
        }

        _loggerFactory = LoggerFactory.Create(b => b.AddProvider(new ProblemLogger(_problems)).SetMinimumLevel(LogLevel.Warning));
        _cluster = await TestCluster.StartAsync(
            extraConfig: $"""
            num.partitions=1
            auto.create.topics.enable=true
            group.initial.rebalance.delay.ms=200
            {(Advertised is null ? "" : "advertised.listeners=PLAINTEXT://" + Advertised)}
            """,
            loggerFactory: _loggerFactory);
    }

    /// <summary>Stops the broker cleanly and starts it again on the same port and data dir.</summary>
    public Task RestartAsync() =>
        (_cluster ?? throw new InvalidOperationException("cannot restart an external broker")).RestartAsync(0);

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        _loggerFactory?.Dispose();
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
