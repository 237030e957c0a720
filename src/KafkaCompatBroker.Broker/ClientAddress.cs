using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// A client's address as Kafka shows it (client_host in DescribeGroups): Java's InetAddress.toString of
/// an address that was never resolved, "/" then the address — "/127.0.0.1", "/0:0:0:0:0:0:0:1" (Java
/// writes IPv6 without "::" shortening, and IPv4-mapped IPv6 addresses as IPv4). No port.
/// </summary>
internal static class ClientAddress
{
    public static string Format(EndPoint? endPoint)
    {
        if (endPoint is not IPEndPoint ip)
        {
            return endPoint?.ToString() ?? "";
        }

        var address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return "/" + address;
        }

        var bytes = address.GetAddressBytes();
        var groups = new string[8];
        for (var i = 0; i < groups.Length; i++)
        {
            groups[i] = ((bytes[2 * i] << 8) | bytes[(2 * i) + 1]).ToString("x", CultureInfo.InvariantCulture);
        }

        var text = "/" + string.Join(':', groups);
        return address.ScopeId != 0 ? text + "%" + address.ScopeId.ToString(CultureInfo.InvariantCulture) : text;
    }
}
