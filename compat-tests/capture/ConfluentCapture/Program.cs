using System.Text;
using Confluent.Kafka;

// Produces the fixture record set (see compat-tests/capture/README.md) to fixtures/0 with one
// compression codec, then exits. Usage: ConfluentCapture <bootstrap> <none|gzip|snappy|lz4|zstd> [--idempotent]
if (args.Length < 2)
{
    Console.Error.WriteLine("usage: ConfluentCapture <bootstrap> <codec> [--idempotent]");
    return 2;
}

var bootstrap = args[0];
var codec = args[1] switch
{
    "none" => CompressionType.None,
    "gzip" => CompressionType.Gzip,
    "snappy" => CompressionType.Snappy,
    "lz4" => CompressionType.Lz4,
    "zstd" => CompressionType.Zstd,
    _ => throw new ArgumentException($"unknown codec {args[1]}"),
};
var idempotent = args.Contains("--idempotent");

var config = new ProducerConfig
{
    BootstrapServers = bootstrap,
    ClientId = "fixture-confluent-dotnet",
    CompressionType = codec,
    EnableIdempotence = idempotent,
    Acks = idempotent ? Acks.All : Acks.Leader,
    LingerMs = 1000,
    MessageTimeoutMs = 15000,
    BrokerAddressFamily = BrokerAddressFamily.V4,
};

// librdkafka 2.15.1 comes from librdkafka.redist under runtimes/, where Confluent.Kafka's own loader finds it
// (on Debian its centos8 build: the plain one needs libsasl2.so.3). Library.Load(path) is avoided: it dlopens
// "libdl", which glibc 2.34+ only ships as libdl.so.2.
using var producer = new ProducerBuilder<byte[]?, byte[]?>(config).Build();
var partition = new TopicPartition("fixtures", new Partition(0));
var reports = new List<Task<DeliveryResult<byte[]?, byte[]?>>>();
for (var i = 0; i < 10; i++)
{
    var headers = new Headers();
    if (i % 2 == 0)
    {
        headers.Add("h1", Encoding.UTF8.GetBytes($"v{i}"));
        headers.Add("h2", null);
    }

    reports.Add(producer.ProduceAsync(partition, new Message<byte[]?, byte[]?>
    {
        Key = i == 3 ? null : Encoding.UTF8.GetBytes($"key-{i}"),
        Value = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat($"value-{i} ", 25))),
        Headers = headers,
        Timestamp = new Timestamp(1700000000000 + i, TimestampType.CreateTime),
    }));
}

producer.Flush(TimeSpan.FromSeconds(20));
foreach (var report in reports)
{
    var result = await report;
    Console.WriteLine($"delivered {result.TopicPartitionOffset}");
}

return 0;
