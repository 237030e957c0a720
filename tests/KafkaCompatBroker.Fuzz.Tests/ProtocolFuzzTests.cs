using System.Buffers;
using System.Buffers.Binary;
using System.Collections;
using System.Diagnostics;
using System.Globalization;
using KafkaCompatBroker.Broker;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace KafkaCompatBroker.Fuzz.Tests;

/// <summary>
/// Issue 14, item 4: mutated frames of every advertised API and version, sent over real TCP to an in-process
/// broker. After each batch the broker must answer a fresh connection, its heap must stay bounded, no handler
/// may fail with anything but the protocol's own errors (no Error log line), and every response must be a
/// well-formed frame with the request's correlation id.
///
/// Seeded and bounded: KCB_FUZZ_SEED (default 20261207), KCB_FUZZ_ITERATIONS (default 50,000 frames) and
/// KCB_FUZZ_SECONDS (default 60; the run stops at whichever bound comes first); KCB_FUZZ_SKIP_APIS=CreateTopics,...
/// leaves APIs out while a finding in them is being fixed. A failure names its seed; replay it:
///   KCB_FUZZ_SEED=&lt;seed&gt; KCB_FUZZ_ITERATIONS=&lt;n&gt; KCB_FUZZ_SECONDS=600 dotnet test tests/KafkaCompatBroker.Fuzz.Tests -c Release
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ProtocolFuzzTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int BatchFrames = 500;
    private const int Connections = 4;
    private const long HeapBoundBytes = 512L * 1024 * 1024;
    private const string HealthTopic = "fuzz-health";
    // A request that parks (a long-poll Fetch, a JoinGroup waiting for a rebalance) costs this much, then its connection.
    private static readonly TimeSpan ResponseDeadline = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan ProbeDeadline = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StopDeadline = TimeSpan.FromSeconds(30);

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "kcb-fuzz-" + Guid.NewGuid().ToString("N"));
    private readonly LogCapture _logs = new();
    private ILoggerFactory? _loggerFactory;
    private KafkaBroker? _broker;

    private int Port => (_broker ?? throw new InvalidOperationException("not started")).Ports[0];

    public async Task InitializeAsync()
    {
        _loggerFactory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Information));
        var config = BrokerConfig.Load(
            $"""
            process.roles=broker,controller
            node.id=1
            listeners=PLAINTEXT://127.0.0.1:0
            log.dirs={_dir}
            group.initial.rebalance.delay.ms=0
            offsets.topic.num.partitions=1
            transaction.state.log.num.partitions=1
            """,
            [],
            new Hashtable());
        _broker = await KafkaBroker.StartAsync(config, _loggerFactory);
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            // A broker slow to stop (after a failed run it may be deleting thousands of partitions) does not hold
            // up the test run past this: it is left to the end of the process.
            var stopping = Stopwatch.StartNew();
            try
            {
                await _broker.DisposeAsync().AsTask().WaitAsync(StopDeadline);
                output.WriteLine($"the broker stopped in {stopping.Elapsed.TotalSeconds:F1} s");
            }
            catch (TimeoutException)
            {
                output.WriteLine($"the broker did not stop within {StopDeadline.TotalSeconds} s");
                return;
            }
        }

        _loggerFactory?.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task MutatedFramesOfEveryAdvertisedApi_LeaveTheBrokerHealthy()
    {
        var seed = EnvInt("KCB_FUZZ_SEED", 20261207);
        var iterations = EnvInt("KCB_FUZZ_ITERATIONS", 50_000);
        var seconds = EnvInt("KCB_FUZZ_SECONDS", 60);
        var replay = $"KCB_FUZZ_SEED={seed} KCB_FUZZ_ITERATIONS={iterations} KCB_FUZZ_SECONDS=600 dotnet test tests/KafkaCompatBroker.Fuzz.Tests -c Release";
        output.WriteLine($"fuzz seed {seed}, at most {iterations} frames in {seconds} s; replay: {replay}");

        var names = await SetUpAsync();
        var skipped = (Environment.GetEnvironmentVariable("KCB_FUZZ_SKIP_APIS") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var apis = (await AdvertisedAsync()).Where(a => !skipped.Contains(a.Key.ToString())).ToList();
        if (skipped.Length > 0)
        {
            output.WriteLine($"skipping {string.Join(", ", skipped)} (KCB_FUZZ_SKIP_APIS)");
        }

        var templates = apis.ToDictionary(
            a => a.Key,
            a => Enumerable.Range(a.Min, a.Max - a.Min + 1).Select(v => ValidRequests.Build(a.Key, (short)v, names)).ToArray());
        output.WriteLine($"{apis.Count} advertised APIs, {templates.Values.Sum(t => t.Length)} API versions");

        var random = new Random(seed);
        var mutator = new FrameMutator(random);
        var connections = new FuzzConnection?[Connections];
        var stats = new Dictionary<string, int>();
        var stopwatch = Stopwatch.StartNew();
        using var watchdog = new HeapWatchdog(HeapBoundBytes);
        var recent = new Queue<string>();
        var frames = 0;
        try
        {
            for (; frames < iterations && stopwatch.Elapsed.TotalSeconds < seconds; frames++)
            {
                var (key, min, _) = apis[random.Next(apis.Count)];
                var versions = templates[key];
                var index = random.Next(versions.Length);
                var version = (short)(min + index);
                var correlationId = frames + 1000;
                var frame = mutator.Mutate(key, version, versions[index], correlationId);
                var what = $"frame {frames} at {stopwatch.Elapsed.TotalSeconds:F1} s ({key} v{version}, {frame.Description}): {Convert.ToHexString(frame.Bytes.AsSpan(0, Math.Min(frame.Bytes.Length, 4096)))}";

                // A broker's failure may show after the frame that caused it (a log line from a background task, a
                // heap that grows): the failure message names the frames before it too.
                recent.Enqueue($"frame {frames}: {key} v{version}, {frame.Description}");
                if (recent.Count > 16)
                {
                    recent.Dequeue();
                }

                what += "\nafter " + string.Join("\n", recent.Reverse().Skip(1));

                var slot = frames % Connections;
                string outcome;
                FuzzConnection connection;
                try
                {
                    connection = connections[slot] ??= await FuzzConnection.OpenAsync(Port, ProbeDeadline);
                    outcome = await ExchangeAsync(connection, frame, what);
                }
                catch (TimeoutException e)
                {
                    throw new TimeoutException($"seed {seed}: {e.Message}, by {what}\nreplay: {replay}", e);
                }

                stats[outcome] = stats.GetValueOrDefault(outcome) + 1;
                if (outcome != "answered")
                {
                    connection.Dispose();
                    connections[slot] = null;
                }

                Check(watchdog, what, seed, replay);
                if ((frames + 1) % BatchFrames == 0)
                {
                    await ProbeAsync(what, seed, replay);
                    var heap = GC.GetTotalMemory(forceFullCollection: true);
                    Assert.True(heap < HeapBoundBytes, $"seed {seed}: managed heap {heap:N0} bytes after {what}; replay: {replay}");
                }
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection?.Dispose();
            }
        }

        await ProbeAsync("the last frame", seed, replay);
        await ProduceAndFetchAsync();
        Check(watchdog, "the health round trip", seed, replay);
        output.WriteLine($"{frames} frames in {stopwatch.Elapsed.TotalSeconds:F1} s: {string.Join(", ", stats.OrderBy(s => s.Key).Select(s => $"{s.Key} {s.Value}"))}; peak heap {watchdog.PeakBytes:N0} bytes");
    }

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    /// <summary>
    /// Sends one frame and reads what comes back. The frame is decoded here with the broker's own codecs: what
    /// decodes and names an API the broker serves at a version it advertises must get a response (Produce with
    /// acks=0 aside) or a closed connection, and any response must parse as that API's response with the
    /// request's correlation id.
    /// </summary>
    private static async Task<string> ExchangeAsync(FuzzConnection connection, MutatedFrame frame, string what)
    {
        if (!await connection.TrySendAsync(frame.Bytes))
        {
            return "closed before sent";
        }

        if (!frame.SizePrefixHonest)
        {
            // The broker waits for bytes that never come, or reads the rest as another frame: drop the connection.
            return "size lied";
        }

        var request = Decode(frame.Bytes.AsSpan(4).ToArray());
        if (request is { Body: ProduceRequest { Acks: 0 } })
        {
            return "no response expected";
        }

        var (outcome, response) = await connection.ReadFrameAsync(ResponseDeadline);
        if (outcome == ReadOutcome.TimedOut)
        {
            return "parked";
        }

        if (outcome == ReadOutcome.Closed)
        {
            return "closed";
        }

        var (key, version, correlationId, _) = request ?? DecodeHeaderOnly(frame.Bytes.AsSpan(4));
        Assert.True(BinaryPrimitives.ReadInt32BigEndian(response) == correlationId, $"response correlation id {BinaryPrimitives.ReadInt32BigEndian(response)}, expected {correlationId}, to {what}");
        var api = KafkaApis.Find((short)key);
        Assert.True(api is not null, $"a response to an unknown API key, to {what}");
        var advertised = version >= api!.MinVersion && version <= api.MaxVersion;
        if (key == ApiKey.ApiVersions && (request is null || !advertised))
        {
            // An unsupported ApiVersions version gets a v0 answer with UNSUPPORTED_VERSION.
            version = 0;
        }

        try
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(response));
            new ResponseHeader().Read(ref reader, KafkaApis.ResponseHeaderVersion(key, version));
            KafkaApis.CreateResponse(key).Read(ref reader, version);
            Assert.True(reader.Remaining == 0, $"{reader.Remaining} bytes after the {key} v{version} response body, to {what}");
        }
        catch (KafkaProtocolException e)
        {
            Assert.Fail($"unparsable {key} v{version} response ({e.Message}) to {what}: {Convert.ToHexString(response)}");
        }

        return "answered";
    }

    private static (ApiKey Key, short Version, int CorrelationId, IKafkaMessage? Body)? Decode(byte[] payload)
    {
        if (payload.Length < 8 || KafkaApis.Find(BinaryPrimitives.ReadInt16BigEndian(payload)) is not { } api)
        {
            return null;
        }

        var version = BinaryPrimitives.ReadInt16BigEndian(payload.AsSpan(2));
        var body = KafkaApis.CreateRequest(api.Key);
        if (version < Math.Max(api.MinVersion, body.LowestSupportedVersion) || version > api.MaxVersion)
        {
            return null;
        }

        try
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(payload));
            var header = new RequestHeader();
            header.Read(ref reader, KafkaApis.RequestHeaderVersion(api.Key, version));
            body.Read(ref reader, version);
            return (api.Key, version, header.CorrelationId, body);
        }
        catch (KafkaProtocolException)
        {
            return null;
        }
    }

    private static (ApiKey, short, int, IKafkaMessage?) DecodeHeaderOnly(ReadOnlySpan<byte> payload) =>
        payload.Length < 8
            ? ((ApiKey)(-1), (short)-1, -1, null)
            : ((ApiKey)BinaryPrimitives.ReadInt16BigEndian(payload), BinaryPrimitives.ReadInt16BigEndian(payload[2..]), BinaryPrimitives.ReadInt32BigEndian(payload[4..]), null);

    private void Check(HeapWatchdog watchdog, string what, int seed, string replay)
    {
        Assert.True(watchdog.PeakBytes < HeapBoundBytes, $"seed {seed}: managed heap reached {watchdog.PeakBytes:N0} bytes (bound {HeapBoundBytes:N0}) by {what}; replay: {replay}");
        if (_logs.FirstError is { } error)
        {
            Assert.Fail($"seed {seed}: the broker logged an error by {what}:\n{error}\nreplay: {replay}");
        }
    }

    /// <summary>ApiVersions on a fresh connection, answered within the deadline.</summary>
    private async Task ProbeAsync(string after, int seed, string replay)
    {
        FuzzConnection connection;
        try
        {
            connection = await FuzzConnection.OpenAsync(Port, ProbeDeadline);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"seed {seed}: the health probe: {e.Message}, after {after}\nreplay: {replay}", e);
        }

        using var probe = connection;
        var request = new ApiVersionsRequest { ClientSoftwareName = "fuzz-probe", ClientSoftwareVersion = "1.0" };
        Assert.True(await connection.TrySendAsync(Frame(ValidRequests.Serialize(ApiKey.ApiVersions, 3, 1, request))), $"seed {seed}: the health probe could not send after {after}; replay: {replay}");
        var (outcome, _) = await connection.ReadFrameAsync(ProbeDeadline);
        Assert.True(outcome == ReadOutcome.Frame, $"seed {seed}: the health probe got {outcome} after {after}; replay: {replay}");
    }

    /// <summary>Creates the fuzzed topic and the health topic, and returns the names the valid requests use.</summary>
    private async Task<FuzzNames> SetUpAsync()
    {
        await CallAsync<CreateTopicsResponse>(ApiKey.CreateTopics, 7, new CreateTopicsRequest
        {
            Topics = [new() { Name = "fuzz-topic", NumPartitions = 1, ReplicationFactor = 1 }, new() { Name = HealthTopic, NumPartitions = 1, ReplicationFactor = 1 }],
        });
        var metadata = await CallAsync<MetadataResponse>(ApiKey.Metadata, 12, new MetadataRequest { Topics = [new() { Name = "fuzz-topic" }] });
        Assert.Equal(0, metadata.Topics[0].ErrorCode);
        return new FuzzNames("fuzz-topic", metadata.Topics[0].TopicId, "fuzz-group", "fuzz-txn");
    }

    private async Task<List<(ApiKey Key, short Min, short Max)>> AdvertisedAsync()
    {
        var response = await CallAsync<ApiVersionsResponse>(ApiKey.ApiVersions, 3, new ApiVersionsRequest { ClientSoftwareName = "fuzz", ClientSoftwareVersion = "1.0" });
        return [.. response.ApiKeys.Select(k => ((ApiKey)k.ApiKey, k.MinVersion, k.MaxVersion))];
    }

    /// <summary>Produce one batch to the health topic and fetch it back.</summary>
    private async Task ProduceAndFetchAsync()
    {
        var produce = await CallAsync<ProduceResponse>(ApiKey.Produce, 9, new ProduceRequest
        {
            Acks = -1,
            TimeoutMs = 5000,
            TopicData = [new() { Name = HealthTopic, PartitionData = [new() { Index = 0, Records = new ReadOnlySequence<byte>(ValidRequests.RecordBatchBytes(CompressionType.None, 1)) }] }],
        });
        var partition = produce.Responses[0].PartitionResponses[0];
        Assert.Equal(0, partition.ErrorCode);

        var fetch = await CallAsync<FetchResponse>(ApiKey.Fetch, 12, new FetchRequest
        {
            MaxWaitMs = 100,
            MinBytes = 1,
            Topics = [new() { Topic = HealthTopic, Partitions = [new() { Partition = 0, FetchOffset = partition.BaseOffset, PartitionMaxBytes = 1 << 20 }] }],
        });
        var fetched = fetch.Responses[0].Partitions[0];
        Assert.Equal(0, fetched.ErrorCode);
        Assert.True(fetched.Records is { Length: > 0 }, "the health round trip fetched no records");
        Assert.True(fetched.HighWatermark > partition.BaseOffset);
    }

    private async Task<T> CallAsync<T>(ApiKey key, short version, IKafkaMessage request)
        where T : IKafkaMessage, new()
    {
        using var connection = await FuzzConnection.OpenAsync(Port, ProbeDeadline);
        Assert.True(await connection.TrySendAsync(Frame(ValidRequests.Serialize(key, version, 5, request))));
        var (outcome, frame) = await connection.ReadFrameAsync(ProbeDeadline);
        Assert.Equal(ReadOutcome.Frame, outcome);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
        new ResponseHeader().Read(ref reader, KafkaApis.ResponseHeaderVersion(key, version));
        var body = new T();
        body.Read(ref reader, version);
        return body;
    }

    private static byte[] Frame(byte[] payload)
    {
        var frame = new byte[payload.Length + 4];
        BinaryPrimitives.WriteInt32BigEndian(frame, payload.Length);
        payload.CopyTo(frame, 4);
        return frame;
    }
}
