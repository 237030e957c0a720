using System.Buffers;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class FetchHandlerTests : IDisposable
{
    // Long polls in these tests wait up to 10 s; the clock tells when one has parked.
    private readonly FetchParkingClock _clock = new(TimeSpan.FromSeconds(10));
    private readonly TestBroker _broker;

    public FetchHandlerTests() => _broker = new(time: _clock);

    public void Dispose() => _broker.Dispose();

    internal static FetchRequest Fetch(string topic, long offset, int partition = 0, int maxWaitMs = 0, int minBytes = 0, int partitionMaxBytes = 1 << 20, int maxBytes = int.MaxValue, int sessionId = 0, int sessionEpoch = -1, KafkaUuid topicId = default, sbyte isolation = 0)
    {
        var request = new FetchRequest { MaxWaitMs = maxWaitMs, MinBytes = minBytes, MaxBytes = maxBytes, SessionId = sessionId, SessionEpoch = sessionEpoch, IsolationLevel = isolation };
        request.Topics.Add(new FetchRequest.FetchTopic
        {
            Topic = topic,
            TopicId = topicId,
            Partitions = [new FetchRequest.FetchPartition { Partition = partition, FetchOffset = offset, PartitionMaxBytes = partitionMaxBytes }],
        });
        return request;
    }

    internal static async Task<FetchResponse> SendAsync(TestBroker broker, FetchRequest request, short version = 12, KafkaConnection? connection = null) =>
        await BrokerExchange.SendAsync<FetchResponse>(broker, ApiKey.Fetch, version, request, connection);

    [Theory]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(15)]
    [InlineData(17)]
    [InlineData(18)]
    public async Task Fetch_EveryVersion_ReturnsTheLogsBytes(short version)
    {
        var id = DataPath.CreateTopic(_broker, "t");
        var batch = DataPath.Batch(3);
        await DataPath.ProduceAsync(_broker, "t", batch);

        var response = await SendAsync(_broker, Fetch(version >= 13 ? "" : "t", 0, topicId: version >= 13 ? id : default), version);

        var topic = Assert.Single(response.Responses);
        var partition = Assert.Single(topic.Partitions);
        Assert.Equal(0, partition.ErrorCode);
        Assert.Equal(3, partition.HighWatermark);
        Assert.Equal(3, partition.LastStableOffset);
        Assert.Equal(version >= 5 ? 0 : -1, partition.LogStartOffset);
        Assert.Equal(-1, partition.PreferredReadReplica);
        Assert.Null(partition.AbortedTransactions);
        var records = partition.Records!.Value.ToArray();
        Assert.Equal(batch.Length, records.Length);
        Assert.Equal(batch[61..], records[61..]); // identical apart from the header fields the log owns
        Assert.Equal([(0L, 3)], DataPath.Batches(partition.Records));
    }

    [Fact]
    public async Task Fetch_ReadCommitted_EmptyAbortedTransactions()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1));

        var response = await SendAsync(_broker, Fetch("t", 0, isolation: 1));

        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        Assert.NotNull(partition.AbortedTransactions);
        Assert.Empty(partition.AbortedTransactions);
        Assert.Equal(1, partition.LastStableOffset);
    }

    [Fact]
    public async Task Fetch_OffsetInsideBatch_ReturnsWholeBatch()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(5));

        var response = await SendAsync(_broker, Fetch("t", 3));

        Assert.Equal([(0L, 5)], DataPath.Batches(Assert.Single(Assert.Single(response.Responses).Partitions).Records));
    }

    [Fact]
    public async Task Fetch_OffsetBeyondLogEnd_OffsetOutOfRange()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1));

        var response = await SendAsync(_broker, Fetch("t", 10));

        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        Assert.Equal((short)ErrorCode.OffsetOutOfRange, partition.ErrorCode);
        Assert.Equal(-1, partition.HighWatermark);
        Assert.Equal(0, partition.Records!.Value.Length);
    }

    [Fact]
    public async Task Fetch_AtLogEnd_EmptyRecordsNoError()
    {
        DataPath.CreateTopic(_broker, "t");
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1));

        var response = await SendAsync(_broker, Fetch("t", 1));

        var partition = Assert.Single(Assert.Single(response.Responses).Partitions);
        Assert.Equal(0, partition.ErrorCode);
        Assert.Equal(0, partition.Records!.Value.Length);
    }

    [Fact]
    public async Task Fetch_UnknownTopic_ErrorsByVersion()
    {
        var byName = await SendAsync(_broker, Fetch("missing", 0), 12);
        var byId = await SendAsync(_broker, Fetch("", 0, topicId: KafkaUuid.NewRandom()), 13);

        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, Assert.Single(Assert.Single(byName.Responses).Partitions).ErrorCode);
        Assert.Equal((short)ErrorCode.UnknownTopicId, Assert.Single(Assert.Single(byId.Responses).Partitions).ErrorCode);
    }

    [Fact]
    public async Task Fetch_CurrentLeaderEpochMismatch_FencedOrUnknown()
    {
        DataPath.CreateTopic(_broker, "t");
        var epoch = _broker.Replicas.Image.GetTopic("t")!.Partitions[0].LeaderEpoch;
        var newer = Fetch("t", 0);
        newer.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch + 1;
        var same = Fetch("t", 0);
        same.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch;

        var unknown = await SendAsync(_broker, newer);
        var ok = await SendAsync(_broker, same);

        Assert.Equal((short)ErrorCode.UnknownLeaderEpoch, unknown.Responses[0].Partitions[0].ErrorCode);
        Assert.Equal(0, ok.Responses[0].Partitions[0].ErrorCode);
    }

    [Fact]
    public async Task Fetch_FromFollowerReplica_NotLeaderOrFollower()
    {
        DataPath.CreateTopic(_broker, "t");
        var request = Fetch("t", 0);
        request.ReplicaId = 2;

        var response = await SendAsync(_broker, request, 12);

        Assert.Equal((short)ErrorCode.NotLeaderOrFollower, response.Responses[0].Partitions[0].ErrorCode);
    }

    [Fact]
    public async Task Fetch_ResponseMaxBytes_FirstBatchWholeThenLimitApplies()
    {
        DataPath.CreateTopic(_broker, "t", 2);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(10, valueSize: 200), partition: 0);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(10, valueSize: 200), partition: 0);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(10, valueSize: 200), partition: 1);
        var request = Fetch("t", 0, maxBytes: 100, partitionMaxBytes: 100);
        request.Topics[0].Partitions.Add(new FetchRequest.FetchPartition { Partition = 1, FetchOffset = 0, PartitionMaxBytes = 100 });

        var response = await SendAsync(_broker, request);

        var partitions = Assert.Single(response.Responses).Partitions;
        Assert.Equal([(0L, 10)], DataPath.Batches(partitions[0].Records)); // over the limit, but the first batch is whole
        Assert.Empty(DataPath.Batches(partitions[1].Records));
    }

    [Fact]
    public async Task Fetch_PartitionMaxBytes_LimitsLaterPartitions()
    {
        DataPath.CreateTopic(_broker, "t", 2);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2), partition: 0);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2), partition: 0);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(2), partition: 1);
        var request = Fetch("t", 0, partitionMaxBytes: 1 << 20);
        request.Topics[0].Partitions.Add(new FetchRequest.FetchPartition { Partition = 1, FetchOffset = 0, PartitionMaxBytes = 10 });

        var response = await SendAsync(_broker, request);

        var partitions = Assert.Single(response.Responses).Partitions;
        Assert.Equal([(0L, 2), (2L, 2)], DataPath.Batches(partitions[0].Records));
        Assert.Empty(DataPath.Batches(partitions[1].Records));
    }

    [Fact]
    public async Task Fetch_LongPoll_WakesOnAppend()
    {
        DataPath.CreateTopic(_broker, "t");
        var started = DateTime.UtcNow;

        var fetch = SendAsync(_broker, Fetch("t", 0, maxWaitMs: 10_000, minBytes: 1));
        await _clock.WaitUntilParkedAsync();
        Assert.False(fetch.IsCompleted);
        await DataPath.ProduceAsync(_broker, "t", DataPath.Batch(1));
        var response = await fetch.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal([(0L, 1)], DataPath.Batches(response.Responses[0].Partitions[0].Records));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Fetch_LongPollNoData_AnswersEmptyAfterMaxWait()
    {
        DataPath.CreateTopic(_broker, "t");
        var started = DateTime.UtcNow;

        var response = await SendAsync(_broker, Fetch("t", 0, maxWaitMs: 300, minBytes: 1));

        Assert.True(DateTime.UtcNow - started >= TimeSpan.FromMilliseconds(250));
        Assert.Equal(0, response.Responses[0].Partitions[0].Records!.Value.Length);
    }
}

