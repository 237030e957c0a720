using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Handlers;

/// <summary>
/// DescribeCluster (key 60), v0–2, as Kafka's AuthHelper.computeDescribeClusterResponse answers it: cluster id,
/// controller id (this node: Kafka reports an alive broker), the brokers with their endpoint on the client's
/// listener and rack, and the cluster authorized operations (the full bitfield: no authorizer) when requested.
/// v1 endpoint_type: 1 = brokers; 2 = controllers, answered with this node too, since it is a combined
/// broker/controller reachable on the same listener; any other value is UNSUPPORTED_ENDPOINT_TYPE with
/// "Unsupported endpoint type N". v2: fenced brokers are listed (is_fenced = true) only when
/// include_fenced_brokers asks for them.
/// </summary>
public sealed class DescribeClusterHandler(BrokerContext broker) : ApiHandler<DescribeClusterRequest, DescribeClusterResponse>
{
    private const sbyte BrokerEndpoints = 1;
    private const sbyte ControllerEndpoints = 2;

    public override ApiKey Key => ApiKey.DescribeCluster;

    public override short MinVersion => 0;

    public override short MaxVersion => 2;

    protected override ValueTask<DescribeClusterResponse?> HandleAsync(RequestContext context, DescribeClusterRequest request, CancellationToken cancellationToken)
    {
        var version = context.ApiVersion;
        var endpointType = version >= 1 ? request.EndpointType : BrokerEndpoints;
        if (endpointType is not (BrokerEndpoints or ControllerEndpoints))
        {
            return ValueTask.FromResult<DescribeClusterResponse?>(new DescribeClusterResponse
            {
                ErrorCode = (short)(version == 0 ? ErrorCode.InvalidRequest : ErrorCode.UnsupportedEndpointType),
                ErrorMessage = $"Unsupported endpoint type {endpointType}",
            });
        }

        var image = broker.Metadata.Image;
        var listener = TopicAdmin.ListenerFor(broker, context);
        var response = new DescribeClusterResponse
        {
            ClusterId = image.ClusterId,
            ControllerId = broker.Settings.NodeId,
            EndpointType = version >= 1 ? endpointType : BrokerEndpoints,
            ClusterAuthorizedOperations = request.IncludeClusterAuthorizedOperations ? TopicAdmin.ClusterAuthorizedOperations : TopicAdmin.AuthorizedOperationsNotRequested,
        };

        var includeFenced = version >= 2 && request.IncludeFencedBrokers;
        foreach (var registration in image.Brokers.Values)
        {
            if (endpointType == ControllerEndpoints && registration.BrokerId != broker.Settings.NodeId)
            {
                continue;
            }

            if ((registration.Fenced && !includeFenced) || TopicAdmin.EndpointOf(registration, listener) is not { } endpoint)
            {
                continue;
            }

            response.Brokers.Add(new DescribeClusterResponse.DescribeClusterBroker
            {
                BrokerId = registration.BrokerId,
                Host = endpoint.Host,
                Port = endpoint.Port,
                Rack = registration.Rack,
                IsFenced = version >= 2 && registration.Fenced,
            });
        }

        return ValueTask.FromResult<DescribeClusterResponse?>(response);
    }
}
