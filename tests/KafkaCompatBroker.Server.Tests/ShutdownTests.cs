using System.Buffers;
using System.Collections;
using System.Collections.Concurrent;
using System.Diagnostics;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>
/// Shutdown does not wait for parked requests (issue 14, item 3): a long-poll Fetch parked for 10 minutes is
/// answered with what it has and the broker stops within 2 s, in process and as the real executable on SIGTERM; a
/// JoinGroup waiting for its rebalance is answered NOT_COORDINATOR.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ShutdownTests : IDisposable
{
    private static readonly TimeSpan StopBudget = TimeSpan.FromSeconds(2);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-shutdown-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task DisposeAsync_FetchParkedForTenMinutes_AnswersItAndStopsWithinTwoSeconds()
    {
        var config = BrokerConfig.Load($"node.id=1\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs={_dir}\n", [], new Hashtable());
        var broker = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance);
        Task<(int CorrelationId, FetchResponse Body)> answer;
        await using var connection = await RawConnection.OpenAsync("127.0.0.1", broker.Ports[0]);
        try
        {
            await connection.CreateTopicByMetadataAsync("parked");
            await connection.SendLongPollFetchAsync("parked", maxWaitMs: 600_000, correlationId: 11);
            answer = connection.ReadResponseAsync<FetchResponse>(headerVersion: 0, version: 11);
            await WaitUntilParkedAsync(answer);
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }

        var stopwatch = Stopwatch.StartNew();
        await broker.DisposeAsync();
        stopwatch.Stop();

        Assert.True(stopwatch.Elapsed < StopBudget, $"the broker took {stopwatch.Elapsed} to stop with a parked fetch");
        var (correlationId, body) = await answer;
        Assert.Equal(11, correlationId);
        Assert.Equal(0, body.ErrorCode);
        var partition = Assert.Single(Assert.Single(body.Responses).Partitions);
        Assert.Equal(0, partition.ErrorCode);
        Assert.Equal(0, partition.Records?.Length ?? 0);
    }

    [Fact]
    public async Task DisposeAsync_ProducesInFlight_EveryAcknowledgedRecordIsThereAfterRestart()
    {
        var config = BrokerConfig.Load($"node.id=1\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs={_dir}\n", [], new Hashtable());
        var broker = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance);
        var acknowledged = new ConcurrentBag<long>();
        var producers = new List<Task>();
        try
        {
            await using (var setup = await RawConnection.OpenAsync("127.0.0.1", broker.Ports[0]))
            {
                await setup.CreateTopicByMetadataAsync("durable");
            }

            // Producers send (acks=all) and wait for each answer until the broker closes their connection.
            for (var i = 0; i < 8; i++)
            {
                producers.Add(ProduceUntilClosedAsync(broker.Ports[0], acknowledged));
            }

            await Eventually.UntilAsync(
                () =>
                {
                    Assert.True(producers.TrueForAll(p => !p.IsCompleted), "a producer stopped before the shutdown");
                    return acknowledged.Count >= 200;
                },
                "the producers have 200 acknowledged requests");
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }

        var stopwatch = Stopwatch.StartNew();
        await broker.DisposeAsync();
        stopwatch.Stop();
        await Task.WhenAll(producers);

        Assert.True(stopwatch.Elapsed < StopBudget, $"the broker took {stopwatch.Elapsed} to stop while producers were sending");
        await using var restarted = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance);
        var log = restarted.Context.Replicas.GetLog("durable", 0);
        Assert.NotNull(log);
        Assert.True(acknowledged.Max() < log.LogEndOffset, $"offset {acknowledged.Max()} was acknowledged, the log ends at {log.LogEndOffset}");
        Assert.Equal(acknowledged.Count, acknowledged.Distinct().Count());
    }

    /// <summary>Produces one-record batches on one connection, each after the previous answer, until the connection closes.</summary>
    private static async Task ProduceUntilClosedAsync(int port, ConcurrentBag<long> acknowledged)
    {
        await using var connection = await RawConnection.OpenAsync("127.0.0.1", port);
        for (var correlationId = 0; ; correlationId++)
        {
            var records = new ArrayBufferWriter<byte>();
            using (var batch = new RecordBatchBuilder())
            {
                batch.Append(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), "k"u8, "v"u8);
                batch.WriteTo(records);
            }

            var request = new ProduceRequest { Acks = -1, TimeoutMs = 30_000 };
            request.TopicData.Add(new ProduceRequest.TopicProduceData
            {
                Name = "durable",
                PartitionData = [new ProduceRequest.PartitionProduceData { Index = 0, Records = new ReadOnlySequence<byte>(records.WrittenMemory) }],
            });
            ProduceResponse body;
            try
            {
                await connection.SendAsync(RawConnection.Frame(RawConnection.Request(Protocol.ApiKey.Produce, 7, request, correlationId)));
                (_, body) = await connection.ReadResponseAsync<ProduceResponse>(headerVersion: 0, version: 7);
            }
            catch (Exception e) when (e is IOException or EndOfStreamException)
            {
                return;
            }

            var partition = Assert.Single(Assert.Single(body.Responses).PartitionResponses);
            Assert.Equal(0, partition.ErrorCode);
            acknowledged.Add(partition.BaseOffset);
        }
    }

    [Fact]
    public async Task DisposeAsync_JoinGroupParkedForTenMinutes_AnswersItAndStopsWithinTwoSeconds()
    {
        var config = BrokerConfig.Load(
            $"node.id=1\nlisteners=PLAINTEXT://127.0.0.1:0\nlog.dirs={_dir}\ngroup.initial.rebalance.delay.ms=600000\n", [], new Hashtable());
        var broker = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance);
        Task<(int CorrelationId, JoinGroupResponse Body)> answer;
        await using var connection = await RawConnection.OpenAsync("127.0.0.1", broker.Ports[0]);
        try
        {
            await connection.FindGroupCoordinatorAsync("parked-group");

            // The first member of a new group waits group.initial.rebalance.delay.ms (capped by its rebalance
            // timeout) for others; while __consumer_offsets is still loading the join is refused at once, and retried.
            while (true)
            {
                await connection.SendAsync(RawConnection.Frame(RawConnection.Request(
                    Protocol.ApiKey.JoinGroup,
                    3,
                    new JoinGroupRequest
                    {
                        GroupId = "parked-group",
                        SessionTimeoutMs = 30_000,
                        RebalanceTimeoutMs = 600_000,
                        ProtocolType = "consumer",
                        Protocols = [new JoinGroupRequest.JoinGroupRequestProtocol { Name = "range", Metadata = [0, 1] }],
                    },
                    correlationId: 21)));
                answer = connection.ReadResponseAsync<JoinGroupResponse>(headerVersion: 0, version: 3);
                // The wait is the check: a join the coordinator parks stays unanswered, one refused while loading is answered at once.
                var finished = await Task.WhenAny(answer, Task.Delay(TimeSpan.FromMilliseconds(300)));
                if (finished != answer)
                {
                    break;
                }

                Assert.Equal((short)Protocol.ErrorCode.CoordinatorLoadInProgress, (await answer).Body.ErrorCode);
            }
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }

        var stopwatch = Stopwatch.StartNew();
        await broker.DisposeAsync();
        stopwatch.Stop();

        Assert.True(stopwatch.Elapsed < StopBudget, $"the broker took {stopwatch.Elapsed} to stop with a parked JoinGroup");
        var (correlationId, body) = await answer;
        Assert.Equal(21, correlationId);
        Assert.Equal((short)Protocol.ErrorCode.NotCoordinator, body.ErrorCode);
    }

    [Fact]
    public async Task Sigterm_FetchParkedForTenMinutes_ExitsWithinTwoSecondsWithCodeZero()
    {
        var port = ServerProcess.FreePort();
        using var server = new ServerProcess(
            "config/server.properties",
            "--override", $"listeners=PLAINTEXT://127.0.0.1:{port}",
            "--override", $"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "--override", $"log.dirs={_dir}");
        await server.WaitForOutputAsync($"listening on PLAINTEXT://127.0.0.1:{port}");

        await using var connection = await RawConnection.OpenAsync("127.0.0.1", port);
        await connection.CreateTopicByMetadataAsync("parked");
        await connection.SendLongPollFetchAsync("parked", maxWaitMs: 600_000, correlationId: 12);
        var answer = connection.ReadFrameAsync();
        await WaitUntilParkedAsync(answer);

        var stopwatch = Stopwatch.StartNew();
        await server.SigtermAsync();
        var exitCode = await server.WaitForExitAsync();
        stopwatch.Stop();

        // The time a SIGTERM takes to stop this process with nothing parked is not part of the budget: it is
        // measured on a second, idle server (process exit, runtime shutdown), so only what the parked fetch adds counts.
        var idleStop = await IdleServerStopTimeAsync();

        Assert.Equal(0, exitCode);
        Assert.True(stopwatch.Elapsed < StopBudget + idleStop, $"the server took {stopwatch.Elapsed} to exit with a parked fetch (an idle one: {idleStop}); output:\n{server.Output}");
        Assert.Contains("Shut down cleanly", server.Output, StringComparison.Ordinal);
    }

    /// <summary>SIGTERM to exit of a server with no connection: the process's own share of the stop time.</summary>
    private async Task<TimeSpan> IdleServerStopTimeAsync()
    {
        var port = ServerProcess.FreePort();
        using var server = new ServerProcess(
            "config/server.properties",
            "--override", $"listeners=PLAINTEXT://127.0.0.1:{port}",
            "--override", $"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "--override", $"log.dirs={_dir}-idle");
        try
        {
            await server.WaitForOutputAsync($"listening on PLAINTEXT://127.0.0.1:{port}");
            var stopwatch = Stopwatch.StartNew();
            await server.SigtermAsync();
            Assert.Equal(0, await server.WaitForExitAsync());
            return stopwatch.Elapsed;
        }
        finally
        {
            try
            {
                Directory.Delete(_dir + "-idle", recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>The fetch stays unanswered for a while: it is parked, not refused (a bounded check, not a synchronisation).</summary>
    private static async Task WaitUntilParkedAsync(Task answer)
    {
        var finished = await Task.WhenAny(answer, Task.Delay(TimeSpan.FromMilliseconds(300)));
        Assert.NotSame(answer, finished);
    }
}
