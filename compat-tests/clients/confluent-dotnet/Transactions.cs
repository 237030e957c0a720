using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;

/// <summary>
/// Idempotent and transactional producer scenarios for the compat tests (TransactionCompatTests.cs).
/// Records are numbered: key "key-&lt;n&gt;", value "n-&lt;n&gt;" (the pipeline writes "out-&lt;n&gt;"), record n goes
/// to partition n % partitions, so a reader can check every number arrives exactly once and in order per partition.
/// Commands that wait for the test print a JSON line (e.g. {"open":…}) and read a line from stdin to go on.
/// </summary>
internal static class Transactions
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static async Task<object> RunAsync(string command, string[] args)
    {
        var bootstrap = args[1];
        return command switch
        {
            "idempotent-produce" => await IdempotentProduceAsync(bootstrap, args[2], Int(args[3]), Int(args[4]), createTopic: args.Length <= 5 || args[5] != "existing-topic"),
            "txn-produce" => await TxnProduceAsync(bootstrap, args[2], Int(args[3]), args[4], args[5]),
            "read" => Read(bootstrap, args[2], args[3]),
            "txn-offsets" => await TxnOffsetsAsync(bootstrap, args[2], args[3], args[4], args[5]),
            "txn-fence" => await FenceAsync(bootstrap, args[2], args[3]),
            "txn-restart" => await RestartAsync(bootstrap, args[2], args[3]),
            "eos-pipeline" => await EosPipelineAsync(bootstrap, args[2], args[3], args[4], args[5], Int(args[6]), Int(args[7])),
            _ => throw new ArgumentException($"unknown command {command}"),
        };
    }

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static Message<string, string> Numbered(int n, string prefix = "n") => new() { Key = $"key-{n}", Value = $"{prefix}-{n}" };

    /// <summary>The number in a value "n-&lt;n&gt;" / "out-&lt;n&gt;"; -1 for anything else, so stray records show.</summary>
    private static int Number(string? value) =>
        value is not null && value.LastIndexOf('-') is var dash and > 0 && int.TryParse(value.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : -1;

    private static void Print(object line)
    {
        Console.WriteLine(JsonSerializer.Serialize(line));
        Console.Out.Flush();
    }

    private static ProducerConfig TransactionalConfig(string bootstrap, string transactionalId) => new()
    {
        BootstrapServers = bootstrap,
        ClientId = "compat-confluent-dotnet-txn",
        TransactionalId = transactionalId,
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 5,
        TransactionTimeoutMs = 30_000,
        BrokerAddressFamily = BrokerAddressFamily.V4,
    };

    private static string ErrorText(Exception e) => e is KafkaException k ? $"{k.Error.Code}: {k.Error.Reason}" : $"{e.GetType().Name}: {e.Message}";

    /// <summary>
    /// enable.idempotence=true, acks=all, count records to a topic of the given partitions through whatever is at
    /// bootstrap (the test's connection-killing proxy). Small batches and a short reconnect backoff keep several
    /// produce requests in flight whenever a connection dies, so retries and duplicates really happen.
    /// </summary>
    private static async Task<object> IdempotentProduceAsync(string bootstrap, string topic, int partitions, int count, bool createTopic)
    {
        if (createTopic)
        {
            // Skipped ("existing-topic") while the test's proxy cuts connections: an admin request is not retried.
            await Groups.CreateTopicAsync(bootstrap, topic, partitions);
        }

        var config = new ProducerConfig
        {
            BootstrapServers = bootstrap,
            ClientId = "compat-confluent-dotnet-idempotent",
            EnableIdempotence = true,
            Acks = Acks.All,
            LingerMs = 2,
            BatchNumMessages = 100,
            MessageTimeoutMs = 120_000,
            ReconnectBackoffMs = 10,
            ReconnectBackoffMaxMs = 100,
            RetryBackoffMs = 10,
            BrokerAddressFamily = BrokerAddressFamily.V4,
        };
        var errors = new List<string>();
        var delivered = 0;
        using (var producer = new ProducerBuilder<string, string>(config).SetErrorHandler((_, e) =>
        {
            if (e.IsFatal)
            {
                lock (errors)
                {
                    errors.Add("fatal " + e);
                }
            }
        }).Build())
        {
            for (var n = 0; n < count; n++)
            {
                producer.Produce(new TopicPartition(topic, n % partitions), Numbered(n), r =>
                {
                    if (r.Error.IsError)
                    {
                        lock (errors)
                        {
                            if (errors.Count < 5)
                            {
                                errors.Add(r.Error.ToString());
                            }
                        }
                    }
                    else
                    {
                        Interlocked.Increment(ref delivered);
                    }
                });
                if (n % 200 == 199)
                {
                    // A pace (about 2 s for 20,000 records) the proxy's kill interval interrupts many times.
                    Thread.Sleep(20);
                }
            }

            producer.Flush(TimeSpan.FromSeconds(150));
        }

        return new { count = delivered, errors };
    }

    /// <summary>
    /// One transaction per spec item, in order: "commit:0-99,abort:100-199" produces records 0..99 and commits,
    /// then 100..199 and aborts. Each transaction flushes before it ends, so its records are in the log either way.
    /// </summary>
    private static async Task<object> TxnProduceAsync(string bootstrap, string topic, int partitions, string transactionalId, string spec)
    {
        await Groups.CreateTopicAsync(bootstrap, topic, partitions);
        using var producer = new ProducerBuilder<string, string>(TransactionalConfig(bootstrap, transactionalId)).Build();
        producer.InitTransactions(Timeout);
        var ended = new List<string>();
        foreach (var item in spec.Split(','))
        {
            var (action, range) = (item[..item.IndexOf(':')], item[(item.IndexOf(':') + 1)..]);
            var (first, last) = (Int(range[..range.IndexOf('-')]), Int(range[(range.IndexOf('-') + 1)..]));
            producer.BeginTransaction();
            for (var n = first; n <= last; n++)
            {
                producer.Produce(new TopicPartition(topic, n % partitions), Numbered(n));
            }

            producer.Flush(Timeout);
            if (action == "commit")
            {
                producer.CommitTransaction(Timeout);
            }
            else
            {
                producer.AbortTransaction(Timeout);
            }

            ended.Add(item);
        }

        return new { ended };
    }

    /// <summary>
    /// Reads every partition from the beginning to its end (partition EOF: the high watermark for read_uncommitted,
    /// the last stable offset for read_committed) without a group; reports numbers and offsets per partition.
    /// </summary>
    private static object Read(string bootstrap, string topic, string isolation)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = "compat-confluent-dotnet-read",
            ClientId = "compat-confluent-dotnet-read",
            EnableAutoCommit = false,
            EnablePartitionEof = true,
            IsolationLevel = isolation == "read_committed" ? IsolationLevel.ReadCommitted : IsolationLevel.ReadUncommitted,
            BrokerAddressFamily = BrokerAddressFamily.V4,
        };
        using var consumer = new ConsumerBuilder<string, string>(config).Build();
        using var admin = Groups.Admin(bootstrap);
        var count = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics[0].Partitions.Count;
        consumer.Assign(Enumerable.Range(0, count).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var numbers = Enumerable.Range(0, count).ToDictionary(p => p, _ => new List<int>());
        var offsets = Enumerable.Range(0, count).ToDictionary(p => p, _ => new List<long>());
        var atEnd = new HashSet<int>();
        var deadline = DateTime.UtcNow + Timeout;
        string? error = null;
        while (atEnd.Count < count && DateTime.UtcNow < deadline)
        {
            try
            {
                var r = consumer.Consume(TimeSpan.FromSeconds(1));
                if (r is null)
                {
                    continue;
                }

                if (r.IsPartitionEOF)
                {
                    atEnd.Add(r.Partition.Value);
                    continue;
                }

                numbers[r.Partition.Value].Add(Number(r.Message.Value));
                offsets[r.Partition.Value].Add(r.Offset.Value);
            }
            catch (ConsumeException e)
            {
                error = e.Error.ToString();
            }
        }

        var high = Enumerable.Range(0, count).ToDictionary(p => p.ToString(CultureInfo.InvariantCulture), p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value);
        consumer.Close();
        return new
        {
            numbers = numbers.ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => p.Value),
            offsets = offsets.ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => p.Value),
            high,
            at_end = atEnd.Count == count,
            error,
        };
    }

    private static long? CommittedOffset(IConsumer<string, string> consumer, string topic) =>
        consumer.Committed([new TopicPartition(topic, 0)], TimeSpan.FromSeconds(30))[0].Offset is { IsSpecial: false } o ? o.Value : null;

    /// <summary>
    /// Consume-transform-produce on one partition: input records 0..29 (plain producer); the group's consumer
    /// reads 10, a transaction writes them to the output with SendOffsetsToTransaction(10) and commits; the next 10
    /// go the same way but abort (committed offset must stay 10); after seeking back to the committed offset they
    /// are processed again and committed (offset 20).
    /// </summary>
    private static async Task<object> TxnOffsetsAsync(string bootstrap, string input, string output, string group, string transactionalId)
    {
        await Groups.CreateTopicAsync(bootstrap, input, 1);
        await Groups.CreateTopicAsync(bootstrap, output, 1);
        using (var plain = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, BrokerAddressFamily = BrokerAddressFamily.V4 }).Build())
        {
            for (var n = 0; n < 30; n++)
            {
                plain.Produce(new TopicPartition(input, 0), Numbered(n));
            }

            plain.Flush(Timeout);
        }

        var consumerConfig = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = group,
            ClientId = "compat-confluent-dotnet-txn-offsets",
            EnableAutoCommit = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = 6000,
            BrokerAddressFamily = BrokerAddressFamily.V4,
        };
        using var consumer = new ConsumerBuilder<string, string>(consumerConfig).Build();
        using var producer = new ProducerBuilder<string, string>(TransactionalConfig(bootstrap, transactionalId)).Build();
        producer.InitTransactions(Timeout);
        consumer.Assign(new TopicPartitionOffset(input, 0, Offset.Stored));
        var steps = new Dictionary<string, object?>();

        List<int> Transform(int records)
        {
            var seen = new List<int>();
            var deadline = DateTime.UtcNow + Timeout;
            while (seen.Count < records && DateTime.UtcNow < deadline)
            {
                if (consumer.Consume(TimeSpan.FromSeconds(1)) is { Message: { } m })
                {
                    seen.Add(Number(m.Value));
                    producer.Produce(new TopicPartition(output, 0), Numbered(Number(m.Value), "out"));
                }
            }

            // Delivered before the transaction ends: an abort purges what is still queued in the client, and the
            // aborted records must really be in the log for read_committed to skip them.
            producer.Flush(Timeout);
            var position = consumer.Position(new TopicPartition(input, 0));
            producer.SendOffsetsToTransaction([new TopicPartitionOffset(input, 0, position)], consumer.ConsumerGroupMetadata, Timeout);
            return seen;
        }

        producer.BeginTransaction();
        steps["first"] = Transform(10);
        producer.CommitTransaction(Timeout);
        steps["committed_after_commit"] = CommittedOffset(consumer, input);

        producer.BeginTransaction();
        steps["second"] = Transform(10);
        producer.AbortTransaction(Timeout);
        steps["committed_after_abort"] = CommittedOffset(consumer, input);

        // As an application does after an abort: go back to the committed offset and process again.
        consumer.Seek(new TopicPartitionOffset(input, 0, (long)steps["committed_after_abort"]!));
        producer.BeginTransaction();
        steps["retried"] = Transform(10);
        producer.CommitTransaction(Timeout);
        steps["committed_after_retry"] = CommittedOffset(consumer, input);
        consumer.Close();
        return steps;
    }

    /// <summary>
    /// Two producers with one transactional.id: the first begins a transaction and writes 0..9 (delivered), the second's
    /// InitTransactions fences it; the first's next produce and commit fail; the second writes 100..109 and commits.
    /// </summary>
    private static async Task<object> FenceAsync(string bootstrap, string topic, string transactionalId)
    {
        await Groups.CreateTopicAsync(bootstrap, topic, 1);
        var steps = new Dictionary<string, object?>();
        using var zombie = new ProducerBuilder<string, string>(TransactionalConfig(bootstrap, transactionalId)).Build();
        zombie.InitTransactions(Timeout);
        zombie.BeginTransaction();
        for (var n = 0; n < 10; n++)
        {
            zombie.Produce(new TopicPartition(topic, 0), Numbered(n));
        }

        steps["zombie_unflushed"] = zombie.Flush(Timeout);

        using var fresh = new ProducerBuilder<string, string>(TransactionalConfig(bootstrap, transactionalId)).Build();
        fresh.InitTransactions(Timeout);

        // The zombie's produce after the fence: its delivery report (or the produce call) carries the error.
        var reports = new List<string>();
        for (var n = 10; n < 20; n++)
        {
            try
            {
                zombie.Produce(new TopicPartition(topic, 0), Numbered(n), r =>
                {
                    lock (reports)
                    {
                        reports.Add(r.Error.Code.ToString());
                    }
                });
            }
            catch (ProduceException<string, string> e)
            {
                reports.Add(e.Error.Code.ToString());
            }
            catch (KafkaException e)
            {
                reports.Add(e.Error.Code.ToString());
            }
        }

        zombie.Flush(Timeout);
        steps["zombie_produce"] = reports.Distinct().ToList();
        try
        {
            zombie.CommitTransaction(Timeout);
            steps["zombie_commit"] = "NoError";
        }
        catch (KafkaException e)
        {
            steps["zombie_commit"] = e.Error.Code.ToString();
            steps["zombie_commit_fatal"] = e.Error.IsFatal;
            steps["zombie_commit_reason"] = e.Error.Reason;
        }

        fresh.BeginTransaction();
        for (var n = 100; n < 110; n++)
        {
            fresh.Produce(new TopicPartition(topic, 0), Numbered(n));
        }

        fresh.CommitTransaction(Timeout);
        steps["fresh_committed"] = true;
        return steps;
    }

    /// <summary>
    /// Commits 0..99 and 100..199, writes 200..299 in a third transaction (delivered), prints {"open":…} and waits
    /// for a stdin line (the test restarts the broker meanwhile), then commits the third (or aborts it if the commit
    /// fails) and commits 300..399 in a fourth.
    /// </summary>
    private static async Task<object> RestartAsync(string bootstrap, string topic, string transactionalId)
    {
        await Groups.CreateTopicAsync(bootstrap, topic, 1);
        var steps = new Dictionary<string, object?>();
        using var producer = new ProducerBuilder<string, string>(TransactionalConfig(bootstrap, transactionalId)).Build();
        producer.InitTransactions(Timeout);

        void Write(int first, int last)
        {
            for (var n = first; n <= last; n++)
            {
                producer.Produce(new TopicPartition(topic, 0), Numbered(n));
            }

            producer.Flush(Timeout);
        }

        producer.BeginTransaction();
        Write(0, 99);
        producer.CommitTransaction(Timeout);
        producer.BeginTransaction();
        Write(100, 199);
        producer.CommitTransaction(Timeout);
        producer.BeginTransaction();
        Write(200, 299);
        Print(new { open = 200 });
        Console.ReadLine();

        try
        {
            producer.CommitTransaction(Timeout);
            steps["open_txn"] = "committed";
        }
        catch (KafkaTxnRequiresAbortException e)
        {
            steps["open_txn"] = "aborted: " + ErrorText(e);
            producer.AbortTransaction(Timeout);
        }

        producer.BeginTransaction();
        Write(300, 399);
        producer.CommitTransaction(Timeout);
        steps["after_restart"] = "committed";
        return steps;
    }

    /// <summary>
    /// The exactly-once pipeline: a read_committed group consumer of input and a transactional producer; each batch of
    /// up to 100 records becomes "out-&lt;n&gt;" records on the same partition of output, with the consumer's positions
    /// sent to the transaction. Stops when the committed positions add up to total. With crashAfter ≥ 0, once that
    /// many records are committed it writes one more batch in an open transaction, prints {"open":…} and hangs for
    /// the test to kill it.
    /// </summary>
    private static async Task<object> EosPipelineAsync(string bootstrap, string input, string output, string group, string transactionalId, int total, int crashAfter)
    {
        var consumerConfig = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = group,
            ClientId = "compat-confluent-dotnet-eos",
            EnableAutoCommit = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            SessionTimeoutMs = 6000,
            MaxPollIntervalMs = 10_000,
            BrokerAddressFamily = BrokerAddressFamily.V4,
        };
        using var admin = Groups.Admin(bootstrap);
        var partitions = admin.GetMetadata(input, Timeout).Topics[0].Partitions.Select(p => new TopicPartition(input, p.PartitionId)).ToList();
        await Groups.CreateTopicAsync(bootstrap, output, partitions.Count);
        using var consumer = new ConsumerBuilder<string, string>(consumerConfig).Build();
        using var producer = new ProducerBuilder<string, string>(TransactionalConfig(bootstrap, transactionalId)).Build();
        producer.InitTransactions(Timeout);
        consumer.Subscribe(input);

        // Where the group stands (a previous run's commits): done when the committed positions add up to total.
        var committed = consumer.Committed(partitions, Timeout).ToDictionary(tp => tp.Partition.Value, tp => tp.Offset.IsSpecial ? 0 : tp.Offset.Value);
        var (processed, batches, aborts) = (0, 0, 0);
        var errors = new List<string>();
        var deadline = DateTime.UtcNow.AddSeconds(150);
        while (committed.Values.Sum() < total && DateTime.UtcNow < deadline)
        {
            var batch = new List<ConsumeResult<string, string>>();
            while (batch.Count < 100 && consumer.Consume(TimeSpan.FromMilliseconds(batch.Count == 0 ? 500 : 50)) is { } r)
            {
                batch.Add(r);
            }

            if (batch.Count == 0)
            {
                continue;
            }

            var crash = crashAfter >= 0 && processed >= crashAfter;
            try
            {
                producer.BeginTransaction();
                foreach (var r in batch)
                {
                    producer.Produce(new TopicPartition(output, r.Partition.Value), Numbered(Number(r.Message.Value), "out"));
                }

                var positions = batch.GroupBy(r => r.Partition.Value).Select(g => new TopicPartitionOffset(input, g.Key, g.Max(r => r.Offset.Value) + 1)).ToList();
                producer.SendOffsetsToTransaction(positions, consumer.ConsumerGroupMetadata, Timeout);
                if (crash)
                {
                    producer.Flush(Timeout);
                    Print(new { open = batch.Count, processed });
                    Thread.Sleep(System.Threading.Timeout.Infinite);
                }

                producer.CommitTransaction(Timeout);
                foreach (var p in positions)
                {
                    committed[p.Partition.Value] = p.Offset.Value;
                }

                processed += batch.Count;
                batches++;
            }
            catch (KafkaException e) when (e is not KafkaRetriableException && !e.Error.IsFatal)
            {
                // Abortable (e.g. a rebalance fenced the group generation): abort and start again from the commits.
                errors.Add(ErrorText(e));
                aborts++;
                producer.AbortTransaction(Timeout);
                foreach (var tp in consumer.Committed(consumer.Assignment, Timeout))
                {
                    consumer.Seek(tp.Offset.IsSpecial ? new TopicPartitionOffset(tp.TopicPartition, Offset.Beginning) : tp);
                }
            }
        }

        consumer.Close();
        return new { processed, batches, aborts, committed = committed.Values.Sum(), errors = errors.Take(5).ToList() };
    }
}
