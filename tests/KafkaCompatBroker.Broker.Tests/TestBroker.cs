using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// A broker's services without the network: a temp data dir, the metadata store, the log manager,
/// the replica manager and every discovered handler — for handler tests that need no sockets.
/// </summary>
internal sealed class TestBroker : IDisposable
{
    private readonly bool _keepData;

    /// <param name="dataDir">An existing data dir to start from (a restart); null for a new temp dir.</param>
    /// <param name="keepData">Leave the data dir on Dispose (the test restarts on it and cleans up later).</param>
    /// <param name="beforeReplicas">Runs on the metadata store before the replica manager is installed as a publisher (a publisher that runs first).</param>
    /// <param name="time">The clock the handlers and coordinators see; the system clock when null.</param>
    public TestBroker(string extraConfig = "", string? dataDir = null, bool keepData = false, Action<MetadataStore>? beforeReplicas = null, TimeProvider? time = null)
    {
        DataDir = dataDir ?? Path.Combine(Path.GetTempPath(), "kcb-broker-" + Guid.NewGuid().ToString("N"));
        _keepData = keepData;
        Directory.CreateDirectory(DataDir);
        Config = BrokerConfig.Load($"log.dirs={DataDir}\nlisteners=PLAINTEXT://127.0.0.1:9092\n{extraConfig}", [], new System.Collections.Hashtable());
        var settings = new BrokerSettings
        {
            NodeId = Config.GetInt("node.id"),
            Config = Config,
            AdvertisedListeners = [new AdvertisedListener("PLAINTEXT", "127.0.0.1", 9092)],
            AutoCreateTopics = Config.GetBool("auto.create.topics.enable"),
            DefaultNumPartitions = Config.GetInt("num.partitions"),
            DefaultReplicationFactor = (short)Config.GetInt("default.replication.factor"),
        };
        Logs = new LogManager(new LogManagerOptions { LogDirs = [DataDir] }, BrokerSettings.LogDefaultsFrom(Config), NullLogger.Instance);
        Logs.Startup();
        Metadata = MetadataStore.Open(new MetadataStoreOptions { MetadataLogDir = DataDir, ClusterId = "test-cluster-id-000000" });
        Metadata.RegisterBroker(settings.NodeId, Protocol.KafkaUuid.NewRandom(), [new BrokerEndpoint("PLAINTEXT", "127.0.0.1", 9092, 0)]);
        beforeReplicas?.Invoke(Metadata);
        Replicas = new ReplicaManager(settings, Metadata, Logs, NullLogger<ReplicaManager>.Instance);
        Context = new BrokerContext(settings, Metadata, Logs, Replicas, NullLoggerFactory.Instance, time ?? TimeProvider.System);
        DynamicConfig = new DynamicConfigPublisher(Context, Cleaner, null);
        Metadata.Loader.Install(Replicas);
        Metadata.Loader.Install(DynamicConfig);
        Context.LoadGroups();
        Context.LoadTransactions();
        Registry = HandlerDiscovery.CreateRegistry(Context);
        Dispatcher = new RequestDispatcher(Registry, NullLogger<RequestDispatcher>.Instance);
    }

    public string DataDir { get; }

    public BrokerConfig Config { get; }

    public LogManager Logs { get; }

    public MetadataStore Metadata { get; }

    public ReplicaManager Replicas { get; }

    public BrokerContext Context { get; }

    public DynamicConfigPublisher DynamicConfig { get; }

    /// <summary>A cleaner the dynamic configs reach (the test log manager runs no cleaner loop).</summary>
    public LogCleaner Cleaner { get; } = new();

    public HandlerRegistry Registry { get; }

    public RequestDispatcher Dispatcher { get; }

    public void Dispose()
    {
        DynamicConfig.Dispose();
        Context.GroupCoordinator.Dispose();
        Context.TransactionCoordinator.Dispose();
        Replicas.Dispose();
        Metadata.Dispose();
        Logs.Shutdown();
        if (!_keepData)
        {
            Directory.Delete(DataDir, recursive: true);
        }
    }
}

/// <summary>Sends one request frame through a <see cref="TestBroker"/>'s dispatcher and decodes the response.</summary>
internal static class BrokerExchange
{
    public static readonly KafkaConnection Connection = new("test-connection", "PLAINTEXT", null);

    /// <param name="connection">The connection the request comes on (default: <see cref="Connection"/>, shared by all tests).</param>
    public static async Task<byte[]> SendRawAsync(TestBroker broker, ApiKey key, short version, IKafkaMessage body, KafkaConnection? connection = null)
    {
        var frame = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = 7, ClientId = "test" }
            .Write(frame, KafkaApis.RequestHeaderVersion(key, version));
        body.Write(frame, version);
        var pipe = new Pipe();
        var outcome = await broker.Dispatcher.ProcessAsync(connection ?? Connection, new ReadOnlySequence<byte>(frame.WrittenMemory), pipe.Writer, CancellationToken.None);
        Assert.Equal(RequestOutcome.Continue, outcome);
        await pipe.Writer.CompleteAsync();
        var result = await pipe.Reader.ReadAsync();
        var bytes = result.Buffer.ToArray();
        pipe.Reader.AdvanceTo(result.Buffer.End);
        return bytes;
    }

    public static async Task<T> SendAsync<T>(TestBroker broker, ApiKey key, short version, IKafkaMessage body, KafkaConnection? connection = null)
        where T : IKafkaMessage, new()
    {
        var bytes = await SendRawAsync(broker, key, version, body, connection);
        Assert.True(bytes.Length > 4, "no response");
        Assert.Equal(bytes.Length - 4, BinaryPrimitives.ReadInt32BigEndian(bytes));
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, 4, bytes.Length - 4));
        var header = new ResponseHeader();
        header.Read(ref reader, KafkaApis.ResponseHeaderVersion(key, version));
        Assert.Equal(7, header.CorrelationId);
        var response = new T();
        response.Read(ref reader, version);
        Assert.Equal(0, reader.Remaining);
        return response;
    }
}
