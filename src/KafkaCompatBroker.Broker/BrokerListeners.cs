using System.Net;
using System.Net.Sockets;
using KafkaCompatBroker.Broker.Configuration;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The listeners a broker binds and the addresses it advertises, resolved as Kafka does
/// (KafkaConfig.effectiveAdvertisedBrokerListeners, ListenerInfo): advertised.listeners when set, else
/// listeners, without the controller.listener.names; every advertised name must be a listener; 0.0.0.0 cannot
/// be advertised; an empty host is advertised as this machine's canonical host name, and port 0 as the port
/// the listener of the same name actually bound.
/// </summary>
internal sealed class BrokerListeners
{
    private BrokerListeners(IReadOnlyList<ListenerAddress> bind, IReadOnlyList<IPEndPoint> bindEndPoints, IReadOnlyList<ListenerAddress> advertised)
    {
        Bind = bind;
        BindEndPoints = bindEndPoints;
        Advertised = advertised;
    }

    /// <summary>The listeners config, in order.</summary>
    public IReadOnlyList<ListenerAddress> Bind { get; }

    /// <summary>Where each of <see cref="Bind"/> listens.</summary>
    public IReadOnlyList<IPEndPoint> BindEndPoints { get; }

    /// <summary>The advertised listeners as configured (ports may still be 0).</summary>
    public IReadOnlyList<ListenerAddress> Advertised { get; }

    /// <summary>Parses and checks listeners and advertised.listeners; a problem is a <see cref="ConfigException"/> naming the key.</summary>
    public static BrokerListeners FromConfig(BrokerConfig config)
    {
        var bind = config.GetList("listeners").Select(l => ListenerAddress.Parse(l)).ToList();
        if (bind.Count == 0)
        {
            throw new ConfigException("Invalid value for configuration listeners: at least one listener is required");
        }

        if (bind.GroupBy(l => l.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
        {
            throw new ConfigException($"Invalid value {config.GetString("listeners")} for configuration listeners: the listener name {duplicate.Key} is used more than once");
        }

        var controllerNames = config.GetList("controller.listener.names").ToHashSet(StringComparer.Ordinal);
        var advertised = (config.IsSet("advertised.listeners")
                ? config.GetList("advertised.listeners").Select(l => ListenerAddress.Parse(l, "advertised.listeners"))
                : bind)
            .Where(l => !controllerNames.Contains(l.Name))
            .ToList();
        if (advertised.Count == 0)
        {
            throw new ConfigException("There is no listener to advertise to clients: every listener is a controller listener (controller.listener.names)");
        }

        if (advertised.Select(a => a.Name).Where(n => !bind.Exists(l => l.Name == n)).ToList() is [_, ..] unknown)
        {
            throw new ConfigException(
                $"advertised.listeners names listeners that listeners does not define: {string.Join(",", unknown)} (listeners defines {string.Join(",", bind.Select(l => l.Name))})");
        }

        if (advertised.Exists(a => a.Host == "0.0.0.0"))
        {
            throw new ConfigException(
                "advertised.listeners cannot advertise 0.0.0.0, an address no client can connect to: set advertised.listeners to the host name or address clients should use"
                + (config.IsSet("advertised.listeners") ? "" : " (without advertised.listeners, listeners is advertised)"));
        }

        return new BrokerListeners(bind, bind.Select(ResolveBindEndPoint).ToList(), advertised);
    }

    private static IPEndPoint ResolveBindEndPoint(ListenerAddress listener)
    {
        try
        {
            return listener.BindEndPoint;
        }
        catch (SocketException e)
        {
            throw new ConfigException($"Invalid value {listener.Name}://{listener.Host}:{listener.Port} for configuration listeners: cannot resolve the host {listener.Host}: {e.Message}");
        }
    }

    /// <summary>The advertised listeners once bound: ports 0 replaced by the bound port of the listener of the same name, empty hosts by the host name.</summary>
    public IReadOnlyList<AdvertisedListener> Resolve(IReadOnlyList<int> boundPorts)
    {
        string? hostName = null;
        return
        [
            .. Advertised.Select(a => new AdvertisedListener(
                a.Name,
                a.Host.Length > 0 ? a.Host : hostName ??= CanonicalHostName(),
                a.Port != 0 ? a.Port : BoundPort(a.Name, boundPorts))),
        ];
    }

    /// <summary>"NAME://address:port (advertised as NAME://host:port)" for each listener, for the start-up line.</summary>
    public string Describe(IReadOnlyList<int> boundPorts, IReadOnlyList<AdvertisedListener> advertised) =>
        string.Join(", ", Bind.Select((l, i) =>
        {
            var bound = $"{l.Name}://{new IPEndPoint(BindEndPoints[i].Address, BoundPort(l.Name, boundPorts))}";
            return advertised.FirstOrDefault(a => a.Name == l.Name) is { } a ? $"{bound} (advertised as {a.Name}://{a.Host}:{a.Port})" : bound;
        }));

    private int BoundPort(string name, IReadOnlyList<int> boundPorts)
    {
        var index = 0;
        while (Bind[index].Name != name)
        {
            index++;
        }

        return Bind[index].Port != 0 || index >= boundPorts.Count ? Bind[index].Port : boundPorts[index];
    }

    /// <summary>What Java's InetAddress.getLocalHost().getCanonicalHostName() gives: the host name resolved to its full name.</summary>
    private static string CanonicalHostName()
    {
        var name = Dns.GetHostName();
        try
        {
            return Dns.GetHostEntry(name).HostName;
        }
        catch (SocketException)
        {
            return name;
        }
    }
}
