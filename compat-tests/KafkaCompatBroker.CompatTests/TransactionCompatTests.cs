using System.Globalization;
using System.Text.Json;

namespace KafkaCompatBroker.CompatTests;

/// <summary>
/// Idempotent producers, transactions and read_committed with real clients. Records are numbered (value "n-&lt;n&gt;",
/// record n on partition n % partitions), so every check is "these numbers, in this order, on this partition".
/// What a test reads back it reads with librdkafka (the Confluent driver's <c>read</c>: no group, every partition
/// from the beginning to its end: the high watermark for read_uncommitted, the last stable offset for read_committed).
/// kafka-python 2.0.2 has no idempotent or transactional producer and no isolation_level (it always fetches
/// read_uncommitted and hands out control records as data), so it has no class here.
/// </summary>
public abstract class TransactionCompatTests(CompatBroker broker)
{
    protected CompatBroker Broker { get; } = broker;

    protected abstract string Name { get; }

    protected abstract Task<ProcessResult> RunAsync(params string[] args);

    protected static string Str(long value) => value.ToString(CultureInfo.InvariantCulture);

    protected string Unique(string what) => $"compat-{Name}-{what}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>first..last (inclusive) on one partition of a topic with <paramref name="partitions"/> partitions.</summary>
    protected static List<int> Numbers(int first, int last, int partitions = 1, int partition = 0) =>
        [.. Enumerable.Range(first, last - first + 1).Where(n => n % partitions == partition)];

    protected static List<long> Offsets(long first, long last) => [.. Enumerable.Range((int)first, (int)(last - first + 1)).Select(o => (long)o)];

    /// <summary>What librdkafka's reader saw, per partition.</summary>
    protected sealed record ReadResult(Dictionary<int, List<int>> Numbers, Dictionary<int, List<long>> Offsets, Dictionary<int, long> High, string Raw)
    {
        public int Total => Numbers.Values.Sum(n => n.Count);
    }

    protected static async Task<ReadResult> ReadAsync(CompatBroker broker, string topic, string isolation)
    {
        var r = (await Clients.ConfluentAsync("read", broker.Bootstrap, topic, isolation)).Json(broker);
        Assert.True(r.GetProperty("at_end").GetBoolean(), $"the {isolation} reader never reached the end of {topic}: {r}\n{broker.Problems}");
        static Dictionary<int, List<T>> Lists<T>(JsonElement e, Func<JsonElement, T> value) =>
            e.EnumerateObject().ToDictionary(p => int.Parse(p.Name, CultureInfo.InvariantCulture), p => p.Value.EnumerateArray().Select(value).ToList());
        return new ReadResult(
            Lists(r.GetProperty("numbers"), v => v.GetInt32()),
            Lists(r.GetProperty("offsets"), v => v.GetInt64()),
            r.GetProperty("high").EnumerateObject().ToDictionary(p => int.Parse(p.Name, CultureInfo.InvariantCulture), p => p.Value.GetInt64()),
            Truncate(r.ToString()));
    }

    protected Task<ReadResult> ReadAsync(string topic, string isolation) => ReadAsync(Broker, topic, isolation);

    private static string Truncate(string text) => text.Length <= 2000 ? text : text[..2000] + "…";

    protected static void AssertSequence<T>(IEnumerable<T> expected, IEnumerable<T> actual, string what)
    {
        var (e, a) = (expected.ToList(), actual.ToList());
        if (!e.SequenceEqual(a))
        {
            var at = Enumerable.Range(0, Math.Min(e.Count, a.Count)).FirstOrDefault(i => !Equals(e[i], a[i]), Math.Min(e.Count, a.Count));
            Assert.Fail($"{what}: expected {e.Count} items, got {a.Count}; first difference at index {at}: expected {(at < e.Count ? e[at] : "(end)")}, got {(at < a.Count ? a[at] : "(end)")}");
        }
    }

