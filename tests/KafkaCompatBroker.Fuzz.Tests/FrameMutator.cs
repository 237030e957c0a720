using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Fuzz.Tests;

/// <summary>A mutated request: the bytes to send (size prefix included) and what the mutation was, for the failure message.</summary>
public sealed record MutatedFrame(byte[] Bytes, string Description, bool SizePrefixHonest);

/// <summary>
/// Mutates valid request frames. Every choice comes from the one <see cref="Random"/>, so a seed gives the same
/// sequence of frames (given the same seeds, i.e. the same advertised APIs).
/// </summary>
public sealed class FrameMutator(Random random)
{
    // Values that break length and count fields: Kafka's lengths are int16/int32 or unsigned varints (+1 in compact form).
    private static readonly int[] Interesting = [0x7fffffff, 0x57000001, -2, -1, 0, int.MinValue, 0x10000, 0xffff, 0x7fff, 1 << 24];

    public MutatedFrame Mutate(ApiKey key, short version, IKafkaMessage template, int correlationId)
    {
        var kind = random.Next(100);
        var (payload, description) = kind switch
        {
            < 10 => (ValidRequests.Serialize(key, version, correlationId, template), "valid"),
            < 25 => FlipBytes(Valid(key, version, template, correlationId)),
            < 33 => Truncate(Valid(key, version, template, correlationId)),
            < 55 => LieAboutALength(Valid(key, version, template, correlationId)),
            < 63 => HugeVarint(Valid(key, version, template, correlationId)),
            < 73 => RandomApiAndVersion(Valid(key, version, template, correlationId)),
            < 85 => TaggedFields(key, version, template, correlationId),
            _ => CorruptRecordBatch(key, version, template, correlationId),
        };

        if (random.Next(5) == 0)
        {
            var (again, what) = FlipBytes(payload);
            payload = again;
            description += " + " + what;
        }

        return random.Next(25) == 0 ? LieAboutTheSize(payload, description) : new MutatedFrame(Framed(payload, payload.Length), description, true);
    }

    private static byte[] Valid(ApiKey key, short version, IKafkaMessage template, int correlationId) =>
        ValidRequests.Serialize(key, version, correlationId, template);

    private static byte[] Framed(byte[] payload, int size)
    {
        var frame = new byte[payload.Length + 4];
        BinaryPrimitives.WriteInt32BigEndian(frame, size);
        payload.CopyTo(frame, 4);
        return frame;
    }

    private MutatedFrame LieAboutTheSize(byte[] payload, string description)
    {
        var size = random.Next(4) switch
        {
            0 => payload.Length - 1 - random.Next(Math.Max(1, payload.Length / 2)),
            1 => payload.Length + 1 + random.Next(64),
            2 => Interesting[random.Next(Interesting.Length)],
            _ => 0,
        };
        return new MutatedFrame(Framed(payload, size), $"{description} + size prefix {size} for {payload.Length} bytes", false);
    }

    private (byte[], string) FlipBytes(byte[] payload)
    {
        if (payload.Length == 0)
        {
            return (payload, "nothing to flip");
        }

        var copy = (byte[])payload.Clone();
        var count = 1 + random.Next(4);
        var positions = new List<int>();
        for (var i = 0; i < count; i++)
        {
            // Past the 8 bytes of api key, version and correlation id mostly: the body is what is parsed.
            var at = copy.Length <= 8 || random.Next(8) == 0 ? random.Next(copy.Length) : 8 + random.Next(copy.Length - 8);
            copy[at] ^= (byte)(1 + random.Next(255));
            positions.Add(at);
        }

        return (copy, $"bytes flipped at {string.Join(',', positions)}");
    }

    private (byte[], string) Truncate(byte[] payload)
    {
        var length = random.Next(payload.Length);
        return (payload[..length], $"truncated to {length} of {payload.Length} bytes");
    }

