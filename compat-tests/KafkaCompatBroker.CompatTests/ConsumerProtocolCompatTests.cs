using System.Globalization;
using System.Text.Json;

namespace KafkaCompatBroker.CompatTests;

/// <summary>
/// KIP-848 (group.protocol=consumer) with Confluent.Kafka 2.15.1 / librdkafka 2.15.1: three consumers
/// share a 6-partition topic through ConsumerGroupHeartbeat, each partition owned by exactly one member
/// (checked with ConsumerGroupDescribe), one leaves and its partitions move to the others, and every
/// record is consumed exactly once (each record is committed with OffsetCommit v9+ and the member epoch).
/// </summary>
[Trait(Categories.Name, Categories.Compat)]
public sealed class ConsumerProtocolCompatTests(CompatBroker broker) : IClassFixture<CompatBroker>
{
    private const int Partitions = 6;
    private const int Records = 3000;

    [Fact]
    public async Task ThreeConsumers_OneLeaves_EveryRecordConsumedExactlyOnce()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var (topic, group) = ($"compat-cg-{id}", $"compat-cg-group-{id}");
        var produced = (await Clients.ConfluentAsync("cg-produce", broker.Bootstrap, topic, Str(Partitions), Str(Records))).Json(broker);
        Assert.Equal(Records, produced.GetProperty("delivered").GetInt32());

        // Two stay until idle and own the partitions between them first; the third joins then, so it gets
        // partitions only once the others revoked them (revoke before assign), reads 200 records and leaves.
        // 20 ms per record keeps the stayers busy well past the hand-over.
        var stayers = new[]
        {
            Clients.ConfluentAsync("cg-consume", broker.Bootstrap, topic, group, "0", "20", "12000"),
            Clients.ConfluentAsync("cg-consume", broker.Bootstrap, topic, group, "0", "20", "12000"),
        };
        await WaitForOwnersAsync(topic, group, 2, stayers[0]);
        var leaver = Clients.ConfluentAsync("cg-consume", broker.Bootstrap, topic, group, "200", "20", "12000");

        var split = await WaitForOwnersAsync(topic, group, 3, leaver);
        var listed = (await Clients.ConfluentAsync("cg-describe", broker.Bootstrap, topic, group, "list")).Json(broker);
        Assert.Equal(("Consumer", "Consumer"), (listed.GetProperty("type").GetString(), listed.GetProperty("listedType").GetString()));

        var results = new List<JsonElement>();
        foreach (var run in (Task<ProcessResult>[])[.. stayers, leaver])
        {
            results.Add((await run).Json(broker));
        }

        // Exactly once: every (partition, offset) once over all members.
        var seen = new HashSet<(int, int)>();
        foreach (var result in results)
        {
            Assert.Empty(result.GetProperty("errors").EnumerateArray());
            foreach (var record in result.GetProperty("consumed").EnumerateArray())
            {
                Assert.True(seen.Add((record[0].GetInt32(), record[1].GetInt32())), $"record {record} consumed twice\n{Describe(results)}");
            }
        }

        Assert.True(Records == seen.Count, $"{seen.Count} of {Records} records consumed\n{Describe(results)}\n{broker.Problems}");
        var left = results[2];
        Assert.Equal(200, left.GetProperty("consumed").GetArrayLength());

        // The leaver's partitions moved: the others read them on from where it committed.
        var leaverPartitions = left.GetProperty("consumed").EnumerateArray().Select(r => r[0].GetInt32()).ToHashSet();
        foreach (var partition in leaverPartitions)
        {
            var lastByLeaver = left.GetProperty("consumed").EnumerateArray().Where(r => r[0].GetInt32() == partition).Max(r => r[1].GetInt32());
            if (lastByLeaver < Records / Partitions - 1)
            {
                Assert.Contains(
                    results.Take(2).SelectMany(r => r.GetProperty("consumed").EnumerateArray()),
                    r => r[0].GetInt32() == partition && r[1].GetInt32() == lastByLeaver + 1);
            }
        }