    /// <summary>
    /// One partition, transactions "commit 0..99, abort 100..199, commit 200..299": each transaction marker takes an
    /// offset, so data sits at 0..99, 101..200, 202..301 and the high watermark is 303. read_committed skips the
    /// aborted records; read_uncommitted returns all 300 data records; neither returns a control record.
    /// </summary>
    protected async Task AssertCommitAbortCommitAsync(string topic)
    {
        var committed = await ReadAsync(topic, "read_committed");
        var context = $"{Name} read_committed {committed.Raw}\n{Broker.Problems}";
        AssertSequence([.. Numbers(0, 99), .. Numbers(200, 299)], committed.Numbers[0], "read_committed numbers: " + context);
        AssertSequence([.. Offsets(0, 99), .. Offsets(202, 301)], committed.Offsets[0], "read_committed offsets: " + context);
        Assert.True(committed.High[0] == 303, "high watermark (300 records + 3 markers): " + context);

        var all = await ReadAsync(topic, "read_uncommitted");
        context = $"{Name} read_uncommitted {all.Raw}\n{Broker.Problems}";
        AssertSequence(Numbers(0, 299), all.Numbers[0], "read_uncommitted numbers: " + context);
        AssertSequence([.. Offsets(0, 99), .. Offsets(101, 200), .. Offsets(202, 301)], all.Offsets[0], "read_uncommitted offsets: " + context);
    }
}

