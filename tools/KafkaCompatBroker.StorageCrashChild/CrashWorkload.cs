using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.StorageCrashChild;

/// <summary>
/// What the crash child writes, shared with the test that kills it: the log settings, and batches
/// whose bytes follow from (run, sequence) alone, so the test can rebuild every acknowledged batch.
/// </summary>
public static class CrashWorkload
{
    public static readonly TopicPartition TopicPartition = new("crash", 0);

    /// <summary>flush.messages=1 (every append is fsynced before it returns) and small segments so that runs roll.</summary>
    public static LogConfig Config { get; } = new()
    {
        FlushMessages = 1,
        SegmentBytes = 64 * 1024,
        IndexIntervalBytes = 1024,
        FileDeleteDelayMs = 0,
    };

    /// <summary>The leader epoch run <paramref name="run"/> appends with (stored in every batch header).</summary>
    public static int LeaderEpoch(int run) => run;

    /// <summary>
    /// Batch <paramref name="sequence"/> of run <paramref name="run"/>, as a producer sends it (base offset 0,
    /// leader epoch -1): 1 to 24 records of up to 1.5 KiB, some null keys, values and headers, half of the
    /// batches compressed with each of gzip, snappy, lz4 and zstd in turn.
    /// </summary>
    public static byte[] MakeBatch(int run, int sequence)
    {
        var random = new Random((run * 100_003) + sequence);
        var compression = (sequence % 8) switch
        {
            1 => CompressionType.Gzip,
            3 => CompressionType.Snappy,
            5 => CompressionType.Lz4,
            7 => CompressionType.Zstd,
            _ => CompressionType.None,
        };
        using var builder = new RecordBatchBuilder(compression);
        var count = 1 + random.Next(24);
        var timestamp = 1_700_000_000_000 + (run * 10_000_000L) + (sequence * 100L);
        for (var i = 0; i < count; i++)
        {
            var key = random.Next(10) == 0 ? null : Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"r{run}-s{sequence}-{i}"));
            byte[]? value = null;
            if (random.Next(20) != 0)
            {
                value = new byte[random.Next(1536)];
                var noisy = random.Next(value.Length + 1);
                random.NextBytes(value.AsSpan(0, noisy));
                value.AsSpan(noisy).Fill((byte)('a' + (i % 26))); // a compressible tail
            }

            RecordHeader[]? headers = random.Next(4) == 0 ? [new RecordHeader("trace", BitConverter.GetBytes(random.NextInt64()))] : null;
            builder.Append(timestamp + i, key, value, headers);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    /// <summary>The bytes the log stores for <paramref name="batch"/>: the same, with the base offset and leader epoch it assigned.</summary>
    public static byte[] AsStored(byte[] batch, long baseOffset, int leaderEpoch)
    {
        var copy = (byte[])batch.Clone();
        BinaryPrimitives.WriteInt64BigEndian(copy, baseOffset);
        BinaryPrimitives.WriteInt32BigEndian(copy.AsSpan(12), leaderEpoch);
        return copy;
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}

/// <summary>
/// One acknowledged append, as the child prints it once <see cref="PartitionLog.Append"/> has returned:
/// <c>ACK &lt;run&gt; &lt;sequence&gt; &lt;first offset&gt; &lt;last offset&gt; &lt;sha256 of the stored batch&gt;</c>.
/// </summary>
public readonly record struct CrashAck(int Run, int Sequence, long FirstOffset, long LastOffset, string Sha256)
{
    public const string Prefix = "ACK ";

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Prefix}{Run} {Sequence} {FirstOffset} {LastOffset} {Sha256}");

    public static bool TryParse(string line, out CrashAck ack)
    {
        ack = default;
        if (!line.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var parts = line.Split(' ');
        if (parts.Length != 6
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var run)
            || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var sequence)
            || !long.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            || !long.TryParse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture, out var last)
            || parts[5].Length != 64)
        {
            return false;
        }

        ack = new CrashAck(run, sequence, first, last, parts[5]);
        return true;
    }
}
