using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>An <see cref="ILoggerProvider"/> that keeps every formatted log line, so tests can assert on them.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();

    public IReadOnlyCollection<string> Lines => _lines;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    /// <summary>Waits (the line may be logged just after the socket closes) for a line containing every fragment.</summary>
    public async Task<string> WaitForLineAsync(params string[] fragments)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            foreach (var line in _lines)
            {
                if (fragments.All(f => line.Contains(f, StringComparison.Ordinal)))
                {
                    return line;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"no log line contains [{string.Join(", ", fragments)}]; lines:\n{string.Join('\n', _lines)}");
            }

            await Task.Delay(20);
        }
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner._lines.Enqueue($"{logLevel} {category}: {formatter(state, exception)}");
            }
        }
    }
}
