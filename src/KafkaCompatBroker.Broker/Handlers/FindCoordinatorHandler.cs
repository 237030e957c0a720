using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// FindCoordinator (key 10), v0–6. ONE-REPLICA: a single node coordinates every group (key type 0) and every
/// transactional id (key type 1): the answer is this broker's endpoint on the listener the request
/// came in on. v0–3 carry one key and a top-level answer; v4+ batch <c>coordinator_keys</c> with an
/// answer per key. Any other key type fails the whole request with INVALID_REQUEST, as Kafka's
/// <c>CoordinatorType.forId</c> does. v1+ carry an error message ("NONE" on success, as Kafka's
/// <c>Errors.message()</c>). The first lookup of a group creates <c>__consumer_offsets</c>, of a transactional id
/// <c>__transaction_state</c>, as in Kafka; until the key's partition log exists and is loaded the key is answered
/// COORDINATOR_NOT_AVAILABLE (Kafka's answer while the partition has no leader), so no client reaches a coordinator
/// whose first write would fail.
/// </summary>
public sealed class FindCoordinatorHandler(BrokerContext broker) : ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse>
{
    private const short BatchedVersion = 4;
    private const string NotAvailable = "The coordinator is not available.";

    public override ApiKey Key => ApiKey.FindCoordinator;

    public override short MinVersion => 0;

    public override short MaxVersion => 6;

    protected override ValueTask<FindCoordinatorResponse?> HandleAsync(RequestContext context, FindCoordinatorRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var listenerName = TopicAdmin.ListenerFor(broker, context);
        var endpoint = broker.Settings.AdvertisedListeners.FirstOrDefault(l => l.Name == listenerName) ?? broker.Settings.AdvertisedListeners[0];
        var (error, message) = request.KeyType is 0 or 1
            ? (ErrorCode.None, "NONE")
            : (ErrorCode.InvalidRequest, $"Unknown coordinator type received: {request.KeyType}");
        if (error == ErrorCode.None && (request.KeyType == 0 ? !broker.ConsumerOffsets.EnsureCreated() : !broker.TransactionState.EnsureCreated()))
        {
            (error, message) = (ErrorCode.CoordinatorNotAvailable, NotAvailable);
        }

        var response = new FindCoordinatorResponse();
        if (version < BatchedVersion)
        {
            var (keyError, keyMessage) = ForKey(request.KeyType, request.Key, error, message);
            var ok = keyError == ErrorCode.None;
            response.ErrorCode = (short)keyError;
            response.ErrorMessage = version >= 1 ? keyMessage : null;
            response.NodeId = ok ? broker.Settings.NodeId : -1;
            response.Host = ok ? endpoint.Host : "";
            response.Port = ok ? endpoint.Port : -1;
            return ValueTask.FromResult<FindCoordinatorResponse?>(response);
        }

        foreach (var key in request.CoordinatorKeys)
        {
            var (keyError, keyMessage) = ForKey(request.KeyType, key, error, message);
            var ok = keyError == ErrorCode.None;
            response.Coordinators.Add(new FindCoordinatorResponse.Coordinator
            {
                Key = key,
                NodeId = ok ? broker.Settings.NodeId : -1,
                Host = ok ? endpoint.Host : "",
                Port = ok ? endpoint.Port : -1,
                ErrorCode = (short)keyError,
                ErrorMessage = keyMessage,
            });
        }

        return ValueTask.FromResult<FindCoordinatorResponse?>(response);
    }

    /// <summary>
    /// The request's answer, or COORDINATOR_NOT_AVAILABLE while the key's partition is not ready: its log is being
    /// created or its coordinator shard is not active. Kafka's FindCoordinator answers with the partition's leader and
    /// COORDINATOR_NOT_AVAILABLE while there is none; it never answers COORDINATOR_LOAD_IN_PROGRESS (the group APIs do).
    /// </summary>
    private (ErrorCode Error, string Message) ForKey(sbyte keyType, string key, ErrorCode error, string message) =>
        error == ErrorCode.None && (keyType == 0
            ? broker.ConsumerOffsets.IsLoading(key) || broker.GroupCoordinator.CoordinatorError(key) != ErrorCode.None
            : broker.TransactionState.IsLoading(key))
            ? (ErrorCode.CoordinatorNotAvailable, NotAvailable)
            : (error, message);
}
