using System.Buffers;
using System.Collections;
using System.Reflection;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Fuzz;

/// <summary>Names that the fuzzed requests refer to, so that handlers find what they look up and go deep.</summary>
public sealed record FuzzNames(string Topic, KafkaUuid TopicId, string Group, string TransactionalId);

/// <summary>
/// Builds a valid request of any API and version from the generated message classes: every field the version
/// has gets a plausible value (the known topic, group and transactional id, one-element arrays, partition 0,
/// a real record batch), and waits are clamped (max_wait_ms, timeouts) so a valid request does not park.
/// A field is kept only if the message still writes at that version, which drops fields the version lacks.
/// </summary>
public static class ValidRequests
{
    /// <summary>Header + body (no size prefix) of a valid request.</summary>
    public static byte[] Frame(ApiKey key, short version, int correlationId, FuzzNames names) =>
        Serialize(key, version, correlationId, Build(key, version, names));

    public static byte[] Serialize(ApiKey key, short version, int correlationId, IKafkaMessage body, string? clientId = "fuzz")
    {
        var buffer = new ArrayBufferWriter<byte>();
        new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = correlationId, ClientId = clientId }
            .Write(buffer, KafkaApis.RequestHeaderVersion(key, version));
        body.Write(buffer, version);
        return buffer.WrittenSpan.ToArray();
    }

    public static IKafkaMessage Build(ApiKey key, short version, FuzzNames names)
    {
        var root = KafkaApis.CreateRequest(key);
        Populate(root, root, version, names);
        return root;
    }

    /// <summary>A valid v2 record batch of <paramref name="count"/> records, compressed as asked.</summary>
    public static byte[] RecordBatchBytes(CompressionType compression, int count, long producerId = -1, short producerEpoch = -1, int baseSequence = -1)
    {
        using var builder = new RecordBatchBuilder(compression, producerId, producerEpoch, baseSequence);
        for (var i = 0; i < count; i++)
        {
            builder.Append(1_700_000_000_000 + i, [(byte)i], new byte[16 + i], [new RecordHeader("h", [1, 2])]);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    private static void Populate(object target, IKafkaMessage root, short version, FuzzNames names)
    {
        foreach (var property in target.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            // Manual replica assignments conflict with num_partitions; the defaults (none) are the common case.
            if (!property.CanWrite || property.Name is "UnknownTaggedFields" or "Assignments")
            {
                continue;
            }

            var before = property.GetValue(target);
            var type = property.PropertyType;
            if (IsMessageList(type, out var element))
            {
                // One element, set on its owner before it is filled so each field's write check sees it in place.
                var list = (IList)Activator.CreateInstance(type)!;
                var item = Activator.CreateInstance(element)!;
                list.Add(item);
                property.SetValue(target, list);
                if (Writes(root, version))
                {
                    Populate(item, root, version, names);
                }
                else
                {
                    property.SetValue(target, before);
                }

                continue;
            }

            if (IsMessage(type))
            {
                var item = before ?? Activator.CreateInstance(type)!;
                property.SetValue(target, item);
                if (Writes(root, version))
                {
                    Populate(item, root, version, names);
                }
                else
                {
                    property.SetValue(target, before);
                }

                continue;
            }

            var value = ValueFor(property, target.GetType().Name, before, names);
            if (value is null || Equals(value, before))
            {
                continue;
            }

            property.SetValue(target, value);
            if (!Writes(root, version))
            {
                property.SetValue(target, before);
            }
        }
    }

    private static bool IsMessage(Type type) =>
        type.IsClass && type != typeof(string) && type.Namespace == typeof(ProduceRequest).Namespace && type.GetConstructor(Type.EmptyTypes) is not null;

    private static bool IsMessageList(Type type, out Type element)
    {
        element = typeof(object);
        if (!type.IsGenericType || type.GetGenericTypeDefinition() != typeof(List<>))
        {
            return false;
        }

        element = type.GetGenericArguments()[0];
        return IsMessage(element);
    }

    private static bool Writes(IKafkaMessage root, short version)
    {
        try
        {
            root.Write(new ArrayBufferWriter<byte>(), version);
            return true;
        }
        catch (KafkaProtocolException)
        {
            return false;
        }
    }

    private static object? ValueFor(PropertyInfo property, string owner, object? current, FuzzNames names)
    {
        var type = property.PropertyType;
        var name = property.Name;
        if (type == typeof(string))
        {
            // A nullable string left null (Produce's transactional id, a static member id) keeps its meaning.
            return current is null ? null : StringFor(name, owner, names);
        }

        if (type == typeof(int))
        {
            return IntFor(name) ?? current;
        }

        if (type == typeof(long))
        {
            return name.Contains("Offset", StringComparison.Ordinal) ? 0L : name == "Timestamp" ? -1L : current;
        }

        if (type == typeof(short))
        {
            return name switch
            {
                "ReplicationFactor" => (short)1,
                "Acks" => (short)-1,
                _ => current,
            };
        }

        if (type == typeof(sbyte))
        {
            return name switch
            {
                "ResourceType" => (sbyte)2, // TOPIC, for configs and ACLs alike
                "ResourcePatternType" or "PatternType" or "PatternTypeFilter" => (sbyte)3, // LITERAL
                "Operation" => (sbyte)3, // READ
                "PermissionType" => (sbyte)3, // ALLOW
                _ => current,
            };
        }

        if (type == typeof(KafkaUuid))
        {
            return name.Contains("TopicId", StringComparison.Ordinal) ? names.TopicId : current;
        }

        if (type == typeof(byte[]))
        {
            return BytesFor(name, names);
        }

        if (type == typeof(ReadOnlySequence<byte>?))
        {
            return new ReadOnlySequence<byte>(RecordBatchBytes(CompressionType.None, 2));
        }

        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            return ListFor(type.GetGenericArguments()[0], name, owner, names);
        }

        return null;
    }

    private static IList? ListFor(Type element, string name, string owner, FuzzNames names)
    {
        var list = (IList)Activator.CreateInstance(typeof(List<>).MakeGenericType(element))!;
        object? item = element == typeof(int) ? 0
            : element == typeof(long) ? 0L
            : element == typeof(short) ? (short)0
            : element == typeof(sbyte) ? (sbyte)0
            : element == typeof(string) ? StringFor(name, owner, names)
            : element == typeof(KafkaUuid) ? names.TopicId
            : null;
        if (item is null)
        {
            return null;
        }

        list.Add(item);
        return list;
    }

    private static string StringFor(string name, string owner, FuzzNames names)
    {
        if (name.Contains("GroupId", StringComparison.Ordinal) || name == "Key")
        {
            return names.Group;
        }

        if (name.Contains("TransactionalId", StringComparison.Ordinal))
        {
            return names.TransactionalId;
        }

        if (name == "Name" && owner.Contains("Config", StringComparison.Ordinal))
        {
            return "retention.ms";
        }

        if (name.Contains("Topic", StringComparison.Ordinal) || name == "ResourceName"
            || (name is "Name" or "Names" && owner.Contains("Topic", StringComparison.Ordinal)))
        {
            return names.Topic;
        }

        return name switch
        {
            "Value" => "86400000",
            "MemberId" => "",
            "ProtocolType" => "consumer",
            "Name" or "ProtocolName" or "AssignmentStrategy" when owner.Contains("Protocol", StringComparison.Ordinal) => "range",
            "Principal" or "PrincipalFilter" => "User:fuzz",
            "Host" or "HostFilter" => "*",
            "ClientSoftwareVersion" => "1.0",
            _ => "fuzz",
        };
    }

    private static int? IntFor(string name) => name switch
    {
        "MaxWaitMs" => 10,
        "MinBytes" => 1,
        "SessionTimeoutMs" => 10_000,
        "RebalanceTimeoutMs" => 100,
        "NumPartitions" => 1,
        "Count" => 2,
        "MaxBytes" or "PartitionMaxBytes" => 1 << 20,
        "Partition" or "PartitionIndex" or "Index" => 0,
        _ when name.EndsWith("TimeoutMs", StringComparison.OrdinalIgnoreCase) => 100,
        _ => null,
    };

    private static byte[] BytesFor(string name, FuzzNames names)
    {
        // Group members' metadata and assignments are the consumer protocol's bytes: a version, then the body.
        var output = new ArrayBufferWriter<byte>();
        output.Write<byte>([0, 0]);
        switch (name)
        {
            case "Metadata":
                new ConsumerProtocolSubscription { Topics = [names.Topic] }.Write(output, 0);
                break;
            case "Assignment":
                new ConsumerProtocolAssignment { AssignedPartitions = [new() { Topic = names.Topic, Partitions = [0] }] }.Write(output, 0);
                break;
            default:
                return [1, 2, 3, 4];
        }

        return output.WrittenSpan.ToArray();
    }
}
