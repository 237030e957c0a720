using System.Net;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Network;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The broker's Kafka listeners, one Kestrel host each (same request processor and network options), so that a
/// listener can be bound or closed on its own when the dynamic listeners config changes (Kafka's
/// DynamicListenerConfig.reconfigure: SocketServer.addListeners / removeListeners). Changes run one at a time off
/// the metadata thread; a listener that cannot bind at run time is logged and the listeners in place stay. One
/// <see cref="ConnectionIdleSweeper"/> closes the idle connections of every listener (connections.max.idle.ms, which
/// listener.name.&lt;listener&gt;.connections.max.idle.ms overrides); it is read when a listener binds, not changed at run time.
/// </summary>
internal sealed class ListenerHosts : IAsyncDisposable
{
    private readonly BrokerConfig _config;
    private readonly ILoggerFactory _loggerFactory;
    private readonly IKafkaRequestProcessor _processor;
    private readonly ILogger _log;
    private readonly ConnectionIdleSweeper _idleSweeper;
    private readonly SemaphoreSlim _changing = new(1, 1);
    private readonly Lock _hostsLock = new();
    private List<Listener> _hosts = [];
    private IReadOnlyList<ListenerAddress>? _wanted;
    private bool _stopped;

    private ListenerHosts(BrokerConfig config, ILoggerFactory loggerFactory, IKafkaRequestProcessor processor, TimeProvider time)
    {
        _config = config;
        _loggerFactory = loggerFactory;
        _processor = processor;
        _log = loggerFactory.CreateLogger<ListenerHosts>();
        _idleSweeper = new ConnectionIdleSweeper(
            time,
            ConnectionIdleSweeper.PeriodFor(config.AllListenerLongs("connections.max.idle.ms")), // listeners bound later included
            loggerFactory.CreateLogger<ConnectionIdleSweeper>());
    }

    /// <summary>The bound port of each listener bound at start-up, in the order of the listeners config.</summary>
    public IReadOnlyList<int> StartupPorts { get; private set; } = [];

    /// <summary>Binds every listener; one that cannot bind throws <see cref="BrokerStartupException"/> (what was bound is closed).</summary>
    public static async Task<ListenerHosts> StartAsync(
        BrokerConfig config, BrokerListeners listeners, ILoggerFactory loggerFactory, IKafkaRequestProcessor processor, TimeProvider time, CancellationToken cancellationToken)
    {
        var hosts = new ListenerHosts(config, loggerFactory, processor, time);
        try
        {
            for (var i = 0; i < listeners.Bind.Count; i++)
            {
                try
                {
                    hosts._hosts.Add(await hosts.StartListenerAsync(listeners.Bind[i], listeners.BindEndPoints[i], cancellationToken));
                }
                catch (IOException e)
                {
                    throw BindFailure($"{listeners.Bind[i].Name}://{listeners.BindEndPoints[i]}", e);
                }
            }
        }
        catch
        {
            await hosts.DisposeAsync();
            throw;
        }

        hosts.StartupPorts = [.. hosts._hosts.Select(h => h.Port)];
        return hosts;
    }

    /// <summary>The bound port of the listener named <paramref name="name"/>, or null when no such listener is open.</summary>
    public int? Port(string name)
    {
        lock (_hostsLock)
        {
            return _hosts.Find(h => h.Address.Name == name)?.Port;
        }
    }

    /// <summary>Asks for <paramref name="wanted"/> to be the open listeners; returns at once, the change runs in the background.</summary>
    public void Reconcile(IReadOnlyList<ListenerAddress> wanted)
    {
        Volatile.Write(ref _wanted, wanted);
        _ = Task.Run(ApplyWantedAsync);
    }

    private async Task ApplyWantedAsync()
    {
        await _changing.WaitAsync();
        try
        {
            var wanted = Volatile.Read(ref _wanted);
            if (wanted is null || _stopped)
            {
                return;
            }

            List<Listener> current;
            lock (_hostsLock)
            {
                current = _hosts;
            }

            var removed = current.Where(h => !wanted.Contains(h.Address)).ToList();
            var added = new List<Listener>();
            var freed = new List<Listener>();
            foreach (var address in wanted.Where(w => !current.Exists(h => h.Address == w)))
            {
                // A listener that moves frees its old address first, so it can bind the same port on another interface.
                if (removed.Find(h => h.Address.Name == address.Name) is { } moved && moved.Address.Port == address.Port)
                {
                    await StopListenerAsync(moved);
                    freed.Add(moved);
                }

                try
                {
                    added.Add(await StartListenerAsync(address, address.BindEndPoint, CancellationToken.None));
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    _log.LogError("Cannot listen on {Listener}: {Reason}; the listeners stay as they were", $"{address.Name}://{address.Host}:{address.Port}", BindFailureReason(e));
                    await RollBackAsync(current, added, freed);
                    return;
                }
            }

            lock (_hostsLock)
            {
                _hosts = [.. current.Where(h => !removed.Contains(h)), .. added];
            }

            foreach (var listener in removed)
            {
                await StopListenerAsync(listener);
            }

            foreach (var listener in added)
            {
                _log.LogInformation("Listening on {Listener}", $"{listener.Address.Name}://{new IPEndPoint(listener.Address.BindEndPoint.Address, listener.Port)}");
            }
        }
        finally
        {
            _changing.Release();
        }
    }