/// <summary>End to end with a real client: kcat 1.7.1 (librdkafka 2.0.2) producing with every codec and consuming back.</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class DataPathKcatTests : IAsyncLifetime
{
    private TestCluster? _cluster;

    public async Task InitializeAsync() => _cluster = await TestCluster.StartAsync();

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    private async Task<string> KcatAsync(string arguments, string? input = null)
    {
        var start = new System.Diagnostics.ProcessStartInfo("kcat")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("-b");
        start.ArgumentList.Add(_cluster!.BootstrapServers);
        foreach (var argument in arguments.Split(' '))
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("-f");
        start.ArgumentList.Add("%s\n");
        using var process = System.Diagnostics.Process.Start(start)!;
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
        }

        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"kcat {arguments} exited with {process.ExitCode}: {await error}");
        return await output;
    }

    [Fact]
    public async Task Kcat_ProduceEveryCodecConsumeAndSeekByTimestamp_RoundTrips()
    {
        var broker = _cluster!.Broker;
        Assert.True(broker.Context.Metadata.CreateTopic("kcat", 1, 1).IsSuccess);
        var expected = new List<string>();
        foreach (var codec in new[] { "none", "gzip", "snappy", "lz4", "zstd" })
        {
            var lines = Enumerable.Range(0, 50).Select(i => $"{codec}-{i}-{new string('x', i)}").ToList();
            await KcatAsync($"-P -t kcat -p 0 -z {codec}", string.Join('\n', lines) + "\n");
            expected.AddRange(lines);
        }

        // The seek timestamp is a millisecond later than every record produced so far (kcat stamps with this clock).
        var produced = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Eventually.UntilAsync(() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > produced, "the wall clock moves past the earlier records' timestamps");
        var seekFrom = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var late = Enumerable.Range(0, 5).Select(i => $"late-{i}").ToList();
        await KcatAsync("-P -t kcat -p 0 -z gzip", string.Join('\n', late) + "\n");
        expected.AddRange(late);

        var consumed = await KcatAsync("-C -t kcat -p 0 -o beginning -e -q");
        var bySeek = await KcatAsync($"-C -t kcat -p 0 -o s@{seekFrom} -e -q");

        Assert.Equal(expected, consumed.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal(late, bySeek.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // The batches were stored compressed with each codec, as the client sent them.
        var log = broker.Context.Replicas.GetLog("kcat", 0)!;
        var read = log.Read(0, int.MaxValue, log.HighWatermark, minOneBatch: true);
        var bytes = new byte[read.Region!.Value.Length];
        read.Region.Value.CopyTo(bytes);
        var codecs = new HashSet<Records.CompressionType>();
        foreach (var batch in Records.RecordBatches.Enumerate(new ReadOnlySequence<byte>(bytes)))
        {
            codecs.Add(batch.Header.CompressionType);
        }

        // librdkafka only enables lz4 when the broker advertises FindCoordinator (its "LZ4" feature maps to
        // brokers ≥ 0.8.2 by that API); until the group coordinator exists it sends those batches uncompressed.
        var lz4 = broker.Context.Registry.Find((short)ApiKey.FindCoordinator) is not null;
        Assert.Equal(lz4 ? "None,Gzip,Snappy,Lz4,Zstd" : "None,Gzip,Snappy,Zstd", string.Join(",", codecs.Order()));
    }
}
