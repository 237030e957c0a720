using System.Runtime.InteropServices;
using System.Text;

namespace KafkaCompatBroker.Perf;

/// <summary>
/// librdkafka's built-in mock cluster, created through librdkafka's C API (Confluent.Kafka does not expose it):
/// a bare rd_kafka_t owns the cluster; the topic is created with the partitions asked for (the mock has no
/// CreateTopics handler and auto-creates topics with 4 partitions); rd_kafka_mock_cluster_bootstraps gives the
/// address, so the workload's producer and consumers reach it over TCP exactly as they reach our broker.
/// The mock keeps only the last 5 MiB (or 100,000 batches) of each partition: a consume-back of more than that
/// reads only what is retained.
/// </summary>
internal sealed class MockCluster : IDisposable
{
    private const string Library = "librdkafka";
    private const int ProducerType = 0;
    private readonly IntPtr _client;
    private readonly IntPtr _cluster;

    static MockCluster()
    {
        // The C calls below go to the very file Confluent.Kafka loaded (one copy of librdkafka in the process).
        NativeLibrary.SetDllImportResolver(typeof(MockCluster).Assembly, (name, _, _) =>
            name == Library && LoadedLibrdkafka.Path() is { } path ? NativeLibrary.Load(path) : IntPtr.Zero);
    }

    public MockCluster(string topic, int partitions)
    {
        var error = new byte[512];
        var conf = rd_kafka_conf_new();
        // Only errors: this client never connects anywhere, so its "no bootstrap.servers" warning is noise.
        rd_kafka_conf_set(conf, Encoding.UTF8.GetBytes("log_level\0"), Encoding.UTF8.GetBytes("3\0"), error, error.Length);
        _client = rd_kafka_new(ProducerType, conf, error, error.Length);
        if (_client == IntPtr.Zero)
        {
            throw new InvalidOperationException("rd_kafka_new failed: " + Encoding.UTF8.GetString(error).TrimEnd('\0'));
        }

        _cluster = rd_kafka_mock_cluster_new(_client, 1);
        if (_cluster == IntPtr.Zero)
        {
            rd_kafka_destroy(_client);
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed");
        }

        try
        {
            CreateTopic(topic, partitions);
        }
        catch (InvalidOperationException)
        {
            Dispose();
            throw;
        }

        Bootstrap = Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(_cluster)) ?? throw new InvalidOperationException("no mock bootstrap");
    }

    public string Bootstrap { get; }

    public void CreateTopic(string topic, int partitions)
    {
        var code = rd_kafka_mock_topic_create(_cluster, Encoding.UTF8.GetBytes(topic + "\0"), partitions, 1);
        if (code != 0)
        {
            throw new InvalidOperationException($"rd_kafka_mock_topic_create failed: error {code}");
        }
    }

    public void Dispose()
    {
        rd_kafka_mock_cluster_destroy(_cluster);
        rd_kafka_destroy(_client);
    }

    [DllImport(Library)]
    private static extern IntPtr rd_kafka_conf_new();

    [DllImport(Library)]
    private static extern int rd_kafka_conf_set(IntPtr conf, byte[] name, byte[] value, byte[] errstr, nint errstrSize);

    [DllImport(Library)]
    private static extern IntPtr rd_kafka_new(int type, IntPtr conf, byte[] errstr, nint errstrSize);

    [DllImport(Library)]
    private static extern void rd_kafka_destroy(IntPtr rk);

    [DllImport(Library)]
    private static extern IntPtr rd_kafka_mock_cluster_new(IntPtr rk, int brokerCount);

    [DllImport(Library)]
    private static extern void rd_kafka_mock_cluster_destroy(IntPtr cluster);

    [DllImport(Library)]
    private static extern IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr cluster);

    [DllImport(Library)]
    private static extern int rd_kafka_mock_topic_create(IntPtr cluster, byte[] topic, int partitions, int replicationFactor);
}
