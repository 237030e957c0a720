using Confluent.Kafka;
using Confluent.Kafka.Admin;

/// <summary>
/// KIP-848 commands (group.protocol=consumer), for ConsumerProtocolCompatTests:
///   cg-produce  &lt;bootstrap&gt; &lt;topic&gt; &lt;partitions&gt; &lt;count&gt;   (creates the topic, record i to partition i % partitions)
///   cg-consume  &lt;bootstrap&gt; &lt;topic&gt; &lt;group&gt; &lt;leave-after&gt; &lt;delay-ms&gt; &lt;idle-exit-ms&gt;
///               (subscribes, commits each record, leaves after leave-after records when &gt; 0, else when idle)
///   cg-describe &lt;bootstrap&gt; &lt;topic&gt; &lt;group&gt; [list]         (AdminClient.DescribeConsumerGroups [+ ListConsumerGroups])
/// </summary>
internal static class ConsumerProtocolCommands
{
    public static async Task<object> RunAsync(string command, string[] args)
    {
        var (bootstrap, topic) = (args[1], args[2]);
        return command switch
        {
            "cg-produce" => await ProduceAsync(bootstrap, topic, Int(args[3]), Int(args[4])),
            "cg-consume" => Consume(bootstrap, topic, args[3], Int(args[4]), Int(args[5]), Int(args[6])),
            "cg-describe" => await DescribeAsync(bootstrap, args[3], args.Length > 4 && args[4] == "list"),
            _ => throw new ArgumentException($"unknown command {command}"),
        };
    }

    private static int Int(string text) => int.Parse(text, System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<object> ProduceAsync(string bootstrap, string topic, int partitions, int count)
    {
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap, BrokerAddressFamily = BrokerAddressFamily.V4 }).Build())
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = 1 }]);
        }

        var config = new ProducerConfig { BootstrapServers = bootstrap, BrokerAddressFamily = BrokerAddressFamily.V4, Acks = Acks.All, MessageTimeoutMs = 60_000 };
        using var producer = new ProducerBuilder<string, string>(config).Build();
        var delivered = 0;
        for (var i = 0; i < count; i++)
        {
            producer.Produce(new TopicPartition(topic, i % partitions), new Message<string, string> { Key = $"k-{i}", Value = $"v-{i}" }, report =>
            {
                if (!report.Error.IsError)
                {
                    Interlocked.Increment(ref delivered);
                }
            });
        }

        producer.Flush(TimeSpan.FromSeconds(60));
        return new { delivered };
    }

    private static object Consume(string bootstrap, string topic, string group, int leaveAfter, int delayMs, int idleExitMs)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            BrokerAddressFamily = BrokerAddressFamily.V4,
            GroupId = group,
            GroupProtocol = GroupProtocol.Consumer,
            ClientId = "compat-cg",
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        var events = new List<string>();
        var started = DateTime.UtcNow;
        string Stamp() => ((int)(DateTime.UtcNow - started).TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var consumer = new ConsumerBuilder<string, string>(config)
            .SetPartitionsAssignedHandler((_, partitions) => events.Add($"{Stamp()} assigned {string.Join(',', partitions.Select(p => p.Partition.Value))}"))
            .SetPartitionsRevokedHandler((_, partitions) => events.Add($"{Stamp()} revoked {string.Join(',', partitions.Select(p => p.Partition.Value))}"))
            .SetPartitionsLostHandler((_, partitions) => events.Add($"{Stamp()} lost {string.Join(',', partitions.Select(p => p.Partition.Value))}"))
            .Build();
        consumer.Subscribe(topic);
        var consumed = new List<int[]>();
        var errors = new List<string>();
        var lastRecord = DateTime.UtcNow;
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (DateTime.UtcNow < deadline)
        {
            if (leaveAfter > 0 && consumed.Count >= leaveAfter)
            {
                break;
            }

            if (leaveAfter <= 0 && (DateTime.UtcNow - lastRecord).TotalMilliseconds > idleExitMs && (consumed.Count > 0 || DateTime.UtcNow - started > TimeSpan.FromSeconds(40)))
            {
                break;
            }

            try
            {
                var record = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (record?.Message is null)
                {
                    continue;
                }

                consumed.Add([record.Partition.Value, (int)record.Offset.Value]);
                consumer.Commit(record);
                lastRecord = DateTime.UtcNow;
                if (delayMs > 0)
                {
                    Thread.Sleep(delayMs);
                }
            }
            catch (KafkaException e)
            {
                if (errors.Count < 5)
                {
                    errors.Add(e.Error.ToString());
                }
            }
        }

        var committed = consumer.Committed(TimeSpan.FromSeconds(10)).Select(c => new[] { c.Partition.Value, (int)c.Offset.Value }).ToList();
        consumer.Close();
        return new { consumed, committed, events, errors };
    }

    private static async Task<object> DescribeAsync(string bootstrap, string group, bool list)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap, BrokerAddressFamily = BrokerAddressFamily.V4 }).Build();
        ConsumerGroupDescription description;
        try
        {
            description = (await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions[0];
        }
        catch (DescribeConsumerGroupsException e)
        {
            // E.g. the group does not exist yet (librdkafka then falls back to DescribeGroups).
            return new { state = "", type = "", assignor = "", error = (string?)e.Error.ToString(), members = Array.Empty<object>() };
        }

        // With "list": how ListConsumerGroups (ListGroups v5) lists it, type included.
        var listed = list ? (await admin.ListConsumerGroupsAsync()).Valid.FirstOrDefault(g => g.GroupId == group) : null;
        return new
        {
            state = description.State.ToString(),
            type = description.GroupType.ToString(),
            listedType = listed?.Type.ToString(),
            assignor = description.PartitionAssignor,
            error = description.Error.IsError ? description.Error.ToString() : null,
            members = description.Members.Select(m => new
            {
                id = m.ConsumerId,
                partitions = m.Assignment.TopicPartitions.Select(tp => tp.Partition.Value).Order().ToArray(),
            }).ToArray(),
        };
    }
}
