using Confluent.Kafka;
using Confluent.Kafka.Admin;

/// <summary>
/// cluster-admin: the AdminClient's ACL calls (the broker has no authorizer, so Kafka answers SECURITY_DISABLED) and
/// ElectLeaders (a single node's partitions already have their preferred leader). Each call's error code goes into the
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
