using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.MetadataRecords;

namespace KafkaCompatBroker.Controller;

/// <summary>Record types of the KRaft metadata log: each record schema's apiKey.</summary>
public enum MetadataRecordType : short
{
    RegisterBroker = 0,
    UnregisterBroker = 1,
    Topic = 2,
    Partition = 3,
    Config = 4,
    PartitionChange = 5,
    FenceBroker = 7,
    UnfenceBroker = 8,
    RemoveTopic = 9,
    DelegationToken = 10,
    UserScramCredential = 11,
    FeatureLevel = 12,
    ClientQuota = 14,
    ProducerIds = 15,
    BrokerRegistrationChange = 17,
    AccessControlEntry = 18,
    RemoveAccessControlEntry = 19,
    NoOp = 20,
    ZkMigrationState = 21,
    RemoveUserScramCredential = 22,
    BeginTransaction = 23,
    EndTransaction = 24,
    AbortTransaction = 25,
    RemoveDelegationToken = 26,
    RegisterController = 27,
}

/// <summary>A metadata record and the version it is (or was) encoded at (Kafka's ApiMessageAndVersion).</summary>
public readonly record struct MetadataRecord(IKafkaMessage Message, short Version)
{
    public MetadataRecordType Type => MetadataRecordSerde.TypeOf(Message);
}

