using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace KafkaCompatBroker.Server;

/// <summary>
/// One line per entry in the layout of Kafka's own log4j lines, "[2026-12-07 14:52:45,934] INFO message (LogManager)",
/// so the broker's log reads like a Kafka broker's. An exception's stack trace follows on its own lines.
/// </summary>
internal sealed class BrokerLogFormatter() : ConsoleFormatter(FormatterName)
{
    public const string FormatterName = "kafka";

    public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
    {
        var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
        var category = logEntry.Category;
        var shortCategory = category[(category.LastIndexOf('.') + 1)..];
        textWriter.Write('[');
        textWriter.Write(DateTime.Now.ToString("yyyy-MM-dd HH:mm:ss,fff", System.Globalization.CultureInfo.InvariantCulture));
        textWriter.Write("] ");
        textWriter.Write(logEntry.LogLevel switch
        {
            LogLevel.Trace => "TRACE",
            LogLevel.Debug => "DEBUG",
            LogLevel.Information => "INFO",
            LogLevel.Warning => "WARN",
            LogLevel.Error => "ERROR",
            _ => "FATAL",
        });
        textWriter.Write(' ');
        textWriter.Write(message);
        textWriter.Write(" (");
        textWriter.Write(shortCategory);
        textWriter.WriteLine(')');
        if (logEntry.Exception is { } exception)
        {
            textWriter.WriteLine(exception.ToString());
        }
    }
}
