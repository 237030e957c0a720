using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace KafkaCompatBroker.Network;

public static class KafkaListenerExtensions
{
    /// <summary>Adds a Kafka listener on <paramref name="endPoint"/> (port 0 picks a free port).</summary>
    public static void ListenKafka(this KestrelServerOptions kestrel, IPEndPoint endPoint) =>
        kestrel.Listen(endPoint, listen => listen.UseConnectionHandler<KafkaConnectionHandler>());

    /// <summary>The ports the server actually bound (after start), e.g. to learn what port 0 became.</summary>
    public static IReadOnlyList<int> BoundPorts(this IServer server) =>
        server.Features.Get<IServerAddressesFeature>()?.Addresses
            .Select(a => new Uri(a).Port)
            .ToList() ?? [];
}