/// <summary>A metadata record value that cannot be decoded (Kafka's MetadataParseException).</summary>
public sealed class MetadataParseException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The value framing of KRaft metadata records (Kafka's MetadataRecordSerde / AbstractApiMessageSerde):
/// <c>unsigned varint frame version (1)</c>, <c>unsigned varint record type (apiKey)</c>,
/// <c>unsigned varint record version</c>, then the record body. Records carry a null key.
/// </summary>
public static class MetadataRecordSerde
{
    public const int FrameVersion = 1;

    public static MetadataRecordType TypeOf(IKafkaMessage message) => message switch
    {
        RegisterBrokerRecord => MetadataRecordType.RegisterBroker,
        UnregisterBrokerRecord => MetadataRecordType.UnregisterBroker,
        TopicRecord => MetadataRecordType.Topic,
        PartitionRecord => MetadataRecordType.Partition,
        ConfigRecord => MetadataRecordType.Config,
        PartitionChangeRecord => MetadataRecordType.PartitionChange,
        FenceBrokerRecord => MetadataRecordType.FenceBroker,
        UnfenceBrokerRecord => MetadataRecordType.UnfenceBroker,
        RemoveTopicRecord => MetadataRecordType.RemoveTopic,
        DelegationTokenRecord => MetadataRecordType.DelegationToken,
        UserScramCredentialRecord => MetadataRecordType.UserScramCredential,
        FeatureLevelRecord => MetadataRecordType.FeatureLevel,
        ClientQuotaRecord => MetadataRecordType.ClientQuota,
        ProducerIdsRecord => MetadataRecordType.ProducerIds,
        BrokerRegistrationChangeRecord => MetadataRecordType.BrokerRegistrationChange,
        AccessControlEntryRecord => MetadataRecordType.AccessControlEntry,
        RemoveAccessControlEntryRecord => MetadataRecordType.RemoveAccessControlEntry,
        NoOpRecord => MetadataRecordType.NoOp,
        ZkMigrationStateRecord => MetadataRecordType.ZkMigrationState,
        RemoveUserScramCredentialRecord => MetadataRecordType.RemoveUserScramCredential,
        BeginTransactionRecord => MetadataRecordType.BeginTransaction,
        EndTransactionRecord => MetadataRecordType.EndTransaction,
        AbortTransactionRecord => MetadataRecordType.AbortTransaction,
        RemoveDelegationTokenRecord => MetadataRecordType.RemoveDelegationToken,
        RegisterControllerRecord => MetadataRecordType.RegisterController,
        _ => throw new ArgumentException($"{message.GetType().Name} is not a metadata record", nameof(message)),
    };

    /// <summary>An empty codec for a record type, or null when the type is unknown.</summary>
    public static IKafkaMessage? Create(MetadataRecordType type) => type switch
    {
        MetadataRecordType.RegisterBroker => new RegisterBrokerRecord(),
        MetadataRecordType.UnregisterBroker => new UnregisterBrokerRecord(),
        MetadataRecordType.Topic => new TopicRecord(),
        MetadataRecordType.Partition => new PartitionRecord(),
        MetadataRecordType.Config => new ConfigRecord(),
        MetadataRecordType.PartitionChange => new PartitionChangeRecord(),
        MetadataRecordType.FenceBroker => new FenceBrokerRecord(),
        MetadataRecordType.UnfenceBroker => new UnfenceBrokerRecord(),
        MetadataRecordType.RemoveTopic => new RemoveTopicRecord(),
        MetadataRecordType.DelegationToken => new DelegationTokenRecord(),
        MetadataRecordType.UserScramCredential => new UserScramCredentialRecord(),
        MetadataRecordType.FeatureLevel => new FeatureLevelRecord(),
        MetadataRecordType.ClientQuota => new ClientQuotaRecord(),
        MetadataRecordType.ProducerIds => new ProducerIdsRecord(),
        MetadataRecordType.BrokerRegistrationChange => new BrokerRegistrationChangeRecord(),
        MetadataRecordType.AccessControlEntry => new AccessControlEntryRecord(),
        MetadataRecordType.RemoveAccessControlEntry => new RemoveAccessControlEntryRecord(),
        MetadataRecordType.NoOp => new NoOpRecord(),
        MetadataRecordType.ZkMigrationState => new ZkMigrationStateRecord(),
        MetadataRecordType.RemoveUserScramCredential => new RemoveUserScramCredentialRecord(),
        MetadataRecordType.BeginTransaction => new BeginTransactionRecord(),
        MetadataRecordType.EndTransaction => new EndTransactionRecord(),
        MetadataRecordType.AbortTransaction => new AbortTransactionRecord(),
        MetadataRecordType.RemoveDelegationToken => new RemoveDelegationTokenRecord(),
        MetadataRecordType.RegisterController => new RegisterControllerRecord(),
        _ => null,
    };

    /// <summary>The exact size of the framed value.</summary>
    public static int ComputeSize(in MetadataRecord record) =>
        ProtocolSize.UnsignedVarint(FrameVersion)
        + ProtocolSize.UnsignedVarint((uint)record.Type)
        + ProtocolSize.UnsignedVarint((uint)record.Version)
        + record.Message.ComputeSize(record.Version);

    /// <summary>Writes the framed value (frame version, type, version, body).</summary>
    public static void Write(in MetadataRecord record, IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var span = output.GetSpan(15);
        var pos = WriteUnsignedVarint(span, FrameVersion);
        pos += WriteUnsignedVarint(span[pos..], (uint)record.Type);
        pos += WriteUnsignedVarint(span[pos..], (uint)record.Version);
        output.Advance(pos);
        record.Message.Write(output, record.Version);
    }

    /// <summary>The framed value as a new array.</summary>
    public static byte[] Serialize(in MetadataRecord record)
    {
        var writer = new ArrayBufferWriter<byte>(ComputeSize(record));
        Write(record, writer);
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>Decodes a framed value; throws <see cref="MetadataParseException"/> when it is malformed or of an unknown type.</summary>
    public static MetadataRecord Read(ReadOnlySpan<byte> value) => Read(new ReadOnlySequence<byte>(value.ToArray()));

    /// <inheritdoc cref="Read(ReadOnlySpan{byte})"/>
    public static MetadataRecord Read(in ReadOnlySequence<byte> value)
    {
        var reader = new SequenceReader<byte>(value);
        try
        {
            var frameVersion = ReadShort(ref reader, "frame version");
            if (frameVersion != FrameVersion)
            {
                throw new MetadataParseException($"Could not deserialize metadata record due to unknown frame version {frameVersion} (only frame version {FrameVersion} is supported)");
            }

            var type = ReadShort(ref reader, "type");
            var version = ReadShort(ref reader, "version");
            var message = Create((MetadataRecordType)type)
                ?? throw new MetadataParseException($"Unknown metadata record type {type}");
            if (version < message.LowestSupportedVersion || version > message.HighestSupportedVersion)
            {
                throw new MetadataParseException($"Unsupported version {version} of metadata record type {type} ({message.GetType().Name} supports {message.LowestSupportedVersion} to {message.HighestSupportedVersion})");
            }

            message.Read(ref reader, version);
            if (reader.Remaining != 0)
            {
                throw new MetadataParseException($"Found {reader.Remaining} byte(s) of garbage after {message.GetType().Name} version {version}");
            }

            return new MetadataRecord(message, version);
        }
        catch (KafkaProtocolException e)
        {
            throw new MetadataParseException($"Failed to deserialize metadata record: {e.Message}", e);
        }
    }

    private static short ReadShort(ref SequenceReader<byte> reader, string what)
    {
        var value = ProtocolReader.ReadUnsignedVarint(ref reader);
        if (value > (uint)short.MaxValue)
        {
            throw new MetadataParseException($"Value for {what} was too large.");
        }

        return (short)value;
    }

    private static int WriteUnsignedVarint(Span<byte> destination, uint value)
    {
        var i = 0;
        while (value >= 0x80)
        {
            destination[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        destination[i++] = (byte)value;
        return i;
    }
}
