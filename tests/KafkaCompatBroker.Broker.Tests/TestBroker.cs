using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Network;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// A broker without the network, built by the same <see cref="BrokerBuilder"/> as the server (no listener bound):
/// a temp data dir, the metadata, the logs, the replica manager, the coordinators and every discovered handler,
/// for handler tests that send requests straight to the dispatcher.
/// </summary>
internal sealed class TestBroker : IDisposable
{
    private readonly bool _keepData;
    private readonly KafkaBroker _broker;

    /// <param name="dataDir">An existing data dir to start from (a restart); null for a new temp dir.</param>
    /// <param name="keepData">Leave the data dir on Dispose (the test restarts on it and cleans up later).</param>
    /// <param name="beforeReplicas">Runs on the metadata store before the replica manager is installed as a publisher (a publisher that runs first).</param>
    /// <param name="time">The clock the whole broker runs on; the system clock when null.</param>
    public TestBroker(string extraConfig = "", string? dataDir = null, bool keepData = false, Action<MetadataStore>? beforeReplicas = null, TimeProvider? time = null)
    {
        DataDir = dataDir ?? Path.Combine(Path.GetTempPath(), "kcb-broker-" + Guid.NewGuid().ToString("N"));
        _keepData = keepData;
        Directory.CreateDirectory(DataDir);
        Config = BrokerConfig.Load($"log.dirs={DataDir}\nlisteners=PLAINTEXT://127.0.0.1:9092\ncluster.id=test-cluster-id-000000\n{extraConfig}", [], new System.Collections.Hashtable());
        var builder = new BrokerBuilder(Config, NullLoggerFactory.Instance) { Time = time ?? TimeProvider.System, BindListeners = false, OnMetadataOpened = beforeReplicas };

        // Without listeners nothing in start-up awaits: the task is complete when StartAsync returns.
        var start = builder.StartAsync();
        Assert.True(start.IsCompleted, "a broker without listeners starts synchronously");
        _broker = start.GetAwaiter().GetResult();
    }

    public string DataDir { get; }

    public BrokerConfig Config { get; }

    public LogManager Logs => _broker.Context.Logs;

    public MetadataStore Metadata => _broker.Context.Metadata;

    public ReplicaManager Replicas => _broker.Context.Replicas;

    public BrokerContext Context => _broker.Context;

    public DynamicConfigPublisher DynamicConfig => _broker.DynamicConfig;

    /// <summary>The broker's log cleaner (the dynamic configs reach it).</summary>
    public LogCleaner Cleaner => _broker.Cleaner;

    public HandlerRegistry Registry => _broker.Context.Registry;

    public RequestDispatcher Dispatcher => _broker.Dispatcher;

    /// <summary>
    /// The connection requests come on unless a test passes its own: one per broker, since a connection keeps
    /// state between requests (fetch sessions, the fetch waiter and its timer on this broker's clock).
    /// </summary>
    public KafkaConnection Connection { get; } = new("test-connection", "PLAINTEXT", null);

    public void Dispose()
    {
        var stop = _broker.DisposeAsync();
        Assert.True(stop.IsCompleted, "a broker without listeners stops synchronously");
        stop.GetAwaiter().GetResult();
        if (!_keepData)
        {
            Directory.Delete(DataDir, recursive: true);
        }
    }
}

/// <summary>Sends one request frame through a <see cref="TestBroker"/>'s dispatcher and decodes the response.</summary>
internal static class BrokerExchange
{
    /// <param name="connection">The connection the request comes on (default: the broker's <see cref="TestBroker.Connection"/>).</param>
    public static async Task<byte[]> SendRawAsync(TestBroker broker, ApiKey key, short version, IKafkaMessage body, KafkaConnection? connection = null)
    {
        var frame = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = 7, ClientId = "test" }
            .Write(frame, KafkaApis.RequestHeaderVersion(key, version));
        body.Write(frame, version);
        var pipe = new Pipe();
        var outcome = await broker.Dispatcher.ProcessAsync(connection ?? broker.Connection, new ReadOnlySequence<byte>(frame.WrittenMemory), pipe.Writer, CancellationToken.None);
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