/// <summary>Confluent.Kafka 2.15.1 (librdkafka 2.15.1): idempotence under connection drops, transactions, EOS.</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class ConfluentDotnetTransactionTests(CompatBroker broker) : TransactionCompatTests(broker), IClassFixture<CompatBroker>
{
    protected override string Name => "confluent-dotnet";

    protected override Task<ProcessResult> RunAsync(params string[] args) => Clients.ConfluentAsync(args);

    /// <summary>
    /// enable.idempotence=true, acks=all, 20,000 records on 3 partitions through a proxy that resets every connection
    /// each 150 ms: retried batches must neither duplicate nor reorder anything (the broker's sequence checks).
    /// Its own broker, which advertises the proxy.
    /// </summary>
    [InProcessFact]
    public async Task IdempotentProducer_ConnectionsKilled_EveryRecordOnceInOrder()
    {
        const int count = 20_000;
        await using var proxy = new ConnectionKillingProxy(TimeSpan.FromMilliseconds(150));
        var broker = new CompatBroker { Advertised = $"127.0.0.1:{proxy.Port}" };
        await broker.InitializeAsync();
        try
        {
            proxy.TargetPort = broker.ListenPort;
            var topic = Unique("idempotent");
            var created = await RunAsync("idempotent-produce", broker.Bootstrap, topic, "3", "0"); // creates the topic (CreateTopics is not retried)
            Assert.True(created.ExitCode == 0, $"creating the topic through the proxy (not killing yet) failed; connections ended: {proxy.Closes}\n{created.StdErr}\n{broker.Problems}");
            proxy.Killing = true;
            var produced = (await RunAsync("idempotent-produce", broker.Bootstrap, topic, "3", Str(count), "existing-topic")).Json(broker);
            proxy.Killing = false;
            var context = $"{produced}; proxy kills {proxy.Kills}, connections {proxy.Connections}, other ends: {proxy.Closes}\n{broker.Problems}";
            Assert.True(produced.GetProperty("count").GetInt32() == count && produced.GetProperty("errors").GetArrayLength() == 0, "not every record was acknowledged: " + context);
            Assert.True(proxy.Kills >= 3, "the proxy hardly cut any connection while producing: " + context);

            var read = await ReadAsync(broker, topic, "read_uncommitted");
            for (var p = 0; p < 3; p++)
            {
                AssertSequence(Numbers(0, count - 1, 3, p), read.Numbers[p], $"partition {p}: " + context);
            }
        }
        finally
        {
            await broker.DisposeAsync();
        }
    }

    /// <summary>Two committed transactions over 3 partitions: both isolation levels see everything, in order.</summary>
    [Fact]
    public async Task Transaction_Commit_BothIsolationLevelsSeeEveryRecord()
    {
        var topic = Unique("commit");
        (await RunAsync("txn-produce", Broker.Bootstrap, topic, "3", Unique("txn"), "commit:0-299,commit:300-599")).Json(Broker);

        foreach (var isolation in new[] { "read_committed", "read_uncommitted" })
        {
            var read = await ReadAsync(topic, isolation);
            for (var p = 0; p < 3; p++)
            {
                AssertSequence(Numbers(0, 599, 3, p), read.Numbers[p], $"{isolation} partition {p}: {read.Raw}\n{Broker.Problems}");
                Assert.True(read.High[p] == 202, $"partition {p}: 200 records and 2 commit markers, high watermark {read.High[p]}\n{Broker.Problems}");
            }
        }
    }

    [Fact]
    public async Task Transaction_Abort_ReadCommittedSkipsAbortedRecords()
    {
        var topic = Unique("abort");
        (await RunAsync("txn-produce", Broker.Bootstrap, topic, "1", Unique("txn"), "commit:0-99,abort:100-199,commit:200-299")).Json(Broker);

        await AssertCommitAbortCommitAsync(topic);
    }

    /// <summary>
    /// Consume-transform-produce: the group's committed offset moves only with a committed transaction
    /// (SendOffsetsToTransaction → AddOffsetsToTxn + TxnOffsetCommit); after an abort it is where it was.
    /// </summary>
    [Fact]
    public async Task SendOffsetsToTransaction_CommitThenAbort_OffsetsMoveOnlyOnCommit()
    {
        var (input, output) = (Unique("in"), Unique("out"));
        var s = (await RunAsync("txn-offsets", Broker.Bootstrap, input, output, Unique("group"), Unique("txn"))).Json(Broker);
        var context = $"{s}\n{Broker.Problems}";

        static List<int> Ints(JsonElement e) => [.. e.EnumerateArray().Select(v => v.GetInt32())];
        AssertSequence(Numbers(0, 9), Ints(s.GetProperty("first")), "first transaction consumed: " + context);
        Assert.True(s.GetProperty("committed_after_commit").GetInt64() == 10, "committed offset after the committed transaction: " + context);
        AssertSequence(Numbers(10, 19), Ints(s.GetProperty("second")), "second transaction consumed: " + context);
        Assert.True(s.GetProperty("committed_after_abort").GetInt64() == 10, "committed offset after the aborted transaction: " + context);
        AssertSequence(Numbers(10, 19), Ints(s.GetProperty("retried")), "the retry after the abort consumed: " + context);
        Assert.True(s.GetProperty("committed_after_retry").GetInt64() == 20, "committed offset after the retried transaction: " + context);

        AssertSequence(Numbers(0, 19), (await ReadAsync(output, "read_committed")).Numbers[0], "output, read_committed: " + context);
        AssertSequence([.. Numbers(0, 19), .. Numbers(10, 19)], (await ReadAsync(output, "read_uncommitted")).Numbers[0], "output, read_uncommitted: " + context);
    }

    /// <summary>
    /// A second producer with the same transactional.id fences the first: the first's open transaction is aborted
    /// (its records never reach read_committed), its next produce and its commit fail with a fatal fencing error.
    /// </summary>
    [Fact]
    public async Task InitTransactions_SecondProducer_FencesFirstAndAbortsItsTransaction()
    {
        var topic = Unique("fence");
        var s = (await RunAsync("txn-fence", Broker.Bootstrap, topic, Unique("txn"))).Json(Broker);
        var context = $"{s}\n{Broker.Problems}";

        Assert.True(s.GetProperty("zombie_unflushed").GetInt32() == 0, "the first producer's records were not delivered before the fence: " + context);
        // The zombie's produce is refused (INVALID_PRODUCER_EPOCH), which librdkafka turns into a fatal _FENCED error
        // (it normalizes INVALID_PRODUCER_EPOCH and PRODUCER_FENCED to _FENCED); later calls fail as fatal.
        var produceErrors = s.GetProperty("zombie_produce").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.True(produceErrors.Count > 0 && !produceErrors.Contains("NoError"), "the fenced producer's produce: " + context);
        Assert.True(s.GetProperty("zombie_commit").GetString() == "Local_Fenced", "the fenced producer's commit: " + context);
        Assert.True(s.GetProperty("zombie_commit_fatal").GetBoolean(), "fencing is fatal for the fenced producer: " + context);
        Assert.True(s.GetProperty("fresh_committed").GetBoolean(), context);

        AssertSequence(Numbers(100, 109), (await ReadAsync(topic, "read_committed")).Numbers[0], "read_committed: " + context);
        AssertSequence([.. Numbers(0, 9), .. Numbers(100, 109)], (await ReadAsync(topic, "read_uncommitted")).Numbers[0], "read_uncommitted: " + context);
    }

    /// <summary>
    /// The broker restarts while a transaction is open (its records written): committed transactions survive, and
    /// the open one ends all-or-nothing (committed by the producer after it reconnects, or aborted); the producer
    /// goes on with a new transaction.
    /// </summary>
    [InProcessFact]
    public async Task Transaction_BrokerRestartsWhileOpen_CommittedSurviveOpenIsAllOrNothing()
    {
        var topic = Unique("restart");
        using var driver = await DriverProcess.StartConfluentAsync("txn-restart", Broker.Bootstrap, topic, Unique("txn"));
        await driver.WaitForAsync("open", TimeSpan.FromSeconds(120), Broker);
        await Broker.RestartAsync();
        await driver.SendLineAsync("go");
        var s = (await driver.WaitForExitAsync(TimeSpan.FromMinutes(3))).Json(Broker);
        var context = $"{s}\n{Broker.Problems}";

        var openCommitted = s.GetProperty("open_txn").GetString() == "committed";
        var committed = await ReadAsync(topic, "read_committed");
        context = $"{s}, read_committed {committed.Raw}\n{Broker.Problems}";
        AssertSequence([.. Numbers(0, 199), .. (openCommitted ? Numbers(200, 299) : []), .. Numbers(300, 399)], committed.Numbers[0], "read_committed: " + context);
        AssertSequence(Numbers(0, 399), (await ReadAsync(topic, "read_uncommitted")).Numbers[0], "read_uncommitted: " + context);
    }

    /// <summary>
    /// The issue's "done when": a read_committed group consumer + transactional producer copies 3,000 records
    /// (3 partitions) to an output topic with offsets in each transaction. The first run is killed (SIGKILL) with a
    /// transaction open and its records written; a second run with the same transactional.id and group finishes.
    /// read_committed output holds every input record exactly once, in order; the killed transaction's records are
    /// in the log (read_uncommitted) but were aborted.
    /// </summary>
    [Fact]
    public async Task ExactlyOncePipeline_KilledMidTransactionAndRestarted_EachRecordOnce()
    {
        const int total = 3000;
        var (input, output, group, txn) = (Unique("eos-in"), Unique("eos-out"), Unique("group"), Unique("txn"));
        var produced = (await RunAsync("idempotent-produce", Broker.Bootstrap, input, "3", Str(total))).Json(Broker);
        Assert.Equal(total, produced.GetProperty("count").GetInt32());

        JsonElement open;
        using (var first = await DriverProcess.StartConfluentAsync("eos-pipeline", Broker.Bootstrap, input, output, group, txn, Str(total), Str(total / 2)))
        {
            open = await first.WaitForAsync("open", TimeSpan.FromSeconds(150), Broker);
            await first.KillAsync();
        }

        var second = (await RunAsync("eos-pipeline", Broker.Bootstrap, input, output, group, txn, Str(total), "-1")).Json(Broker);
        var context = $"killed run {open}, second run {second}\n{Broker.Problems}";
        Assert.True(second.GetProperty("committed").GetInt64() == total, "the second run did not finish the input: " + context);

        var committed = await ReadAsync(output, "read_committed");
        for (var p = 0; p < 3; p++)
        {
            AssertSequence(Numbers(0, total - 1, 3, p), committed.Numbers[p], $"output partition {p}, read_committed: {context}");
        }

        var all = await ReadAsync(output, "read_uncommitted");
        Assert.True(all.Total >= total + open.GetProperty("open").GetInt32(), $"the killed run's open transaction is not in the log ({all.Total} records): {context}");
    }
}

