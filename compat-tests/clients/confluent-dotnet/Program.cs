using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

// Confluent.Kafka 2.15.1 (librdkafka 2.15.1) driver for the compat tests. Prints one JSON object on its last line.
//   library                                    (librdkafka's version and the file that loaded, mapped copies)
//   produce <bootstrap> <topic> <codec> <count> <base-ts>
//   consume <bootstrap> <topic> <count>        (Assign() to partition 0, auto-commit off)
//   metadata-all <bootstrap> <topic>           (GetMetadata of all topics: the topic is listed)
//   seek-ts <bootstrap> <topic> <timestamp>    (OffsetsForTimes, then read one record)
//   topics  <bootstrap> <topic>                (create, describe, alter config, add partitions, delete)
//   group <bootstrap> <topic> <group> <range|cooperative-sticky|static> <count> <base-ts>   (Groups.ShareAsync)
//   produce-spread <bootstrap> <topic> <partitions> <count> <base-ts>   (record i to partition i % partitions)
//   consume-group <bootstrap> <topic> <group> <max>                     (Groups.ConsumeGroup)
//   group-admin <bootstrap> <topic> <group>                             (GroupAdmin.RunAsync)
//   cluster-admin <bootstrap> <topic>                                   (ClusterAdmin.RunAsync: ACLs, ElectLeaders)
//   group-migrate <bootstrap> <topic> <group> <count> <base-ts>        (Groups.MigrateAsync: classic → consumer → classic)
//   idempotent-produce <bootstrap> <topic> <partitions> <count> [existing-topic]   (Transactions.cs: numbered records, enable.idempotence)
//   txn-produce <bootstrap> <topic> <partitions> <txn-id> <commit:0-99,abort:100-199,…>
//   read <bootstrap> <topic> <read_committed|read_uncommitted>          (numbers and offsets per partition, to the end)
//   txn-offsets <bootstrap> <in> <out> <group> <txn-id>                 (SendOffsetsToTransaction, commit / abort)
//   txn-fence <bootstrap> <topic> <txn-id>                              (a second producer fences the first)
//   txn-restart <bootstrap> <topic> <txn-id>                            (waits on stdin with a transaction open)
//   eos-pipeline <bootstrap> <in> <out> <group> <txn-id> <total> <crash-after|-1>
// Records and checksum as in ../kafka-python/client.py.
if (args is ["library"])
{
    var path = KafkaCompatBroker.Perf.LoadedLibrdkafka.Path();
    Console.WriteLine(JsonSerializer.Serialize(new { version = Library.VersionString, path, mapped = KafkaCompatBroker.Perf.LoadedLibrdkafka.MappedFiles() }));
    return 0;
}

var (command, bootstrap, topic) = (args[0], args[1], args[2]);
object result = command switch
{
    "produce" => Produce(args[3], int.Parse(args[4], System.Globalization.CultureInfo.InvariantCulture), long.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture)),
    "consume" => Consume(int.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture)),
    "seek-ts" => SeekTimestamp(long.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture)),
    "topics" => await Topics(),
    "metadata-all" => MetadataAll(),
    "group" => await Groups.ShareAsync(bootstrap, topic, args[3], args[4], Int(args[5]), long.Parse(args[6], System.Globalization.CultureInfo.InvariantCulture)),
    "produce-spread" => await ProduceSpread(Int(args[3]), Int(args[4]), long.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture)),
    "consume-group" => Groups.ConsumeGroup(bootstrap, topic, args[3], Int(args[4])),
    "group-admin" => await GroupAdmin.RunAsync(bootstrap, topic, args[3]),
    "cluster-admin" => await ClusterAdmin.RunAsync(bootstrap, topic),
    "group-migrate" => await Groups.MigrateAsync(bootstrap, topic, args[3], Int(args[4]), long.Parse(args[5], System.Globalization.CultureInfo.InvariantCulture)),
    "idempotent-produce" or "txn-produce" or "read" or "txn-offsets" or "txn-fence" or "txn-restart" or "eos-pipeline" => await Transactions.RunAsync(command, args),
    _ when command.StartsWith("cg-", StringComparison.Ordinal) => await ConsumerProtocolCommands.RunAsync(command, args),
    _ => throw new ArgumentException($"unknown command {command}"),
};
Console.WriteLine(JsonSerializer.Serialize(result));
return 0;

static int Int(string text) => int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

async Task<object> ProduceSpread(int partitions, int count, long baseTs)
{
    await Groups.CreateTopicAsync(bootstrap, topic, partitions);
    Groups.Produce(bootstrap, topic, partitions, 0, count, baseTs);
    return new { count };
}

static ulong Digest(string? key, string? value, long timestamp, IEnumerable<(string Key, string? Value)> headers)
{
    var text = $"{key}\t{value}\t{timestamp}\t{string.Join(',', headers.Select(h => $"{h.Key}={h.Value}"))}";
    return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(MD5.HashData(Encoding.UTF8.GetBytes(text)));
}