    /// <summary>
    /// Overwrites a field that looks like a length or count (a small int16 or int32, or a small varint byte) with a
    /// value that breaks it: the protocol's strings, arrays, bytes and counts (num_partitions too) all look so.
    /// </summary>
    private (byte[], string) LieAboutALength(byte[] payload)
    {
        var copy = (byte[])payload.Clone();
        var candidates = new List<(int At, int Width)>();
        for (var i = 8; i < copy.Length; i++)
        {
            if (i + 4 <= copy.Length && BinaryPrimitives.ReadInt32BigEndian(copy.AsSpan(i)) is >= 0 and <= 64)
            {
                candidates.Add((i, 4));
            }

            if (i + 2 <= copy.Length && BinaryPrimitives.ReadInt16BigEndian(copy.AsSpan(i)) is >= 0 and <= 64)
            {
                candidates.Add((i, 2));
            }

            if (copy[i] is > 0 and <= 64)
            {
                candidates.Add((i, 1));
            }
        }

        if (candidates.Count == 0)
        {
            return FlipBytes(payload);
        }

        var (at, width) = candidates[random.Next(candidates.Count)];
        var current = width switch
        {
            4 => BinaryPrimitives.ReadInt32BigEndian(copy.AsSpan(at)),
            2 => BinaryPrimitives.ReadInt16BigEndian(copy.AsSpan(at)),
            _ => copy[at],
        };
        var value = random.Next(3) == 0 ? current + 1 + random.Next(8) : Interesting[random.Next(Interesting.Length)];
        switch (width)
        {
            case 4:
                BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(at), value);
                break;
            case 2:
                BinaryPrimitives.WriteInt16BigEndian(copy.AsSpan(at), (short)value);
                break;
            default:
                copy[at] = (byte)value;
                break;
        }

