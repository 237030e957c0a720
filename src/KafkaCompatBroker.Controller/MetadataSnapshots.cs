using System.Buffers;
using System.Globalization;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Controller;

/// <summary>A snapshot's id: it holds every record below <see cref="EndOffset"/>, the last of which has leader epoch <see cref="Epoch"/>.</summary>
public readonly record struct SnapshotId(long EndOffset, int Epoch)
{
    public const string Suffix = ".checkpoint";
    public const string PartialSuffix = ".checkpoint.part";

    /// <summary>Kafka's name: "&lt;end offset, 20 digits&gt;-&lt;epoch, 10 digits&gt;.checkpoint".</summary>
    public string FileName => string.Create(CultureInfo.InvariantCulture, $"{EndOffset:D20}-{Epoch:D10}{Suffix}");

    public static bool TryParse(string fileName, out SnapshotId id)
    {
        id = default;
        if (!fileName.EndsWith(Suffix, StringComparison.Ordinal) || fileName.Length != 20 + 1 + 10 + Suffix.Length || fileName[20] != '-')
        {
            return false;
        }

        if (!long.TryParse(fileName.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            || !int.TryParse(fileName.AsSpan(21, 10), NumberStyles.None, CultureInfo.InvariantCulture, out var epoch))
        {
            return false;
        }

        id = new SnapshotId(offset, epoch);
        return true;
    }

    public override string ToString() => $"{EndOffset}-{Epoch}";
}

/// <summary>
/// KRaft snapshot files: record batches whose first is a control batch holding a SnapshotHeaderRecord, then
/// batches of metadata records (the image, framed as in the log), then a control batch holding a
/// SnapshotFooterRecord. Written to "*.checkpoint.part", fsynced, and renamed, so a snapshot either exists whole or not at all.
/// </summary>
public static class MetadataSnapshots
{
    private const int RecordsPerBatch = 1000;

    /// <summary>Snapshot ids in <paramref name="directory"/>, oldest first.</summary>
    public static IReadOnlyList<SnapshotId> List(string directory) =>
        [.. Directory.EnumerateFiles(directory, "*" + SnapshotId.Suffix)
            .Select(p => SnapshotId.TryParse(Path.GetFileName(p), out var id) ? id : (SnapshotId?)null)
            .OfType<SnapshotId>()
            .OrderBy(id => id.EndOffset)
            .ThenBy(id => id.Epoch)];

    /// <summary>The snapshot file's bytes for <paramref name="image"/>.</summary>
    public static byte[] Serialize(ClusterImage image, long lastContainedLogTimestamp, long timestamp)
    {
        var output = new ArrayBufferWriter<byte>();
        long offset = 0;

        var header = new SnapshotHeaderRecord { Version = 0, LastContainedLogTimestamp = lastContainedLogTimestamp };
        WriteControlBatch(output, ControlRecordType.SnapshotHeader, header, offset++, timestamp);

        var batch = new List<MetadataRecord>(RecordsPerBatch);
        foreach (var record in image.ToRecords())
        {
            batch.Add(record);
            if (batch.Count == RecordsPerBatch)
            {
                MetadataBatches.Write(output, batch, timestamp, -1, offset);
                offset += batch.Count;
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            MetadataBatches.Write(output, batch, timestamp, -1, offset);
            offset += batch.Count;
        }

        WriteControlBatch(output, ControlRecordType.SnapshotFooter, new SnapshotFooterRecord { Version = 0 }, offset, timestamp);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>Writes the snapshot of <paramref name="image"/> atomically (tmp, fsync, rename, fsync of the directory); returns its path.</summary>
    public static string Write(string directory, SnapshotId id, ClusterImage image, long lastContainedLogTimestamp, long timestamp)
    {
        var bytes = Serialize(image, lastContainedLogTimestamp, timestamp);
        var path = Path.Combine(directory, id.FileName);
        var partial = Path.Combine(directory, Path.GetFileNameWithoutExtension(id.FileName) + SnapshotId.PartialSuffix);
        using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(bytes);
            file.Flush(flushToDisk: true);
        }

        File.Move(partial, path, overwrite: true);
        FileSync.FsyncDirectory(directory);
        return path;
    }

    /// <summary>Reads a snapshot file into an image; throws <see cref="MetadataParseException"/> when it is torn, corrupt or malformed.</summary>
    public static ClusterImage Read(string path, ClusterImage initial)
    {
        var bytes = File.ReadAllBytes(path);
        var enumerator = RecordBatches.Enumerate(new ReadOnlySequence<byte>(bytes));
        var image = initial;
        var records = new List<(long Offset, MetadataRecord Record)>();
        using var scratch = new PooledBufferWriter();
        var sawHeader = false;
        var sawFooter = false;
        while (enumerator.MoveNext())
        {
            var slice = enumerator.Current;
            if (sawFooter)
            {
                throw new MetadataParseException($"snapshot {path} has data after its footer");
            }

            if (slice.TryValidate(out var error) != RecordBatchError.None)
            {
                throw new MetadataParseException($"snapshot {path}: batch at byte {slice.Position} is invalid: {error}");
            }

            var span = bytes.AsSpan((int)slice.Position, slice.Header.TotalSize);
            if (slice.Header.IsControl)
            {
                foreach (var record in RecordBatch.ReadRecords(span, scratch, MetadataBatches.MaxDecompressedBytes))
                {
                    var type = ControlRecords.ReadType(record.Key);
                    if (type == ControlRecordType.SnapshotHeader && !sawHeader && slice.Position == 0)
                    {
                        sawHeader = true;
                    }
                    else if (type == ControlRecordType.SnapshotFooter && sawHeader)
                    {
                        sawFooter = true;
                    }
                    else if (type is not (ControlRecordType.KRaftVersion or ControlRecordType.KRaftVoters))
                    {
                        throw new MetadataParseException($"snapshot {path}: unexpected control record {type} at offset {record.Offset}");
                    }
                }

                continue;
            }

            if (!sawHeader)
            {
                throw new MetadataParseException($"snapshot {path} does not begin with a SnapshotHeaderRecord");
            }

            records.Clear();
            MetadataBatches.Read(span, 0, scratch, records);
            foreach (var (_, record) in records)
            {
                image = image.Apply(record);
            }
        }

        if (enumerator.Status != RecordBatchSequenceStatus.Complete || !sawFooter)
        {
            throw new MetadataParseException($"snapshot {path} is incomplete: it does not end with a SnapshotFooterRecord ({enumerator.Status})");
        }

        return image;
    }

    private static void WriteControlBatch(IBufferWriter<byte> output, ControlRecordType type, IKafkaMessage message, long offset, long timestamp)
    {
        Span<byte> key = stackalloc byte[ControlRecords.KeySize];
        ControlRecords.WriteKey(key, type);
        var value = new ArrayBufferWriter<byte>(message.ComputeSize(0));
        message.Write(value, 0);
        using var builder = new RecordBatchBuilder(CompressionType.None) { IsControl = true, BaseOffset = offset };
        builder.Append(timestamp, key, value.WrittenSpan);
        builder.WriteTo(output);
    }
}
