using Confluent.Kafka;
using Confluent.Kafka.Admin;

/// <summary>
/// cluster-admin: the AdminClient's ACL calls (the broker has no authorizer, so Kafka answers SECURITY_DISABLED),
/// ElectLeaders (a single node's partitions already have their preferred leader) and AlterConsumerGroupOffsets with
/// unknown topics and partitions. Each call's error code goes into the
/// JSON result; "not supported" would mean the broker does not advertise the API.
/// </summary>
internal static class ClusterAdmin
{
    public static async Task<object> RunAsync(string bootstrap, string topic)
    {
        await Groups.CreateTopicAsync(bootstrap, topic, 2);
        using var admin = Groups.Admin(bootstrap);
        var anyAcl = new AclBindingFilter
        {
            PatternFilter = new ResourcePatternFilter { Type = ResourceType.Any, ResourcePatternType = ResourcePatternType.Any },
            EntryFilter = new AccessControlEntryFilter { Operation = AclOperation.Any, PermissionType = AclPermissionType.Any },
        };
        var binding = new AclBinding
        {
            Pattern = new ResourcePattern { Type = ResourceType.Topic, Name = topic, ResourcePatternType = ResourcePatternType.Literal },
            Entry = new AccessControlEntry { Principal = "User:alice", Host = "*", Operation = AclOperation.Read, PermissionType = AclPermissionType.Allow },
        };
        return new Dictionary<string, object?>
        {
            ["describe_acls"] = await ErrorOf(async () => Console.Error.WriteLine($"described bindings: {(await admin.DescribeAclsAsync(anyAcl)).AclBindings.Count}")),
            ["create_acls"] = await ErrorOf(() => admin.CreateAclsAsync([binding])),
            ["delete_acls"] = await ErrorOf(() => admin.DeleteAclsAsync([anyAcl])),
            ["elect_preferred"] = await ElectAsync(admin, ElectionType.Preferred, [new TopicPartition(topic, 0), new TopicPartition(topic, 1)]),
            ["elect_unclean"] = await ElectAsync(admin, ElectionType.Unclean, [new TopicPartition(topic, 0)]),
            ["elect_unknown"] = await ElectAsync(admin, ElectionType.Preferred, [new TopicPartition(topic, 9)]),
            ["alter_offsets_unknown"] = await AlterOffsetsAsync(admin, topic),
        };
    }

    /// <summary>
    /// AlterConsumerGroupOffsets (OffsetCommit) of a known partition, an unknown partition and an unknown topic: each
    /// partition's error, then the group's committed offsets (only the known partition's).
    /// </summary>
    private static async Task<object> AlterOffsetsAsync(IAdminClient admin, string topic)
    {
        var group = topic + "-group";
        List<TopicPartitionOffsetError> partitions;
        try
        {
            partitions = (await admin.AlterConsumerGroupOffsetsAsync(
                [new ConsumerGroupTopicPartitionOffsets(group, [new TopicPartitionOffset(topic, 0, 3), new TopicPartitionOffset(topic, 9, 4), new TopicPartitionOffset(topic + "-missing", 0, 5)])]))
                .Single().Partitions.Select(p => new TopicPartitionOffsetError(p.TopicPartitionOffset, new Error(ErrorCode.NoError))).ToList();
        }
        catch (AlterConsumerGroupOffsetsException e)
        {
            partitions = e.Results.Single().Partitions;
        }

        var committed = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, null)]);
        return new
        {
            errors = partitions.Select(p => $"{(p.Topic == topic ? "t" : "missing")}:{p.Partition.Value}:{p.Error.Code}").ToArray(),
            committed = committed.Single().Partitions.Where(p => p.Offset.Value >= 0).Select(p => $"{(p.Topic == topic ? "t" : "missing")}:{p.Partition.Value}={p.Offset.Value}").ToArray(),
        };
    }

    /// <summary>"NoError", or the error code (per binding / filter for Create / DeleteAcls) with its message.</summary>
    private static async Task<object> ErrorOf(Func<Task> call)
    {
        try
        {
            await call();
            return "NoError";
        }
        catch (DescribeAclsException e)
        {
            return new[] { $"{e.Result.Error.Code}: {e.Result.Error.Reason}" };
        }
        catch (CreateAclsException e)
        {
            return e.Results.Select(r => $"{r.Error.Code}: {r.Error.Reason}").ToArray();
        }
        catch (DeleteAclsException e)
        {
            return e.Results.Select(r => $"{r.Error.Code}: {r.Error.Reason}").ToArray();
        }
        catch (KafkaException e)
        {
            return new[] { $"{e.Error.Code}: {e.Error.Reason}" };
        }
    }

    /// <summary>Each partition's error code, in the order asked.</summary>
    private static async Task<object> ElectAsync(IAdminClient admin, ElectionType type, List<TopicPartition> partitions)
    {
        try
        {
            var result = await admin.ElectLeadersAsync(type, partitions);
            return result.TopicPartitions.Select(p => $"{p.Partition.Value}:{p.Error.Code}").ToArray();
        }
        catch (ElectLeadersException e)
        {
            return e.Results.TopicPartitions.Select(p => $"{p.Partition.Value}:{p.Error.Code}").ToArray();
        }
        catch (KafkaException e)
        {
            return new[] { $"{e.Error.Code}: {e.Error.Reason}" };
        }
    }
}
