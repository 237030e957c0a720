using System.Buffers;
using System.Text;
using KafkaCompatBroker.Records;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Storage.Tests;

/// <summary>A temporary directory removed when the test ends.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kcb-storage-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

/// <summary>A clock the test moves by hand.</summary>
internal sealed class ManualTime(long startMs = 1_700_000_000_000) : TimeProvider
{
    private long _nowMs = startMs;

    public long NowMs => Interlocked.Read(ref _nowMs);

    public void Advance(long ms) => Interlocked.Add(ref _nowMs, ms);

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(NowMs);
}

/// <summary>Collects log lines so tests can check what was reported.</summary>
internal sealed class ListLogger : ILogger
{
    private readonly List<(LogLevel Level, string Message)> _lines = [];

    /// <summary>A snapshot of the lines so far (background work may still be logging).</summary>
    public IReadOnlyList<(LogLevel Level, string Message)> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines)
        {
            _lines.Add((logLevel, formatter(state, exception)));
        }
    }

    public IEnumerable<string> Warnings
    {
        get
        {
            return Lines.Where(l => l.Level == LogLevel.Warning).Select(l => l.Message).ToList();
        }
    }
}

internal static class Batches
{
    /// <summary>A v2 batch of <paramref name="count"/> records "k{i}" → "v{i}" with timestamps <paramref name="timestamp"/> + i.</summary>
    public static byte[] Make(int count, long timestamp = 1_700_000_000_000, int valueSize = 0, CompressionType compression = CompressionType.None, string keyPrefix = "k", Func<int, byte[]?>? value = null)
    {
        using var builder = new RecordBatchBuilder(compression);
        for (var i = 0; i < count; i++)
        {
            var v = value is not null ? value(i) : Encoding.UTF8.GetBytes($"v{i}".PadRight(Math.Max(valueSize, 2), 'x'));
            builder.Append(timestamp + i, Encoding.UTF8.GetBytes($"{keyPrefix}{i}"), v);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    public static ReadOnlySequence<byte> Seq(byte[] bytes) => new(bytes);

    /// <summary><paramref name="bytes"/> as two segments split at <paramref name="at"/>, as a request spanning two receive buffers arrives.</summary>
    public static ReadOnlySequence<byte> Split(byte[] bytes, int at)
    {
        var first = new Segment(bytes.AsMemory(0, at), 0);
        var second = first.Append(bytes.AsMemory(at));
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    /// <summary>Reads a fetch result's bytes.</summary>
    public static byte[] Bytes(LogReadResult result)
    {
        if (result.Region is not { } region)
        {
            return [];
        }

        var bytes = new byte[region.Length];
        region.CopyTo(bytes);
        return bytes;
    }

    /// <summary>The (offset, key, value) of every record in a run of whole batches.</summary>
    public static List<(long Offset, string? Key, string? Value)> Records(byte[] batches)
    {
        var result = new List<(long, string?, string?)>();
        using var scratch = new PooledBufferWriter();
        var position = 0;
        while (position + RecordBatchHeader.Size <= batches.Length)
        {
            var header = RecordBatchHeader.Read(batches.AsSpan(position));
            if (position + header.TotalSize > batches.Length)
            {
                break; // a partial trailing batch
            }

            var batch = batches.AsSpan(position, header.TotalSize);
            if (!header.IsControl)
            {
                foreach (var record in RecordBatch.ReadRecords(batch, scratch, int.MaxValue))
                {
                    result.Add((record.Offset, record.IsKeyNull ? null : Encoding.UTF8.GetString(record.Key), record.IsValueNull ? null : Encoding.UTF8.GetString(record.Value)));
                }
            }

            position += header.TotalSize;
        }

        return result;
    }
}