        return (copy, $"int{width * 8} at {at} set to {value}");
    }

    /// <summary>Replaces a small byte (a compact length or count) with a long unsigned varint: a huge count in flexible versions.</summary>
    private (byte[], string) HugeVarint(byte[] payload)
    {
        if (payload.Length <= 9)
        {
            return FlipBytes(payload);
        }

        var at = 8 + random.Next(payload.Length - 8);
        var value = (uint)Interesting[random.Next(Interesting.Length)];
        var varint = new List<byte>();
        var v = value;
        while (v >= 0x80)
        {
            varint.Add((byte)(v | 0x80));
            v >>= 7;
        }

        varint.Add((byte)v);
        byte[] copy = [.. payload.AsSpan(0, at), .. varint, .. payload.AsSpan(at + 1)];
        return (copy, $"varint {value} at {at}");
    }

    private (byte[], string) RandomApiAndVersion(byte[] payload)
    {
        var copy = (byte[])payload.Clone();
        var key = (short)(random.Next(4) == 0 ? random.Next(-2, 200) : random.Next(0, 80));
        var version = (short)(random.Next(4) == 0 ? random.Next(short.MinValue, short.MaxValue) : random.Next(-1, 20));
        BinaryPrimitives.WriteInt16BigEndian(copy, key);
        BinaryPrimitives.WriteInt16BigEndian(copy.AsSpan(2), version);
        return (copy, $"api key {key} version {version}");
    }

    /// <summary>Unknown (and known) tags with random data in the header and the body of a flexible version.</summary>
    private (byte[], string) TaggedFields(ApiKey key, short version, IKafkaMessage template, int correlationId)
    {
        if (!KafkaApis.Get(key).IsFlexible(version))
        {
            return FlipBytes(Valid(key, version, template, correlationId));
        }

        var fields = new List<RawTaggedField>();
        var count = 1 + random.Next(3);
        for (var i = 0; i < count; i++)
        {
            var data = new byte[random.Next(12)];
            random.NextBytes(data);
            fields.Add(new RawTaggedField(random.Next(4) == 0 ? random.Next(0, 1 << 20) : random.Next(0, 8) + (fields.Count > 0 ? fields[^1].Tag : 0), data));
        }

        // The writer sorts nothing: tags out of order are malformed in Kafka, which is part of the fuzz.
        var output = new ArrayBufferWriter<byte>();
        var header = new RequestHeader { RequestApiKey = (short)key, RequestApiVersion = version, CorrelationId = correlationId, ClientId = "fuzz" };
        if (random.Next(2) == 0)
        {
            header.UnknownTaggedFields = fields;
        }

        header.Write(output, KafkaApis.RequestHeaderVersion(key, version));
        var saved = TopLevelTags(template);
        SetTopLevelTags(template, header.UnknownTaggedFields is null ? fields : null);
        try
        {
            template.Write(output, version);
        }
        finally
        {
            SetTopLevelTags(template, saved);
        }

        return (output.WrittenSpan.ToArray(), $"tagged fields {string.Join(',', fields.Select(f => $"{f.Tag}:{f.Data.Length}b"))} in the {(header.UnknownTaggedFields is null ? "body" : "header")}");
    }

    private static List<RawTaggedField>? TopLevelTags(IKafkaMessage message) =>
        (List<RawTaggedField>?)message.GetType().GetProperty("UnknownTaggedFields")?.GetValue(message);

    private static void SetTopLevelTags(IKafkaMessage message, List<RawTaggedField>? tags) =>
        message.GetType().GetProperty("UnknownTaggedFields")?.SetValue(message, tags);

    /// <summary>A Produce whose record batch is valid but for one field, its CRC recomputed half of the time so the corruption gets past the CRC check.</summary>
    private (byte[], string) CorruptRecordBatch(ApiKey key, short version, IKafkaMessage template, int correlationId)
    {
        if (template is not ProduceRequest produce || produce.TopicData is not [{ PartitionData: [var partition] }])
        {
            return LieAboutALength(Valid(key, version, template, correlationId));
        }

        var compression = (CompressionType)random.Next(5);
        var batch = ValidRequests.RecordBatchBytes(compression, 1 + random.Next(4), producerId: random.Next(3) == 0 ? random.Next(1000) : -1, producerEpoch: 0, baseSequence: 0);

        // Offsets in a v2 batch (Kafka's DefaultRecordBatch): batchLength 8, magic 16, crc 17, attributes 21,
        // lastOffsetDelta 23, producerId 43, producerEpoch 51, baseSequence 53, recordsCount 57, records 61.
        (int At, int Width)[] fields = [(8, 4), (16, 1), (21, 2), (23, 4), (27, 8), (35, 8), (43, 8), (51, 2), (53, 4), (57, 4), (61, 1), (62, 1), (63, 1), (64, 1), (65, 1)];
        var (at, width) = fields[random.Next(fields.Length)];
        if (random.Next(4) == 0 && batch.Length > 62)
        {
            at = 61 + random.Next(batch.Length - 61);
            width = 1;
        }

        var value = Interesting[random.Next(Interesting.Length)];
        switch (width)
        {
            case 8:
                BinaryPrimitives.WriteInt64BigEndian(batch.AsSpan(at), value);
                break;
            case 4:
                BinaryPrimitives.WriteInt32BigEndian(batch.AsSpan(at), value);
                break;
            case 2:
                BinaryPrimitives.WriteInt16BigEndian(batch.AsSpan(at), (short)value);
                break;
            default:
                batch[at] = (byte)value;
                break;
        }

        var crc = random.Next(2) == 0 && BinaryPrimitives.ReadInt32BigEndian(batch.AsSpan(8)) == batch.Length - 12;
        if (crc)
        {
            RecordBatch.WriteCrc(batch);
        }

        var saved = partition.Records;
        partition.Records = new ReadOnlySequence<byte>(batch);
        try
        {
            return (Valid(key, version, template, correlationId), $"{compression} batch with {width} bytes at {at} set to {value}{(crc ? ", crc recomputed" : "")}");
        }
        finally
        {
            partition.Records = saved;
        }
    }
}
