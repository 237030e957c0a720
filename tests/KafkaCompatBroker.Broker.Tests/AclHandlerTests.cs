using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>CreateAcls / DescribeAcls / DeleteAcls answered as Kafka's AclApis answers them without an authorizer.</summary>
public sealed class AclHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task CreateAcls_EveryVersion_SecurityDisabledPerCreation(short version)
    {
        var request = new CreateAclsRequest
        {
            Creations =
            [
                new() { ResourceType = 2, ResourceName = "t", ResourcePatternType = 3, Principal = "User:alice", Host = "*", Operation = 3, PermissionType = 3 },
                new() { ResourceType = 3, ResourceName = "g", ResourcePatternType = 3, Principal = "User:bob", Host = "*", Operation = 3, PermissionType = 3 },
            ],
        };

        var response = await BrokerExchange.SendAsync<CreateAclsResponse>(_broker, ApiKey.CreateAcls, version, request);

        Assert.Equal(
            [((short)ErrorCode.SecurityDisabled, "No Authorizer is configured."), ((short)ErrorCode.SecurityDisabled, "No Authorizer is configured.")],
            response.Results.Select(r => (r.ErrorCode, r.ErrorMessage)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task DescribeAcls_EveryVersion_SecurityDisabledNoResources(short version)
    {
        var request = new DescribeAclsRequest { ResourceTypeFilter = 1, PatternTypeFilter = 1, Operation = 1, PermissionType = 1 };

        var response = await BrokerExchange.SendAsync<DescribeAclsResponse>(_broker, ApiKey.DescribeAcls, version, request);

        Assert.Equal(((short)ErrorCode.SecurityDisabled, "No Authorizer is configured on the broker"), (response.ErrorCode, response.ErrorMessage));
        Assert.Empty(response.Resources);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task DeleteAcls_EveryVersion_SecurityDisabledPerFilter(short version)
    {
        var request = new DeleteAclsRequest
        {
            Filters =
            [
                new() { ResourceTypeFilter = 1, PatternTypeFilter = 1, Operation = 1, PermissionType = 1 },
                new() { ResourceTypeFilter = 2, ResourceNameFilter = "t", PatternTypeFilter = 3, PrincipalFilter = "User:alice", Operation = 2, PermissionType = 3 },
            ],
        };

        var response = await BrokerExchange.SendAsync<DeleteAclsResponse>(_broker, ApiKey.DeleteAcls, version, request);

        Assert.Equal(2, response.FilterResults.Count);
        Assert.All(response.FilterResults, r =>
        {
            Assert.Equal(((short)ErrorCode.SecurityDisabled, "No Authorizer is configured."), (r.ErrorCode, r.ErrorMessage));
            Assert.Empty(r.MatchingAcls);
        });
    }

    [Theory]
    [InlineData(ApiKey.DescribeAcls)]
    [InlineData(ApiKey.CreateAcls)]
    [InlineData(ApiKey.DeleteAcls)]
    public void ApiVersions_AdvertisesAclApisWithKafka4Range(ApiKey key)
    {
        var handler = Assert.Single(_broker.Registry.Handlers, h => h.Key == key);

        Assert.Equal((1, 3), (handler.MinVersion, handler.MaxVersion));
    }
}