    /// <summary>Closes what a failed change bound and binds again what it freed, so the old listener set stays.</summary>
    private async Task RollBackAsync(List<Listener> current, List<Listener> added, List<Listener> freed)
    {
        foreach (var listener in added)
        {
            await StopListenerAsync(listener);
        }

        var hosts = current.Where(h => !freed.Contains(h)).ToList();
        foreach (var listener in freed)
        {
            try
            {
                hosts.Add(await StartListenerAsync(listener.Address, new IPEndPoint(listener.Address.BindEndPoint.Address, listener.Port), CancellationToken.None));
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                _log.LogError("Cannot listen on {Listener} again: {Reason}", $"{listener.Address.Name}://{listener.Address.Host}:{listener.Port}", BindFailureReason(e));
            }
        }

        lock (_hostsLock)
        {
            _hosts = hosts;
        }
    }

    /// <summary>Graceful stop of every listener: stop accepting, finish in-flight requests, close the connections.</summary>
    public async Task StopAsync()
    {
        await _changing.WaitAsync();
        try
        {
            _stopped = true;
            List<Listener> hosts;
            lock (_hostsLock)
            {
                hosts = _hosts;
            }

            await Task.WhenAll(hosts.Select(h => h.App.StopAsync()));
        }
        finally
        {
            _changing.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        foreach (var host in _hosts)
        {
            await host.App.DisposeAsync();
        }

        _idleSweeper.Dispose();
    }

    private static async Task StopListenerAsync(Listener listener)
    {
        await listener.App.StopAsync();
        await listener.App.DisposeAsync();
    }

    private async Task<Listener> StartListenerAsync(ListenerAddress address, IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        var app = BuildWebHost(address.Name, endPoint);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var bound = app.Services.GetRequiredService<IServer>().BoundPorts();
        return new Listener(address, app, address.Port != 0 || bound.Count == 0 ? address.Port : bound[0]);
    }

    private WebApplication BuildWebHost(string listener, IPEndPoint endPoint)
    {
        // Kestrel is only the socket layer here: no content root or appsettings from the working directory, and
        // none of the web host's own lines (hosting environment, "Now listening on: http://...") in the broker's log.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(_loggerFactory));
        builder.Logging.SetMinimumLevel(LogLevel.Trace); // the broker's own logger factory decides
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.None);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None); // a failed start is reported once, by the caller
        builder.Services.AddSingleton(new NetworkOptions
        {
            ListenerName = listener,
            SocketRequestMaxBytes = _config.GetInt("socket.request.max.bytes"),
            SendFile = _config.GetBool("socket.sendfile.enable"),
            ConnectionsMaxIdleMs = _config.GetListenerLong(listener, "connections.max.idle.ms"),
        });
        builder.Services.AddSingleton(_idleSweeper);
        builder.Services.AddSingleton<IMemoryPoolFactory<byte>, ReceiveBlockPoolFactory>();
        builder.Services.AddSingleton(_processor);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenKafka(endPoint));
        return builder.Build();
    }

    /// <summary>One line naming the listener that could not bind and why.</summary>
    private static BrokerStartupException BindFailure(string listener, Exception error) =>
        new($"cannot listen on {listener}: {BindFailureReason(error)}", error);

    private static string BindFailureReason(Exception error)
    {
        var inner = error;
        while (inner.InnerException is not null && inner is not AddressInUseException)
        {
            inner = inner.InnerException;
        }

        return inner is AddressInUseException
            ? "the address is already in use (is another broker running?)"
            : inner.Message.TrimEnd('.');
    }

    private sealed record Listener(ListenerAddress Address, WebApplication App, int Port);

    /// <summary>Hands the web host's loggers to the broker's logger factory (which the caller owns and disposes).</summary>
    private sealed class ForwardingLoggerProvider(ILoggerFactory factory) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => factory.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }
}
