using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker;

/// <summary>The registered handlers by API key; it is also the source of the ApiVersions answer.</summary>
public sealed class HandlerRegistry
{
    private readonly IApiHandler?[] _byKey;

    public HandlerRegistry(IEnumerable<IApiHandler> handlers)
    {
        var list = handlers.OrderBy(h => h.Key).ToList();
        _byKey = new IApiHandler?[list.Count == 0 ? 0 : (int)list[^1].Key + 1];
        foreach (var handler in list)
        {
            var api = KafkaApis.Get(handler.Key);
            var codec = KafkaApis.CreateRequest(handler.Key);
            if (handler.MinVersion < codec.LowestSupportedVersion || handler.MaxVersion > api.MaxVersion || handler.MinVersion > handler.MaxVersion)
            {
                throw new InvalidOperationException($"{handler.Key} handler versions {handler.MinVersion}-{handler.MaxVersion} are outside what the protocol defines");
            }

            if (_byKey[(int)handler.Key] is not null)
            {
                throw new InvalidOperationException($"two handlers for {handler.Key}");
            }

            _byKey[(int)handler.Key] = handler;
        }

        Handlers = list;
    }

    public IReadOnlyList<IApiHandler> Handlers { get; }

    public IApiHandler? Find(short key) => key >= 0 && key < _byKey.Length ? _byKey[key] : null;
}