object Produce(string codec, int count, long baseTs)
{
    var config = new ProducerConfig
    {
        BootstrapServers = bootstrap,
        ClientId = "compat-confluent-dotnet",
        CompressionType = Enum.Parse<CompressionType>(codec, ignoreCase: true),
        Acks = Acks.Leader,
        LingerMs = 20,
        BatchSize = 1_000_000,
        QueueBufferingMaxMessages = 1_000_000,
        MessageTimeoutMs = 60_000,
        BrokerAddressFamily = BrokerAddressFamily.V4,
    };
    using var producer = new ProducerBuilder<string, string>(config).Build();
    var pad = new string('v', 100);
    ulong checksum = 0;
    var delivered = 0;
    var errors = new List<string>();
    var codecBytes = Encoding.UTF8.GetBytes(codec);
    for (var i = 0; i < count; i++)
    {
        var (key, value, ts) = ($"key-{i}", $"value-{i}-{pad}", baseTs + i);
        checksum += Digest(key, value, ts, [("h1", $"hv-{i}"), ("codec", codec)]);
        var message = new Message<string, string>
        {
            Key = key,
            Value = value,
            Timestamp = new Timestamp(ts, TimestampType.CreateTime),
            Headers = new Headers { { "h1", Encoding.UTF8.GetBytes($"hv-{i}") }, { "codec", codecBytes } },
        };
        producer.Produce(new TopicPartition(topic, 0), message, report =>
        {
            if (report.Error.IsError)
            {
                lock (errors)
                {
                    if (errors.Count < 3)
                    {
                        errors.Add(report.Error.ToString());
                    }
                }
            }
            else
            {
                Interlocked.Increment(ref delivered);
            }
        });
    }

    producer.Flush(TimeSpan.FromSeconds(120));
    return new { count = delivered, checksum = checksum.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), errors };
}

// Confluent.Kafka refuses to build a consumer without group.id, even for Assign(); with auto-commit off and
// explicit start offsets, no group API is called for fetching (librdkafka still looks up the coordinator).
ConsumerConfig ConsumerConfig() => new()
{
    BootstrapServers = bootstrap,
    GroupId = "compat-confluent-dotnet-assign",
    ClientId = "compat-confluent-dotnet",
    EnableAutoCommit = false,
    AutoOffsetReset = AutoOffsetReset.Earliest,
    BrokerAddressFamily = BrokerAddressFamily.V4,
    FetchMaxBytes = 16 * 1024 * 1024,
    MaxPartitionFetchBytes = 4 * 1024 * 1024,
};

object Consume(int count)
{
    using var consumer = new ConsumerBuilder<string, string>(ConsumerConfig()).Build();
    consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
    ulong checksum = 0;
    var seen = 0;
    var deadline = DateTime.UtcNow.AddSeconds(120);
    string? error = null;
    while (seen < count && DateTime.UtcNow < deadline)
    {
        try
        {
            var record = consumer.Consume(TimeSpan.FromSeconds(1));
            if (record?.Message is { } m)
            {
                checksum += Digest(m.Key, m.Value, m.Timestamp.UnixTimestampMs, m.Headers.Select(h => (h.Key, (string?)Encoding.UTF8.GetString(h.GetValueBytes()))));
                seen++;
            }
        }
        catch (ConsumeException e)
        {
            error = e.Error.ToString();
        }
    }

    consumer.Close();
    return new { count = seen, checksum = checksum.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), error };
}

object SeekTimestamp(long timestamp)
{
    using var consumer = new ConsumerBuilder<string, string>(ConsumerConfig()).Build();
    var found = consumer.OffsetsForTimes([new TopicPartitionTimestamp(topic, 0, new Timestamp(timestamp, TimestampType.CreateTime))], TimeSpan.FromSeconds(30))[0];
    if (found.Offset.Value < 0)
    {
        // No record at or after the timestamp: librdkafka reports the end (-1); nothing to read.
        consumer.Close();
        return new { offset = found.Offset.Value, key = (string?)null, timestamp = (long?)null };
    }

    consumer.Assign(found);
    var record = consumer.Consume(TimeSpan.FromSeconds(30));
    consumer.Close();
    return new { offset = found.Offset.Value, key = record?.Message?.Key, timestamp = (long?)record?.Message?.Timestamp.UnixTimestampMs };
}

async Task<object> Topics()
{
    using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap, BrokerAddressFamily = BrokerAddressFamily.V4 }).Build();
    var steps = new Dictionary<string, object?>();
    await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = 2, ReplicationFactor = 1, Configs = new() { ["retention.ms"] = "3600000" } }]);
    steps["created"] = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics.Any(t => t.Topic == topic && t.Error.Code == ErrorCode.NoError);
    var described = await admin.DescribeTopicsAsync(TopicCollection.OfTopicNames([topic]));
    steps["partitions"] = described.TopicDescriptions[0].Partitions.Count;
    var resource = new ConfigResource { Type = ResourceType.Topic, Name = topic };
    await admin.IncrementalAlterConfigsAsync(new Dictionary<ConfigResource, List<ConfigEntry>>
    {
        [resource] = [new ConfigEntry { Name = "retention.ms", Value = "7200000", IncrementalOperation = AlterConfigOpType.Set }],
    });
    var configs = await admin.DescribeConfigsAsync([resource]);
    steps["retention.ms"] = configs[0].Entries.TryGetValue("retention.ms", out var entry) ? entry.Value : null;
    await admin.CreatePartitionsAsync([new PartitionsSpecification { Topic = topic, IncreaseTo = 4 }]);
    steps["partitions_after"] = (await admin.DescribeTopicsAsync(TopicCollection.OfTopicNames([topic]))).TopicDescriptions[0].Partitions.Count;
    await admin.DeleteTopicsAsync([topic]);
    try
    {
        await admin.DescribeTopicsAsync(TopicCollection.OfTopicNames([topic]));
        steps["deleted"] = false;
    }
    catch (DescribeTopicsException e) when (e.Results.TopicDescriptions[0].Error.Code == ErrorCode.UnknownTopicOrPart)
    {
        steps["deleted"] = true;
    }

    return steps;
}

object MetadataAll()
{
    using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap, BrokerAddressFamily = BrokerAddressFamily.V4 }).Build();
    var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
    return new { listed = metadata.Topics.Any(t => t.Topic == topic && t.Error.Code == ErrorCode.NoError), brokers = metadata.Brokers.Count };
}
