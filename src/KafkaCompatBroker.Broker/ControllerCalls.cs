namespace KafkaCompatBroker.Broker;

/// <summary>Synchronous calls into the controller, for the coordinators' synchronous paths (internal topics, producer ids).</summary>
internal static class ControllerCalls
{
    /// <summary>
    /// The answer of <paramref name="call"/>, blocking until it is published. The in-process controller answers on the
    /// calling thread unless another thread is publishing, which then finishes without taking the caller's locks
    /// (publishers take no coordinator lock). To go when the coordinators become asynchronous (their runtime, issue 16 item 4).
    /// </summary>
    public static T Wait<T>(ValueTask<T> call) => call.IsCompletedSuccessfully ? call.Result : call.AsTask().GetAwaiter().GetResult();
}
