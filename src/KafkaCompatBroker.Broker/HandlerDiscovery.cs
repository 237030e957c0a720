namespace KafkaCompatBroker.Broker;

/// <summary>
/// Builds the handler registry from every handler class in this assembly (each takes a
/// <see cref="BrokerContext"/>, or nothing when its answer does not depend on the broker), so adding
/// Handlers/&lt;Api&gt;Handler.cs is all it takes to serve and advertise an API.
/// </summary>
public static class HandlerDiscovery
{
    public static HandlerRegistry CreateRegistry(BrokerContext broker)
    {
        var handlers = typeof(HandlerDiscovery).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IApiHandler).IsAssignableFrom(t))
            .Select(t => t.GetConstructor([typeof(BrokerContext)]) is { } withContext
                ? (IApiHandler)withContext.Invoke([broker])
                : t.GetConstructor(Type.EmptyTypes) is { } parameterless ? (IApiHandler)parameterless.Invoke(null) : null)
            .OfType<IApiHandler>()
            .ToList();
        var registry = new HandlerRegistry(handlers);
        broker.Registry = registry;
        return registry;
    }
}
