using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>Elections and resignations of <c>__consumer_offsets</c> partitions load and unload the group coordinator's shards.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class GroupCoordinatorElectionsTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    [Fact]
    public async Task OnResignationThenOnElection_NewerEpoch_UnloadsThenReloadsTheShardWithItsOffsets()
    {
        var groups = _broker.Context.GroupCoordinator;
        var elections = new GroupCoordinatorElections(groups, NullLogger.Instance);
        var partition = groups.PartitionFor("g");
        DataPath.CreateTopic(_broker, "t");
        Assert.Equal(ErrorCode.None, groups.CommitOffsets("g", [new OffsetToCommit(new TopicPartition("t", 0), 42, -1, null)]));

        elections.OnResignation(partition, 1);
        await elections.Drained;
        Assert.Equal(CoordinatorShardState.NotHosted, groups.ShardState(partition));
        Assert.Equal(ErrorCode.NotCoordinator, groups.CoordinatorError("g"));

        elections.OnElection(partition, 2);
        await elections.Drained;
        Assert.Equal((CoordinatorShardState.Active, 2), (groups.ShardState(partition), groups.HostedEpoch(partition)));
        Assert.True(groups.Offsets.TryGet("g", new TopicPartition("t", 0), out var committed));
        Assert.Equal(42, committed.Offset);
    }

    [Fact]
    public async Task OnElection_EpochAlreadyHosted_KeepsTheLoadedShard()
    {
        var groups = _broker.Context.GroupCoordinator;
        var elections = new GroupCoordinatorElections(groups, NullLogger.Instance);
        var partition = groups.PartitionFor("g");
        var epoch = groups.HostedEpoch(partition);
        Assert.NotNull(epoch);
        var before = elections.Drained;

        elections.OnElection(partition, epoch.Value);

        // Nothing was handed over: the queue is the one before the call.
        Assert.Same(before, elections.Drained);
        await elections.Drained;
        Assert.Equal(CoordinatorShardState.Active, groups.ShardState(partition));
    }
}