        Assert.Equal(3, split.Count);
    }

    /// <summary>
    /// KIP-848 online migration of a running group (Kafka 4.x, group.consumer.migration.policy=bidirectional): a
    /// group.protocol=consumer member joins three classic members (the group is upgraded; the classic members hand
    /// partitions over to it), the classic members are replaced one at a time by consumer members, then one consumer
    /// member leaves and the rest are replaced one at a time by classic members (the last consumer member leaving
    /// downgrades the group). After each phase every partition is owned by exactly one member and the records produced
    /// so far are consumed exactly once.
    /// </summary>
    [Fact]
    public async Task Migration_ClassicToConsumerAndBack_RunningGroupConsumesEveryRecordOnce()
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        const int count = 2000;
        var r = (await Clients.ConfluentAsync("group-migrate", broker.Bootstrap, $"compat-migrate-{id}", $"compat-migrate-group-{id}", Str(count), Str(DateTimeOffset.UtcNow.AddHours(-1).ToUnixTimeMilliseconds()))).Json(broker);
        var context = $"{r}\n{broker.Problems}";

        var phases = r.GetProperty("phases").EnumerateArray().ToList();
        Assert.True(phases.Select(p => p.GetProperty("type").GetString()).SequenceEqual(["Classic", "Consumer", "Consumer", "Classic"]), "group types: " + context);
        foreach (var phase in phases)
        {
            Assert.True(phase.GetProperty("balanced").GetBoolean(), $"{phase.GetProperty("phase")}: partitions not shared by the members: " + context);
            Assert.True(phase.GetProperty("consumed").GetBoolean(), $"{phase.GetProperty("phase")}: records not consumed: " + context);
        }

        Assert.True(r.GetProperty("count").GetInt32() == count && r.GetProperty("duplicates").GetInt32() == 0, "not every record exactly once: " + context);
        Assert.True(r.GetProperty("committed").GetInt64() == count, "committed offsets do not add up to every record: " + context);
    }

    /// <summary>Polls ConsumerGroupDescribe until <paramref name="members"/> members own disjoint, non-empty parts covering every partition.</summary>
    private async Task<List<int[]>> WaitForOwnersAsync(string topic, string group, int members, Task consumer)
    {
        var deadline = DateTime.UtcNow.AddSeconds(40);
        var last = "";
        while (DateTime.UtcNow < deadline && !consumer.IsCompleted)
        {
            var described = (await Clients.ConfluentAsync("cg-describe", broker.Bootstrap, topic, group)).Json(broker);
            last = described.ToString();
            if (described.GetProperty("error").ValueKind == JsonValueKind.String)
            {
                await Task.Delay(300); // the group is not there yet
                continue;
            }

            if (described.GetProperty("type").GetString() != "Consumer")
            {
                // Just created: librdkafka's ConsumerGroupDescribe found nothing and its DescribeGroups fallback raced the creation.
                await Task.Delay(300);
                continue;
            }

            var owned = described.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("partitions").EnumerateArray().Select(p => p.GetInt32()).ToArray()).ToList();
            var all = owned.SelectMany(p => p).ToList();
            Assert.Equal(all.Count, all.Distinct().Count()); // never two owners of one partition
            if (owned.Count == members && owned.All(p => p.Length > 0) && all.Count == Partitions)
            {
                return owned;
            }

            await Task.Delay(300); // the pace between describe processes (each starts a .NET client); the loop has a deadline
        }

        Assert.Fail($"{members} members never owned the {Partitions} partitions together; last describe: {last}\n{broker.Problems}");
        return [];
    }

    private static string Describe(List<JsonElement> results) =>
        string.Join('\n', results.Select((r, i) => $"consumer {i}: {r.GetProperty("consumed").GetArrayLength()} records, events {r.GetProperty("events")}, committed {r.GetProperty("committed")}"));

    private static string Str(long value) => value.ToString(CultureInfo.InvariantCulture);
}
