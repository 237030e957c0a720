using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.CompilerServices;
using KafkaCompatBroker.Network;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// The listeners' request processor while the broker starts: connections may arrive as soon as a listener binds,
/// and their requests wait here until <see cref="Open"/> hands over the dispatcher; after <see cref="Fail"/>
/// (start-up failed) they are answered by closing the connection.
/// </summary>
internal sealed class StartupGate(ILogger logger) : IKafkaRequestProcessor
{
    private readonly TaskCompletionSource _decided = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private RequestDispatcher? _dispatcher;

    public void Open(RequestDispatcher dispatcher)
    {
        _dispatcher = dispatcher;
        _decided.TrySetResult();
    }

    public void Fail() => _decided.TrySetResult();

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // every request passes here: no state machine allocated when it waits
    public async ValueTask<RequestOutcome> ProcessAsync(KafkaConnection connection, ReadOnlySequence<byte> frame, PipeWriter output, CancellationToken cancellationToken)
    {
        if (!_decided.Task.IsCompleted)
        {
            await _decided.Task.WaitAsync(cancellationToken);
        }

        if (Volatile.Read(ref _dispatcher) is not { } dispatcher)
        {
            logger.LogWarning("Closing {Connection}: the broker failed to start", connection);
            return RequestOutcome.Close;
        }

        return await dispatcher.ProcessAsync(connection, frame, output, cancellationToken);
    }
}
