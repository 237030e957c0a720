using System.Net;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Broker.Handlers;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Server;
using KafkaCompatBroker.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
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

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o =>
{
    o.SingleLine = true;
    o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
});
using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true));
var log = loggerFactory.CreateLogger("KafkaCompatBroker");
foreach (var warning in config.Warnings)
{
    log.LogWarning("{Warning}", warning);
}

string clusterId;
try
{
    clusterId = MetaProperties.EnsureFormatted(config.LogDirs, config.GetInt("node.id"), config.GetString("cluster.id"));
}
catch (ConfigException e)
{
    log.LogCritical("Cannot start: {Problem}", e.Message);
    return 1;
}

var logManager = new LogManager(
    new LogManagerOptions
    {
        LogDirs = config.LogDirs,
        NumRecoveryThreadsPerDataDir = config.GetInt("num.recovery.threads.per.data.dir"),
        LogRetentionCheckIntervalMs = config.GetLong("log.retention.check.interval.ms"),
        LogCleanerEnable = config.GetBool("log.cleaner.enable"),
        LogCleanerBackoffMs = config.GetLong("log.cleaner.backoff.ms"),
        Cleaner = new LogCleaner().MaybeClean,
    },
    LogConfig.Default,
    loggerFactory.CreateLogger<LogManager>());
logManager.Startup();

HandlerRegistry? registry = null;
IApiHandler[] handlers = [new ApiVersionsHandler(() => registry!)];
registry = new HandlerRegistry(handlers);
builder.Services.AddSingleton(registry);
builder.Services.AddSingleton<IKafkaRequestProcessor, RequestDispatcher>();
builder.Services.AddSingleton(new NetworkOptions { SocketRequestMaxBytes = config.GetInt("socket.request.max.bytes") });
builder.WebHost.ConfigureKestrel(kestrel =>
{
    foreach (var listener in config.GetList("listeners"))
    {
        kestrel.ListenKafka(ListenerAddress.Parse(listener).EndPoint);
    }
});

var app = builder.Build();
app.Lifetime.ApplicationStopped.Register(logManager.Shutdown);
log.LogInformation("Broker {NodeId} of cluster {ClusterId} starting; log dirs {LogDirs}", config.GetInt("node.id"), clusterId, string.Join(',', config.LogDirs));
await app.RunAsync();
return 0;

/// <summary>A listeners entry such as PLAINTEXT://:9092 or PLAINTEXT://127.0.0.1:9092.</summary>
internal sealed record ListenerAddress(string Name, string Host, int Port)
{
    public IPEndPoint EndPoint => new(Host.Length == 0 || Host == "0.0.0.0" ? IPAddress.Any : IPAddress.Parse(Host == "localhost" ? "127.0.0.1" : Host), Port);

    public static ListenerAddress Parse(string text)
    {
        var sep = text.IndexOf("://", StringComparison.Ordinal);
        var colon = text.LastIndexOf(':');
        if (sep <= 0 || colon <= sep + 2 || !int.TryParse(text.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
        {
            throw new ConfigException($"Invalid value {text} for configuration listeners: expected NAME://host:port");
        }

        return new ListenerAddress(text[..sep], text[(sep + 3)..colon].Trim('[', ']'), port);
    }
}
