using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

/// <summary>
/// Consumer-group scenarios (classic protocol) for the compat tests: several consumers of one group in this process,
/// each polling on its own thread; every processed record is committed synchronously before the next, so a partition
/// that moves to another member continues exactly after the last processed record.
/// </summary>
internal static class Groups
{
    public const int Partitions = 6;
    private const int SessionTimeoutMs = 6000;
    private static readonly string Pad = new('v', 100);

    public static ulong Digest(string? key, string? value, long timestamp, IEnumerable<(string Key, string? Value)> headers)
    {
        var text = $"{key}\t{value}\t{timestamp}\t{string.Join(',', headers.Select(h => $"{h.Key}={h.Value}"))}";
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(MD5.HashData(Encoding.UTF8.GetBytes(text)));
    }

    public static string Hex(ulong value) => value.ToString("x16", CultureInfo.InvariantCulture);

    public static async Task CreateTopicAsync(string bootstrap, string topic, int partitions)
    {
        using var admin = Admin(bootstrap);
        try
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = 1 }]);
        }
        catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code == ErrorCode.TopicAlreadyExists))
        {
        }
    }

    public static IAdminClient Admin(string bootstrap) =>
        new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap, BrokerAddressFamily = BrokerAddressFamily.V4 }).Build();

    /// <summary>Produces records first..first+count-1 (codec none), record i to partition i % partitions.</summary>
    public static void Produce(string bootstrap, string topic, int partitions, int first, int count, long baseTs)
    {
        var config = new ProducerConfig { BootstrapServers = bootstrap, Acks = Acks.All, LingerMs = 5, BrokerAddressFamily = BrokerAddressFamily.V4 };
        using var producer = new ProducerBuilder<string, string>(config).Build();
        var errors = 0;
        for (var i = first; i < first + count; i++)
        {
            var message = new Message<string, string>
            {
                Key = $"key-{i}",
                Value = $"value-{i}-{Pad}",
                Timestamp = new Timestamp(baseTs + i, TimestampType.CreateTime),
                Headers = new Headers { { "h1", Encoding.UTF8.GetBytes($"hv-{i}") }, { "codec", "none"u8.ToArray() } },
            };
            producer.Produce(new TopicPartition(topic, i % partitions), message, r =>
            {
                if (r.Error.IsError)
                {
                    Interlocked.Increment(ref errors);
                }
            });
        }

        if (producer.Flush(TimeSpan.FromSeconds(60)) != 0 || errors != 0)
        {
            throw new InvalidOperationException($"produce failed: {errors} errors");
        }
    }

    /// <summary>What all members of one run have consumed: (partition, offset) seen, count and checksum.</summary>
    public sealed class Tally
    {
        private readonly ConcurrentDictionary<(int, long), bool> _seen = new();
        private ulong _checksum;
        private int _count;
        private int _duplicates;

        public int Count => Volatile.Read(ref _count);

        public int Duplicates => Volatile.Read(ref _duplicates);

        public string Checksum => Hex(Interlocked.Read(ref _checksum));

        public void Add(ConsumeResult<string, string> r)
        {
            if (!_seen.TryAdd((r.Partition.Value, r.Offset.Value), true))
            {
                Interlocked.Increment(ref _duplicates);
            }

            var m = r.Message;
            var digest = Digest(m.Key, m.Value, m.Timestamp.UnixTimestampMs, m.Headers.Select(h => (h.Key, (string?)Encoding.UTF8.GetString(h.GetValueBytes()))));
            ulong current, next;
            do
            {
                current = Interlocked.Read(ref _checksum);
                next = unchecked(current + digest);
            }
            while (Interlocked.CompareExchange(ref _checksum, next, current) != current);
            Interlocked.Increment(ref _count);
        }
    }

    /// <summary>One group member polling on its own thread; publishes its assignment and rebalance counts.</summary>
    public sealed class Member : IDisposable
    {
        private readonly IConsumer<string, string> _consumer;
        private readonly Tally _tally;
        private readonly Thread _thread;
        private readonly ConcurrentQueue<string> _errors;
        private volatile bool _stop;
        private volatile int[] _assigned = [];
        private int _assignEvents;
        private int _revokeEvents;

        /// <param name="strategy">range or cooperative-sticky (classic protocol), or "consumer" for group.protocol=consumer (KIP-848).</param>
        public Member(string bootstrap, string topic, string group, string strategy, string? instanceId, Tally tally, ConcurrentQueue<string> errors)
        {
            _tally = tally;
            _errors = errors;
            var config = new ConsumerConfig
            {
                BootstrapServers = bootstrap,
                GroupId = group,
                GroupInstanceId = instanceId,
                ClientId = "compat-confluent-dotnet",
                MaxPollIntervalMs = 60_000,
                EnableAutoCommit = false,
                AutoOffsetReset = AutoOffsetReset.Earliest,
                BrokerAddressFamily = BrokerAddressFamily.V4,
            };
            if (strategy == "consumer")
            {
                // The broker decides the session, heartbeat interval and assignor of a KIP-848 member.
                config.GroupProtocol = GroupProtocol.Consumer;
            }
            else
            {
                config.PartitionAssignmentStrategy = strategy == "cooperative-sticky" ? PartitionAssignmentStrategy.CooperativeSticky : PartitionAssignmentStrategy.Range;
                config.SessionTimeoutMs = SessionTimeoutMs;
                config.HeartbeatIntervalMs = 500;
            }

            _consumer = new ConsumerBuilder<string, string>(config)
                .SetPartitionsAssignedHandler((_, _) => Interlocked.Increment(ref _assignEvents))
                .SetPartitionsRevokedHandler((_, _) => Interlocked.Increment(ref _revokeEvents))
                .Build();
            _consumer.Subscribe(topic);
            _thread = new Thread(Run) { IsBackground = true, Name = instanceId ?? "member" };
            _thread.Start();
        }

        public int[] Assigned => _assigned;

        public int AssignEvents => Volatile.Read(ref _assignEvents);

        public int RevokeEvents => Volatile.Read(ref _revokeEvents);

        public string MemberId => _consumer.MemberId;

        /// <summary>The generation, read from librdkafka's serialized group metadata ("CGMDv2:" then the int32 generation).</summary>
        public int Generation()
        {
            var metadata = _consumer.ConsumerGroupMetadata;
            var field = metadata.GetType().GetField("serializedMetadata", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Public);
            var bytes = field?.GetValue(metadata) as byte[] ?? throw new InvalidOperationException("no serialized group metadata");
            if (bytes.Length < 11 || Encoding.ASCII.GetString(bytes, 0, 7) != "CGMDv2:")
            {
                throw new InvalidOperationException("unknown group metadata format");
            }

            return BitConverter.ToInt32(bytes, 7);
        }

        public Dictionary<int, long> Committed(string topic) =>
            _consumer.Committed(Enumerable.Range(0, Partitions).Select(p => new TopicPartition(topic, p)), TimeSpan.FromSeconds(10))
                .ToDictionary(t => t.Partition.Value, t => t.Offset.Value);

        private void Run()
        {
            while (!_stop)
            {
                try
                {
                    var r = _consumer.Consume(TimeSpan.FromMilliseconds(100));
                    if (r?.Message is not null)
                    {
                        _tally.Add(r);
                        _consumer.Commit(r); // commits r.Offset + 1 before the next record is processed
                    }
                }
                catch (KafkaException e)
                {
                    _errors.Enqueue($"{_thread.Name}: {e.Error}");
                }

                _assigned = [.. _consumer.Assignment.Select(p => p.Partition.Value).Order()];
            }
        }

        /// <summary>Stops polling and closes: a dynamic member sends LeaveGroup, a static member does not.</summary>
        public void Dispose()
        {
            if (_stop)
            {
                return; // already closed (a failing run's cleanup may close a member twice)
            }

            _stop = true;
            _thread.Join();
            _consumer.Close();
            _consumer.Dispose();
        }
    }

    /// <summary>Waits until the members' assignments are disjoint, each non-empty and cover every partition.</summary>
    public static bool WaitBalanced(IReadOnlyList<Member> members, TimeSpan timeout, int partitions = Partitions)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            var all = members.SelectMany(m => m.Assigned).ToList();
            if (members.All(m => m.Assigned.Length > 0) && all.Count == partitions && all.Distinct().Count() == partitions)
            {
                return true;
            }

            Thread.Sleep(50);
        }

        return false;
    }

    public static bool WaitCount(Tally tally, int count, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (tally.Count < count && deadline.Elapsed < timeout)
        {
            Thread.Sleep(50);
        }

        return tally.Count >= count;
    }

    /// <summary>
    /// group: three members share a six-partition topic; half the records are consumed, member 3 leaves (close),
    /// the other two take over its partitions, the rest is consumed. Mode "static" starts member 1 first (the group's
    /// leader), restarts it within session.timeout.ms (same group.instance.id) once all three share the topic and checks
    /// nobody rebalanced, then closes member 3 for good.
    /// </summary>
    public static async Task<object> ShareAsync(string bootstrap, string topic, string group, string mode, int count, long baseTs)
    {
        await CreateTopicAsync(bootstrap, topic, Partitions);
        var strategy = mode == "static" ? "range" : mode;
        var tally = new Tally();
        var errors = new ConcurrentQueue<string>();
        var result = new Dictionary<string, object?>();
        string? Instance(int i) => mode == "static" ? $"{group}-instance-{i}" : null;
        var members = new List<Member>();
        try
        {
            if (mode == "static")
            {
                // Member 1 forms the group alone, so it is the leader (which keeps leading while it stays): the leader's
                // restart is the case where a coordinator is most tempted to rebalance.
                members.Add(new Member(bootstrap, topic, group, strategy, Instance(0), tally, errors));
                WaitBalanced(members, TimeSpan.FromSeconds(60));
            }

            while (members.Count < 3)
            {
                members.Add(new Member(bootstrap, topic, group, strategy, Instance(members.Count), tally, errors));
            }

            result["balanced"] = WaitBalanced(members, TimeSpan.FromSeconds(60));
            result["initial"] = members.Select(m => m.Assigned).ToList();
            result["initial_generations"] = members.Select(m => m.Generation()).ToList();

            Produce(bootstrap, topic, Partitions, 0, count / 2, baseTs);
            result["first_half_consumed"] = WaitCount(tally, count / 2, TimeSpan.FromSeconds(60));

            if (mode == "static")
            {
                var before = members.Select(m => (m.AssignEvents, m.RevokeEvents)).ToList();
                var oldAssignment = members[0].Assigned;
                members[0].Dispose(); // a static member's close sends no LeaveGroup
                var restart = Stopwatch.StartNew();
                members[0] = new Member(bootstrap, topic, group, strategy, Instance(0), tally, errors);
                var back = WaitBalanced(members, TimeSpan.FromSeconds(30));
                result["restart"] = new Dictionary<string, object?>
                {
                    ["balanced"] = back,
                    ["ms"] = restart.ElapsedMilliseconds,
                    ["same_partitions"] = members[0].Assigned.SequenceEqual(oldAssignment),
                    ["others_rebalanced"] = members.Select((m, i) => i > 0 && (m.AssignEvents, m.RevokeEvents) != before[i]).Any(x => x),
                    ["generations"] = members.Select(m => m.Generation()).ToList(),
                };
            }

            var gone = members[2];
            members.RemoveAt(2);
            var leave = Stopwatch.StartNew();
            gone.Dispose();
            result["moved"] = WaitBalanced(members, TimeSpan.FromSeconds(60));
            result["moved_ms"] = leave.ElapsedMilliseconds;
            result["after"] = members.Select(m => m.Assigned).ToList();

            Produce(bootstrap, topic, Partitions, count / 2, count - (count / 2), baseTs);
            WaitCount(tally, count, TimeSpan.FromSeconds(60));
            Thread.Sleep(1000); // a duplicate delivered late would still be counted
            result["committed"] = members[0].Committed(topic).Values.Sum();
        }
        finally
        {
            foreach (var m in members)
            {
                m.Dispose();
            }
        }

        result["count"] = tally.Count;
        result["duplicates"] = tally.Duplicates;
        result["checksum"] = tally.Checksum;
        result["errors"] = errors.Take(5).ToList();
        return result;
    }

    /// <summary>
    /// group-migrate: KIP-848 online migration of a running group. Three classic members (range) share a six-partition
    /// topic; a fourth member with group.protocol=consumer joins (the group is upgraded to a consumer group and the classic
    /// members must hand partitions over to it); one at a time the classic members are replaced by consumer members;
    /// then one consumer member leaves and the others are replaced one at a time by classic members (the last consumer
    /// member leaving downgrades the group). A quarter of the records is produced and consumed after each phase; every
    /// record is committed before the next.
    /// Reports the group type after each phase (DescribeConsumerGroups), the assignments, and the tally.
    /// </summary>
    public static async Task<object> MigrateAsync(string bootstrap, string topic, string group, int count, long baseTs)
    {
        await CreateTopicAsync(bootstrap, topic, Partitions);
        var tally = new Tally();
        var errors = new ConcurrentQueue<string>();
        var phases = new List<Dictionary<string, object?>>();
        var members = Enumerable.Range(0, 3).Select(_ => new Member(bootstrap, topic, group, "range", null, tally, errors)).ToList();
        using var admin = Admin(bootstrap);
        var produced = 0;
        async Task PhaseAsync(string name)
        {
            var phase = new Dictionary<string, object?> { ["phase"] = name, ["balanced"] = WaitBalanced(members, TimeSpan.FromSeconds(90)) };
            phase["assignments"] = members.Select(m => m.Assigned).ToList();
            try
            {
                var description = (await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions[0];
                phase["type"] = description.GroupType.ToString();
            }
            catch (DescribeConsumerGroupsException e)
            {
                phase["type"] = e.Error.ToString();
            }

            var batch = count / 4;
            Produce(bootstrap, topic, Partitions, produced, batch, baseTs);
            produced += batch;
            phase["consumed"] = WaitCount(tally, produced, TimeSpan.FromSeconds(90));
            phases.Add(phase);
        }

        try
        {
            await PhaseAsync("classic");
            members.Add(new Member(bootstrap, topic, group, "consumer", null, tally, errors));
            await PhaseAsync("upgraded");
            for (var i = 0; i < 3; i++)
            {
                members[i].Dispose(); // a dynamic member leaves (LeaveGroup / leave heartbeat) before its successor joins
                members[i] = new Member(bootstrap, topic, group, "consumer", null, tally, errors);
            }

            await PhaseAsync("consumer");
            members[3].Dispose();
            members.RemoveAt(3);
            for (var i = 0; i < 3; i++)
            {
                members[i].Dispose();
                members[i] = new Member(bootstrap, topic, group, "range", null, tally, errors);
            }

            await PhaseAsync("downgraded");
            Thread.Sleep(1000); // a duplicate delivered late would still be counted
            return new Dictionary<string, object?>
            {
                ["phases"] = phases,
                ["produced"] = produced,
                ["count"] = tally.Count,
                ["duplicates"] = tally.Duplicates,
                ["committed"] = members[0].Committed(topic).Values.Sum(),
                ["errors"] = errors.Take(5).ToList(),
            };
        }
        finally
        {
            foreach (var m in members)
            {
                m.Dispose();
            }
        }
    }

    /// <summary>
    /// consume-group: one member reads up to max records of the topic (all partitions), committing each record
    /// before the next, then closes. Reports the first offset it read and the offset it committed per partition.
    /// </summary>
    public static object ConsumeGroup(string bootstrap, string topic, string group, int max)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = group,
            ClientId = "compat-confluent-dotnet",
            SessionTimeoutMs = SessionTimeoutMs,
            HeartbeatIntervalMs = 500,
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            BrokerAddressFamily = BrokerAddressFamily.V4,
        };
        var tally = new Tally();
        var first = new SortedDictionary<int, long>();
        var committed = new SortedDictionary<int, long>();
        string? error = null;
        using var consumer = new ConsumerBuilder<string, string>(config).Build();
        consumer.Subscribe(topic);
        var deadline = Stopwatch.StartNew();
        while (tally.Count < max && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (r?.Message is null)
                {
                    continue;
                }

                tally.Add(r);
                first.TryAdd(r.Partition.Value, r.Offset.Value);
                consumer.Commit(r);
                committed[r.Partition.Value] = r.Offset.Value + 1;
            }
            catch (KafkaException e)
            {
                error = e.Error.ToString();
            }
        }

        consumer.Close();
        return new { count = tally.Count, checksum = tally.Checksum, duplicates = tally.Duplicates, first, committed, error };
    }
}
