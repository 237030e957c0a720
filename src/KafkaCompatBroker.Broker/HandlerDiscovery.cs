using System.Reflection;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// Builds the handler registry from every handler class in this assembly (each takes a
/// <see cref="BrokerContext"/>), so adding Handlers/&lt;Api&gt;Handler.cs is all it takes to serve and advertise an API.
/// </summary>
public static class HandlerDiscovery
{
    public static HandlerRegistry CreateRegistry(BrokerContext broker)
    {
        var handlers = typeof(HandlerDiscovery).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IApiHandler).IsAssignableFrom(t) && t.GetConstructor([typeof(BrokerContext)]) is not null)
            .Select(t => (IApiHandler)t.GetConstructor([typeof(BrokerContext)])!.Invoke([broker]))
            .ToList();
        var registry = new HandlerRegistry(handlers);
        broker.Registry = registry;
        return registry;
    }
}
