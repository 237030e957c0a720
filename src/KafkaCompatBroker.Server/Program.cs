using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using Microsoft.Extensions.Logging;

// usage: KafkaCompatBroker.Server <server.properties> [--override key=value ...]   (Kafka's own convention)
if (args.Length == 0 || args[0].StartsWith('-'))
{
    Console.Error.WriteLine("usage: KafkaCompatBroker.Server <server.properties> [--override key=value ...]");
    return 2;
}

BrokerConfig config;
try
{
    var overrides = new List<string>();
    for (var i = 1; i < args.Length; i++)
    {
        if (args[i] != "--override" || i + 1 >= args.Length)
        {
            throw new ConfigException($"unexpected argument '{args[i]}': expected --override key=value");
        }

        overrides.Add(args[++i]);
    }

    config = BrokerConfig.Load(File.ReadAllText(args[0]), overrides, Environment.GetEnvironmentVariables());
}
catch (Exception e) when (e is ConfigException or IOException)
{
    Console.Error.WriteLine($"Cannot start: {e.Message}");
    return 1;
}

using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
}));
var log = loggerFactory.CreateLogger("KafkaCompatBroker");

KafkaBroker broker;
try
{
    broker = await KafkaBroker.StartAsync(config, loggerFactory);
}
catch (ConfigException e)
{
    log.LogCritical("Cannot start: {Problem}", e.Message);
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
