using System.Runtime.CompilerServices;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The handler of one API. Its version range is what ApiVersions advertises, so an API cannot be
/// advertised without a handler, and every advertised version must be answered correctly.
/// </summary>
public interface IApiHandler
{
    ApiKey Key { get; }

    short MinVersion { get; }

    short MaxVersion { get; }

    /// <summary>The response, or null when none is sent (Produce with acks=0).</summary>
    ValueTask<IKafkaMessage?> HandleAsync(RequestContext context, IKafkaMessage request, CancellationToken cancellationToken);
}

/// <summary>A typed handler: <typeparamref name="TRequest"/> in, <typeparamref name="TResponse"/> out.</summary>
public abstract class ApiHandler<TRequest, TResponse> : IApiHandler
    where TRequest : IKafkaMessage
    where TResponse : IKafkaMessage
{
    public abstract ApiKey Key { get; }

    public abstract short MinVersion { get; }

    public abstract short MaxVersion { get; }

    // A pooled state machine: a handler that waits (a long-poll fetch) allocates none here.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<IKafkaMessage?> HandleAsync(RequestContext context, IKafkaMessage request, CancellationToken cancellationToken) =>
        await HandleAsync(context, (TRequest)request, cancellationToken);

    protected abstract ValueTask<TResponse?> HandleAsync(RequestContext context, TRequest request, CancellationToken cancellationToken);
}
