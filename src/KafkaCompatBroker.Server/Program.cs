using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Server;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

// Kafka's own convention: kafka-server-start.sh <server.properties> [--override key=value ...]
const string Usage = """
    usage: KafkaCompatBroker.Server <server.properties> [--override key=value ...]
           KafkaCompatBroker.Server --version | --help

    Starts a broker with the configuration in <server.properties> (Kafka's keys and defaults; see
    config/server.properties). Each value can also be set by an environment variable KAFKA_<KEY>, the key in
    capitals with dots as underscores (KAFKA_LOG_DIRS=/var/lib/kcb), and by --override key=value, which wins.
    SIGTERM or Ctrl+C stops the broker cleanly.

      --override key=value   set a config, after the file and the environment (repeatable)
      --version              print the version and exit
      --help                 print this help and exit
    """;

switch (args)
{
    case ["--help" or "-h"]:
        Console.Out.WriteLine(Usage);
        return 0;
    case ["--version"]:
        Console.Out.WriteLine($"KafkaCompatBroker {KafkaBroker.Version}");
        return 0;
}

using var loggerFactory = LoggerFactory.Create(b => b
    .AddConsole(o =>
    {
        o.FormatterName = BrokerLogFormatter.FormatterName;
        o.LogToStandardErrorThreshold = LogLevel.Error;
    })
    .AddConsoleFormatter<BrokerLogFormatter, ConsoleFormatterOptions>());
var log = loggerFactory.CreateLogger("KafkaCompatBroker.Server");

KafkaBroker broker;
try
{
    broker = await KafkaBroker.StartAsync(LoadConfig(args), loggerFactory);
}
catch (Exception e)
{
    // One line naming the cause, exit code 1: a start-up failure is the user's to fix, not a crash to debug.
    log.LogCritical("Cannot start: {Cause}", StartupFailure(e));
    return 1;
}

// Ctrl+C / SIGTERM: stop accepting, finish in-flight requests, flush and close the logs.
var stopping = new TaskCompletionSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stopping.TrySetResult();
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => stopping.TrySetResult();
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stopping.TrySetResult();
});
await stopping.Task;
log.LogInformation("Shutting down");
await broker.DisposeAsync();
log.LogInformation("Shut down cleanly");
return 0;

static BrokerConfig LoadConfig(string[] args)
{
    if (args.Length == 0 || args[0].StartsWith('-'))
    {
        throw new ConfigException(args.Length == 0
            ? "no properties file given (usage: KafkaCompatBroker.Server <server.properties> [--override key=value ...])"
            : $"unexpected argument '{args[0]}': the first argument is the properties file (see --help)");
    }

    var overrides = new List<string>();
    for (var i = 1; i < args.Length; i++)
    {
        if (args[i] != "--override" || i + 1 >= args.Length)
        {
            throw new ConfigException($"unexpected argument '{args[i]}': expected --override key=value (see --help)");
        }

        overrides.Add(args[++i]);
    }

    var path = args[0];
    string text;
    try
    {
        text = File.ReadAllText(path);
    }
    catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
    {
        throw new ConfigException($"the properties file {path} does not exist");
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        throw new ConfigException(Directory.Exists(path) ? $"{path} is a directory, not a properties file" : $"cannot read the properties file {path}: {e.Message}");
    }

    try
    {
        return BrokerConfig.Load(text, overrides, Environment.GetEnvironmentVariables());
    }
    catch (ConfigException e) when (e.Message.StartsWith("line ", StringComparison.Ordinal))
    {
        throw new ConfigException($"{path}, {e.Message}");
    }
}

// The cause in one line. Config, storage, file and bind failures carry their own message (a file error names the
// path); anything else is named by its type.
static string StartupFailure(Exception e)
{
    var message = e is ConfigException or KafkaStorageException or BrokerStartupException or IOException or UnauthorizedAccessException
        ? e.Message
        : $"unexpected error ({e.GetType().Name}): {e.Message}";
    return message.ReplaceLineEndings(" ");
}
