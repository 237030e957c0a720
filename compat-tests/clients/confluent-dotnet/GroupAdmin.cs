using System.Collections.Concurrent;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

/// <summary>
/// group-admin: the AdminClient's group operations against a group with one live member, then against the empty
/// group: list, describe, delete offsets and delete group (refused while the member is there), list/alter/delete
/// committed offsets, delete the group. Each step's answer goes into the JSON result for the test to check.
/// </summary>
internal static class GroupAdmin
{
    public static async Task<object> RunAsync(string bootstrap, string topic, string group)
    {
        await Groups.CreateTopicAsync(bootstrap, topic, 2);
        Groups.Produce(bootstrap, topic, 2, 0, 10, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        using var admin = Groups.Admin(bootstrap);
        var steps = new Dictionary<string, object?>();
        var tally = new Groups.Tally();
        var errors = new ConcurrentQueue<string>();
        // Progress on stderr: if librdkafka crashes natively, the test output shows the last step that finished.
        void Step(string name, object? value)
        {
            steps[name] = value;
            Console.Error.WriteLine($"done: {name}");
        }

        var member = new Groups.Member(bootstrap, topic, group, "range", null, tally, errors);
        Step("member_balanced", Groups.WaitBalanced([member], TimeSpan.FromSeconds(60), 2));
        Step("member_consumed", Groups.WaitCount(tally, 10, TimeSpan.FromSeconds(60)));
        var memberId = member.MemberId;

        Step("listed_active", await ListedStateAsync(admin, group));
        Step("described_active", await DescribeAsync(admin, group, memberId));
        Step("delete_offsets_active", await DeleteOffsetsAsync(admin, group, new TopicPartition(topic, 1)));
        Step("delete_group_active", await DeleteGroupAsync(admin, group));

        member.Dispose();
        Step("described_empty", await DescribeAsync(admin, group, memberId));
        Step("offsets", await OffsetsAsync(admin, group));
        await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(group, [new TopicPartitionOffset(topic, 0, 2)])]);
        Step("offsets_altered", await OffsetsAsync(admin, group));
        Step("delete_offsets", await DeleteOffsetsAsync(admin, group, new TopicPartition(topic, 1)));
        Step("offsets_after_delete", await OffsetsAsync(admin, group));
        Step("delete_group", await DeleteGroupAsync(admin, group));
        Step("listed_deleted", await ListedStateAsync(admin, group));
        Step("described_deleted", await DescribeAsync(admin, group, memberId));
        Step("errors", errors.Take(5).ToList());
        return steps;
    }

    /// <summary>The group's state as ListConsumerGroups reports it, or null when it is not listed.</summary>
    private static async Task<string?> ListedStateAsync(IAdminClient admin, string group)
    {
        var listed = await admin.ListConsumerGroupsAsync(new ListConsumerGroupsOptions { RequestTimeout = TimeSpan.FromSeconds(30) });
        return listed.Valid.FirstOrDefault(g => g.GroupId == group) is { } g ? $"{g.State}" : null;
    }

    private static async Task<object> DescribeAsync(IAdminClient admin, string group, string memberId)
    {
        try
        {
            var described = (await admin.DescribeConsumerGroupsAsync([group])).ConsumerGroupDescriptions.Single();
            return Describe(described, memberId);
        }
        catch (DescribeConsumerGroupsException e)
        {
            var described = e.Results.ConsumerGroupDescriptions.Single();
            return Describe(described, memberId);
        }
    }

    private static Dictionary<string, object?> Describe(ConsumerGroupDescription d, string memberId) => new()
    {
        ["error"] = d.Error.Code.ToString(),
        ["state"] = d.State.ToString(),
        ["protocol"] = d.PartitionAssignor,
        ["simple"] = d.IsSimpleConsumerGroup,
        ["members"] = d.Members.Select(m => new Dictionary<string, object?>
        {
            ["is_member"] = m.ConsumerId == memberId,
            ["client_id"] = m.ClientId,
            ["host"] = m.Host,
            ["assignment"] = m.Assignment?.TopicPartitions.Select(tp => $"{tp.Topic}:{tp.Partition.Value}").Order().ToList(),
        }).ToList(),
    };

    /// <summary>Committed offsets per partition ("topic:partition" → offset; -1001 when none).</summary>
    private static async Task<Dictionary<string, long>> OffsetsAsync(IAdminClient admin, string group)
    {
        var listed = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, null)]);
        return listed.Single().Partitions.ToDictionary(p => $"{p.Topic}:{p.Partition.Value}", p => p.Offset.Value);
    }

    private static async Task<string> DeleteOffsetsAsync(IAdminClient admin, string group, TopicPartition partition)
    {
        try
        {
            await admin.DeleteConsumerGroupOffsetsAsync(group, [partition]);
            return "NoError";
        }
        catch (DeleteConsumerGroupOffsetsException e)
        {
            var partitionError = e.Result.Partitions.FirstOrDefault(p => p.Error.IsError)?.Error.Code;
            return (partitionError ?? e.Result.Error.Code).ToString();
        }
    }

    private static async Task<string> DeleteGroupAsync(IAdminClient admin, string group)
    {
        try
        {
            await admin.DeleteGroupsAsync([group]);
            return "NoError";
        }
        catch (DeleteGroupsException e)
        {
            return e.Results.Single().Error.Code.ToString();
        }
    }
}
