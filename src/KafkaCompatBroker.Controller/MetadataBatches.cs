using System.Buffers;
using KafkaCompatBroker.Records;

namespace KafkaCompatBroker.Controller;

/// <summary>Metadata records in magic v2 record batches: null keys, framed values (<see cref="MetadataRecordSerde"/>), uncompressed.</summary>
internal static class MetadataBatches
{
    /// <summary>Most bytes a compressed batch may inflate to when read (the log writes none, but a replicated log might).</summary>
    public const int MaxDecompressedBytes = 64 * 1024 * 1024;

    /// <summary>Writes one batch holding <paramref name="records"/>; returns its size.</summary>
    public static int Write(IBufferWriter<byte> output, IReadOnlyList<MetadataRecord> records, long timestamp, int leaderEpoch, long baseOffset = 0)
    {
        using var builder = new RecordBatchBuilder(CompressionType.None) { PartitionLeaderEpoch = leaderEpoch, BaseOffset = baseOffset };
        var value = new ArrayBufferWriter<byte>();
        foreach (var record in records)
        {
            value.ResetWrittenCount();
            MetadataRecordSerde.Write(record, value);
            builder.Append(timestamp, default, value.WrittenSpan, default, isKeyNull: true);
        }

        return builder.WriteTo(output);
    }

    /// <summary>
    /// Decodes the records of a (validated, non-control) batch whose offsets are at least <paramref name="fromOffset"/>,
    /// adding (offset, record) pairs to <paramref name="into"/>.
    /// </summary>
    public static void Read(ReadOnlySpan<byte> batch, long fromOffset, PooledBufferWriter scratch, List<(long Offset, MetadataRecord Record)> into)
    {
        foreach (var record in RecordBatch.ReadRecords(batch, scratch, MaxDecompressedBytes))
        {
            if (record.Offset < fromOffset)
            {
                continue;
            }

            if (record.IsValueNull)
            {
                throw new MetadataParseException($"metadata record at offset {record.Offset} has a null value");
            }

            into.Add((record.Offset, MetadataRecordSerde.Read(record.Value)));
        }
    }
}
