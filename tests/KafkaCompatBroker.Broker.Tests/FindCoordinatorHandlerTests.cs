using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class FindCoordinatorHandlerTests : IDisposable
{
    private readonly TestBroker _broker = GroupFlow.NewBroker();

    public void Dispose() => _broker.Dispose();

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task FindCoordinator_SingleKeyBeforeV4_ThisBroker(short version)
    {
        var response = await BrokerExchange.SendAsync<FindCoordinatorResponse>(
            _broker, ApiKey.FindCoordinator, version, new FindCoordinatorRequest { Key = "g", KeyType = 0 });

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal((_broker.Context.Settings.NodeId, "127.0.0.1", 9092), (response.NodeId, response.Host, response.Port));
        Assert.Equal(version >= 1 ? "NONE" : "", response.ErrorMessage);
        Assert.Empty(response.Coordinators);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task FindCoordinator_TransactionKeyType_ThisBroker(short version)
    {
        var response = await BrokerExchange.SendAsync<FindCoordinatorResponse>(
            _broker, ApiKey.FindCoordinator, version, new FindCoordinatorRequest { Key = "txn-1", KeyType = 1 });

        Assert.Equal(0, response.ErrorCode);
        Assert.Equal(_broker.Context.Settings.NodeId, response.NodeId);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public async Task FindCoordinator_BatchedKeysV4Plus_AnswerPerKey(short version)
    {
        var response = await BrokerExchange.SendAsync<FindCoordinatorResponse>(
            _broker, ApiKey.FindCoordinator, version, new FindCoordinatorRequest { KeyType = 0, CoordinatorKeys = ["g1", "g2"] });

        Assert.Equal(["g1", "g2"], response.Coordinators.Select(c => c.Key));
        foreach (var coordinator in response.Coordinators)
        {
            Assert.Equal((0, "NONE"), (coordinator.ErrorCode, coordinator.ErrorMessage));
            Assert.Equal((_broker.Context.Settings.NodeId, "127.0.0.1", 9092), (coordinator.NodeId, coordinator.Host, coordinator.Port));
        }
    }

    [Fact]
    public async Task FindCoordinator_UnknownKeyTypeV3_InvalidRequest()
    {
        var response = await BrokerExchange.SendAsync<FindCoordinatorResponse>(
            _broker, ApiKey.FindCoordinator, 3, new FindCoordinatorRequest { Key = "g", KeyType = 7 });

        Assert.Equal((short)ErrorCode.InvalidRequest, response.ErrorCode);
        Assert.Equal((-1, "", -1), (response.NodeId, response.Host, response.Port));
    }

    [Fact]
    public async Task FindCoordinator_UnknownKeyTypeV4_InvalidRequestPerKey()
    {
        var response = await BrokerExchange.SendAsync<FindCoordinatorResponse>(
            _broker, ApiKey.FindCoordinator, 4, new FindCoordinatorRequest { KeyType = 7, CoordinatorKeys = ["g"] });

        var coordinator = Assert.Single(response.Coordinators);
        Assert.Equal((short)ErrorCode.InvalidRequest, coordinator.ErrorCode);
        Assert.Equal(-1, coordinator.NodeId);
    }
}
