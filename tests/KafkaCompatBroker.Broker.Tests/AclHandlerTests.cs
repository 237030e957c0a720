using System.Buffers;
using System.IO.Pipelines;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>CreateAcls / DescribeAcls / DeleteAcls answered as Kafka's AclApis answers them without an authorizer.</summary>
[Trait(Categories.Name, Categories.Unit)]
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

    /// <summary>Every version, with each of resource type, pattern type, operation and permission type in turn UNKNOWN (0).</summary>
    public static TheoryData<short, int> UnknownElements()
    {
        var data = new TheoryData<short, int>();
        for (short version = 1; version <= 3; version++)
        {
            for (var element = 0; element < 4; element++)
            {
                data.Add(version, element);
            }
        }

        return data;
    }

    /// <summary>Valid codes (TOPIC, LITERAL, WRITE, ALLOW) with the <paramref name="element"/>-th set to UNKNOWN.</summary>
    private static sbyte[] WithUnknown(int element)
    {
        sbyte[] codes = [2, 3, 4, 3];
        codes[element] = 0;
        return codes;
    }

    [Theory]
    [MemberData(nameof(UnknownElements))]
    public async Task DescribeAcls_UnknownElement_ClosesTheConnectionUnanswered(short version, int element)
    {
        var c = WithUnknown(element);
        var request = new DescribeAclsRequest { ResourceTypeFilter = c[0], PatternTypeFilter = c[1], Operation = c[2], PermissionType = c[3] };

        Assert.Equal(RequestOutcome.Close, await SendExpectingNoAnswerAsync(ApiKey.DescribeAcls, version, request));
    }

    [Theory]
    [MemberData(nameof(UnknownElements))]
    public async Task CreateAcls_UnknownElementInAnyCreation_ClosesTheConnectionUnanswered(short version, int element)
    {
        var c = WithUnknown(element);
        var request = new CreateAclsRequest
        {
            Creations =
            [
                new() { ResourceType = 2, ResourceName = "t", ResourcePatternType = 3, Principal = "User:alice", Host = "*", Operation = 4, PermissionType = 3 },
                new() { ResourceType = c[0], ResourceName = "t", ResourcePatternType = c[1], Principal = "User:bob", Host = "*", Operation = c[2], PermissionType = c[3] },
            ],
        };

        Assert.Equal(RequestOutcome.Close, await SendExpectingNoAnswerAsync(ApiKey.CreateAcls, version, request));
    }

    [Theory]
    [MemberData(nameof(UnknownElements))]
    public async Task DeleteAcls_UnknownElementInAnyFilter_ClosesTheConnectionUnanswered(short version, int element)
    {
        var c = WithUnknown(element);
        var request = new DeleteAclsRequest
        {
            Filters =
            [
                new() { ResourceTypeFilter = 1, PatternTypeFilter = 1, Operation = 1, PermissionType = 1 },
                new() { ResourceTypeFilter = c[0], PatternTypeFilter = c[1], Operation = c[2], PermissionType = c[3] },
            ],
        };

        Assert.Equal(RequestOutcome.Close, await SendExpectingNoAnswerAsync(ApiKey.DeleteAcls, version, request));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task CreateAcls_AnyResourceOrOperation_StillSecurityDisabled(short version)
    {
        // Kafka's CreateAclsRequest refuses only UNKNOWN; ANY is checked by an authorizer, and there is none.
        var request = new CreateAclsRequest
        {
            Creations = [new() { ResourceType = 1, ResourceName = "t", ResourcePatternType = 1, Principal = "User:alice", Host = "*", Operation = 1, PermissionType = 1 }],
        };

        var response = await BrokerExchange.SendAsync<CreateAclsResponse>(_broker, ApiKey.CreateAcls, version, request);

        Assert.Equal((short)ErrorCode.SecurityDisabled, Assert.Single(response.Results).ErrorCode);
    }

    private async Task<RequestOutcome> SendExpectingNoAnswerAsync(ApiKey key, short version, IKafkaMessage body)
    {
        var frame = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = 7, ClientId = "test" }
            .Write(frame, KafkaApis.RequestHeaderVersion(key, version));
        body.Write(frame, version);
        var pipe = new Pipe();
        var outcome = await _broker.Dispatcher.ProcessAsync(_broker.Connection, new ReadOnlySequence<byte>(frame.WrittenMemory), pipe.Writer, CancellationToken.None);
        await pipe.Writer.CompleteAsync();
        var written = await pipe.Reader.ReadAsync();
        Assert.True(written.Buffer.IsEmpty, "an answer was written");
        pipe.Reader.AdvanceTo(written.Buffer.End);
        return outcome;
    }
}
