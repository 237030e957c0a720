using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class DescribeClusterHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private Task<DescribeClusterResponse> DescribeAsync(short version, DescribeClusterRequest request) =>
        BrokerExchange.SendAsync<DescribeClusterResponse>(_broker, ApiKey.DescribeCluster, version, request);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task DescribeCluster_EveryVersion_ReturnsClusterAndBroker(short version)
    {
        var response = await DescribeAsync(version, new DescribeClusterRequest());

        Assert.Equal(0, response.ErrorCode);
        Assert.Null(response.ErrorMessage);
        Assert.Equal("test-cluster-id-000000", response.ClusterId);
        Assert.Equal(1, response.ControllerId);
        Assert.Equal(1, response.EndpointType);
        Assert.Equal(int.MinValue, response.ClusterAuthorizedOperations);
        var broker = Assert.Single(response.Brokers);
        Assert.Equal((1, "127.0.0.1", 9092, false), (broker.BrokerId, broker.Host, broker.Port, broker.IsFenced));
    }

    [Fact]
    public async Task DescribeCluster_AuthorizedOperationsRequested_ReturnsClusterBitfield()
    {
        var response = await DescribeAsync(0, new DescribeClusterRequest { IncludeClusterAuthorizedOperations = true });
        Assert.Equal(8096, response.ClusterAuthorizedOperations);
    }

    [Fact]
    public async Task DescribeCluster_ControllerEndpoints_ReturnsThisNode()
    {
        _broker.Metadata.RegisterBroker(2, KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "10.0.0.2", 9092, 0)]);

        var response = await DescribeAsync(1, new DescribeClusterRequest { EndpointType = 2 });

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal(2, response.EndpointType);
        Assert.Equal(1, Assert.Single(response.Brokers).BrokerId);
    }

    [Fact]
    public async Task DescribeCluster_UnknownEndpointType_ReturnsUnsupportedEndpointType()
    {
        var response = await DescribeAsync(1, new DescribeClusterRequest { EndpointType = 5 });

        Assert.Equal((short)ErrorCode.UnsupportedEndpointType, response.ErrorCode);
        Assert.Equal("Unsupported endpoint type 5", response.ErrorMessage);
        Assert.Empty(response.Brokers);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    public async Task DescribeCluster_FencedBroker_ListedOnlyWhenRequested(bool includeFenced, int expectedBrokers)
    {
        _broker.Metadata.RegisterBroker(2, KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "10.0.0.2", 9092, 0)], fenced: true);

        var response = await DescribeAsync(2, new DescribeClusterRequest { IncludeFencedBrokers = includeFenced });

        Assert.Equal(expectedBrokers, response.Brokers.Count);
        if (includeFenced)
        {
            Assert.True(Assert.Single(response.Brokers, b => b.BrokerId == 2).IsFenced);
        }
    }
}