/// <summary>kafkajs 2.2.4: idempotent producer, transactions (commit, abort, sendOffsets), its read_committed consumer.</summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class KafkajsTransactionTests(CompatBroker broker) : TransactionCompatTests(broker), IClassFixture<CompatBroker>
{
    protected override string Name => "kafkajs";

    protected override Task<ProcessResult> RunAsync(params string[] args) => Clients.KafkajsAsync(args);

    private async Task<Dictionary<int, List<int>>> KafkajsReadAsync(string topic, string isolation, int expected)
    {
        var r = (await RunAsync("read", Broker.Bootstrap, topic, isolation, Str(expected))).Json(Broker);
        return r.GetProperty("numbers").EnumerateObject().ToDictionary(p => int.Parse(p.Name, CultureInfo.InvariantCulture), p => p.Value.EnumerateArray().Select(v => v.GetInt32()).ToList());
    }

    [Fact]
    public async Task IdempotentProducer_Produce_EveryRecordOnceInOrder()
    {
        const int count = 6000;
        var topic = Unique("idempotent");
        (await RunAsync("idempotent-produce", Broker.Bootstrap, topic, "3", Str(count))).Json(Broker);

        var read = await ReadAsync(topic, "read_uncommitted");
        for (var p = 0; p < 3; p++)
        {
            AssertSequence(Numbers(0, count - 1, 3, p), read.Numbers[p], $"partition {p}: {read.Raw}\n{Broker.Problems}");
        }
    }

    /// <summary>kafkajs transactions commit, abort, commit; read by librdkafka and by kafkajs' own consumer.</summary>
    [Fact]
    public async Task Transaction_CommitAbortCommit_ReadCommittedSkipsAbortedRecords()
    {
        var topic = Unique("abort");
        (await RunAsync("txn-produce", Broker.Bootstrap, topic, "1", Unique("txn"), "commit:0-99,abort:100-199,commit:200-299")).Json(Broker);

        await AssertCommitAbortCommitAsync(topic);
        AssertSequence([.. Numbers(0, 99), .. Numbers(200, 299)], (await KafkajsReadAsync(topic, "read_committed", 200)).GetValueOrDefault(0, []), $"kafkajs read_committed\n{Broker.Problems}");
        AssertSequence(Numbers(0, 299), (await KafkajsReadAsync(topic, "read_uncommitted", 300)).GetValueOrDefault(0, []), $"kafkajs read_uncommitted\n{Broker.Problems}");
    }

    /// <summary>kafkajs' read_committed consumer on 3 partitions of transactions written by librdkafka.</summary>
    [Fact]
    public async Task Consumer_ReadCommitted_SkipsRecordsAbortedByAnotherClient()
    {
        var topic = Unique("cross");
        (await Clients.ConfluentAsync("txn-produce", Broker.Bootstrap, topic, "3", Unique("txn"), "commit:0-299,abort:300-599,commit:600-899")).Json(Broker);

        var read = await KafkajsReadAsync(topic, "read_committed", 600);
        for (var p = 0; p < 3; p++)
        {
            AssertSequence([.. Numbers(0, 299, 3, p), .. Numbers(600, 899, 3, p)], read.GetValueOrDefault(p, []), $"kafkajs read_committed partition {p}\n{Broker.Problems}");
        }
    }

    [Fact]
    public async Task SendOffsets_CommitThenAbort_OffsetsMoveOnlyOnCommit()
    {
        var (input, output) = (Unique("in"), Unique("out"));
        var s = (await RunAsync("txn-offsets", Broker.Bootstrap, input, output, Unique("group"), Unique("txn"))).Json(Broker);
        var context = $"{s}\n{Broker.Problems}";

        Assert.True(s.GetProperty("committed_after_commit").GetInt64() == 10, "committed offset after the committed transaction: " + context);
        Assert.True(s.GetProperty("committed_after_abort").GetInt64() == 10, "committed offset after the aborted transaction: " + context);
        Assert.True(s.GetProperty("committed_after_retry").GetInt64() == 20, "committed offset after the retried transaction: " + context);
        AssertSequence(Numbers(0, 19), (await ReadAsync(output, "read_committed")).Numbers[0], "output, read_committed: " + context);
        AssertSequence([.. Numbers(0, 19), .. Numbers(10, 19)], (await ReadAsync(output, "read_uncommitted")).Numbers[0], "output, read_uncommitted: " + context);
    }
}
