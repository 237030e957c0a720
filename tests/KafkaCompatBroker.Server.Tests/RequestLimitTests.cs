using System.Diagnostics;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>Runs alone: the tests measure the allocations of the whole process.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessMeasuringCollection
{
    public const string Name = "measures the whole process";
}

/// <summary>
/// Issue 14 item 1, over a real socket: one small request must never exhaust the broker. Counts from the wire
/// that would size the broker's work are refused at once, and the process allocates next to nothing doing so.
/// </summary>
[Collection(ProcessMeasuringCollection.Name)]
[Trait(Categories.Name, Categories.Integration)]
public sealed class RequestLimitTests : IAsyncLifetime
{
    /// <summary>
    /// The 44-byte frame of the issue: CreateTopics v7, one topic "fz-valid" with num_partitions 0x57000001,
    /// replication factor 1, validate_only. Before the fix the broker placed 1.46 billion partitions (~300 MB/s).
    /// </summary>
    private const string HugePartitionCountFrame = "000000280013000700003039000466757a7a000209667a2d76616c6964570000010001010100000013880100";

    /// <summary>What answering may allocate in the whole process (buffers, the response): far below one list per partition.</summary>
    private const long SmallAllocation = 8 * 1024 * 1024;

    private TestCluster? _cluster;

    private KafkaBroker Broker => _cluster?.Broker ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync();

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    private async Task<(CreateTopicsResponse Response, TimeSpan Elapsed, long Allocated)> ExchangeAsync(RawConnection connection, byte[] frame, int correlationId)
    {
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var clock = Stopwatch.StartNew();
        await connection.SendAsync(frame);
        var (correlation, response) = await connection.ReadResponseAsync<CreateTopicsResponse>(headerVersion: 1, version: 7);
        var elapsed = clock.Elapsed;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        Assert.Equal(correlationId, correlation);
        return (response, elapsed, allocated);
    }

    [Fact]
    public async Task CreateTopics_IssueFrameWithHugePartitionCount_PolicyViolationAtOnceWithoutAllocating()
    {
        var frame = Convert.FromHexString(HugePartitionCountFrame);
        Assert.Equal(44, frame.Length);
        await using var connection = await RawConnection.OpenAsync("127.0.0.1", Broker.Ports[0]);

        // The first exchange also compiles the code on its path; the second is measured.
        var (first, _, _) = await ExchangeAsync(connection, frame, 12345);
        var (response, elapsed, allocated) = await ExchangeAsync(connection, frame, 12345);

        foreach (var answer in new[] { first, response })
        {
            var topic = Assert.Single(answer.Topics);
            Assert.Equal("fz-valid", topic.Name);
            Assert.Equal((short)ErrorCode.PolicyViolation, topic.ErrorCode);
            Assert.Equal("Excessively large number of partitions per request.", topic.ErrorMessage);
        }

        Assert.True(elapsed < TimeSpan.FromMilliseconds(100), $"answered in {elapsed.TotalMilliseconds} ms");
        Assert.InRange(allocated, 0, SmallAllocation);
        Assert.Null(Broker.Context.Metadata.Image.GetTopic("fz-valid"));
    }

    [Fact]
    public async Task CreateTopics_HugePartitionCountNotValidateOnly_PolicyViolationAndNothingCreated()
    {
        var frame = Convert.FromHexString(HugePartitionCountFrame);
        frame[^2] = 0; // validate_only = false
        await using var connection = await RawConnection.OpenAsync("127.0.0.1", Broker.Ports[0]);

        var (response, _, allocated) = await ExchangeAsync(connection, frame, 12345);

        Assert.Equal((short)ErrorCode.PolicyViolation, Assert.Single(response.Topics).ErrorCode);
        Assert.InRange(allocated, 0, SmallAllocation);
        Assert.Null(Broker.Context.Metadata.Image.GetTopic("fz-valid"));
    }
}
