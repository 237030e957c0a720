using System.Net;
using KafkaCompatBroker.Broker.Configuration;

namespace KafkaCompatBroker.Broker;

/// <summary>A listeners / advertised.listeners entry such as PLAINTEXT://:9092 or PLAINTEXT://127.0.0.1:9092.</summary>
public sealed record ListenerAddress(string Name, string Host, int Port)
{
    /// <summary>Where to bind: an empty host or 0.0.0.0 means every interface.</summary>
    public IPEndPoint BindEndPoint =>
        new(Host.Length == 0 || Host == "0.0.0.0" ? IPAddress.Any
            : Host == "localhost" ? IPAddress.Loopback
            : IPAddress.TryParse(Host, out var ip) ? ip
            : Dns.GetHostAddresses(Host)[0], Port);

    public static ListenerAddress Parse(string text, string key = "listeners")
    {
        var sep = text.IndexOf("://", StringComparison.Ordinal);
        var colon = text.LastIndexOf(':');
        if (sep <= 0 || colon <= sep + 2 || !int.TryParse(text.AsSpan(colon + 1), out var port) || port is < 0 or > 65535)
        {
            throw new ConfigException($"Invalid value {text} for configuration {key}: expected NAME://host:port");
        }

        return new ListenerAddress(text[..sep], text[(sep + 3)..colon].Trim('[', ']'), port);
    }
}
