using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Fuzz;

/// <summary>
/// The codec entry points a coverage-guided fuzzer drives. Each returns normally for input that it accepts or
/// rejects with the codec's own exception; any other exception (or a hang, or a crash) is a finding.
/// </summary>
public static class Targets
{
    private const int MaxDecompressedBytes = 1 << 20;

    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
    {
        ["request"] = Request,
        ["records"] = Records,
        ["metadata-record"] = MetadataRecordValue,
    };

    /// <summary>
    /// A request frame without its size prefix, decoded as RequestDispatcher does (header, then the body of the
    /// API and version it names); what decodes must also re-encode to exactly ComputeSize bytes.
    /// </summary>
    public static void Request(byte[] frame)
    {
        if (frame.Length < 8)
        {
            return;
        }

        var api = KafkaApis.Find(BinaryPrimitives.ReadInt16BigEndian(frame));
        var version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
        if (api is null || version < api.MinVersion || version > api.MaxVersion)
        {
            return;
        }

        var body = KafkaApis.CreateRequest(api.Key);
        if (version < body.LowestSupportedVersion)
        {
            return;
        }

        try
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
            new RequestHeader().Read(ref reader, KafkaApis.RequestHeaderVersion(api.Key, version));
            body.Read(ref reader, version);
        }
        catch (KafkaProtocolException)
        {
            return;
        }

        var output = new ArrayBufferWriter<byte>();
        body.Write(output, version);
        if (output.WrittenCount != body.ComputeSize(version))
        {
            throw new InvalidOperationException($"{api.Key} v{version}: wrote {output.WrittenCount} bytes, ComputeSize said {body.ComputeSize(version)}");
        }
    }

    /// <summary>
    /// A records field: every batch validated, then each batch's records read (decompressing). The CRCs are
    /// recomputed first, so that mutations reach what a CRC-correct corrupt batch would (the fuzzer cannot).
    /// </summary>
    public static void Records(byte[] records)
    {
        for (var at = 0; at + RecordBatchHeader.Size <= records.Length;)
        {
            var total = RecordBatchHeader.LogOverhead + BinaryPrimitives.ReadInt32BigEndian(records.AsSpan(at + 8));
            if (total < RecordBatchHeader.Size || total > records.Length - at)
            {
                break;
            }

            RecordBatch.WriteCrc(records.AsSpan(at, total));
            at += total;
        }

        var sequence = new ReadOnlySequence<byte>(records);
        if (RecordBatches.TryValidateAll(sequence, RecordBatchValidation.Stored, out _, out _) != RecordBatchError.None)
        {
            return;
        }

        using var scratch = new PooledBufferWriter();
        foreach (var batch in RecordBatches.Enumerate(sequence))
        {
            try
            {
                var reader = RecordBatch.ReadRecords(batch.Bytes.ToArray(), scratch, MaxDecompressedBytes);
                while (reader.MoveNext())
                {
                    foreach (var header in reader.Current.Headers)
                    {
                        _ = header.Key.Length + header.Value.Length;
                    }
                }
            }
            catch (RecordsException)
            {
                return;
            }
        }
    }

    /// <summary>A metadata log record value (frame version, type, version, body), as the controller replays it.</summary>
    public static void MetadataRecordValue(byte[] value)
    {
        try
        {
            var record = MetadataRecordSerde.Read(value);
            _ = MetadataRecordSerde.Serialize(record);
        }
        catch (MetadataParseException)
        {
        }
    }
}
