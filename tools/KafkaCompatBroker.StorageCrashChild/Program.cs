using System.Buffers;
using System.Globalization;
using KafkaCompatBroker.Storage;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.StorageCrashChild;

/// <summary>
/// The process the crash test kills: opens (recovering) the partition log in a directory, appends
/// the run's batches with flush.messages=1 and prints each acknowledged one, until killed.
/// <code>
/// KafkaCompatBroker.StorageCrashChild &lt;log dir&gt; &lt;run&gt; [max batches] [recovery point]
/// stdout: OPEN &lt;log end offset&gt; &lt;segments&gt;, then one ACK line per append (see <see cref="CrashAck"/>), then DONE
/// </code>
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args.Length is < 2 or > 4)
        {
            Console.Error.WriteLine("usage: KafkaCompatBroker.StorageCrashChild <log dir> <run> [max batches] [recovery point]");
            return 2;
        }

        var directory = args[0];
        var run = int.Parse(args[1], CultureInfo.InvariantCulture);
        var maxBatches = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : int.MaxValue;
        var recoveryPoint = args.Length > 3 ? long.Parse(args[3], CultureInfo.InvariantCulture) : 0;

        // Unbuffered: every line goes out with its own write(2) as soon as it is flushed.
        using var stdout = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false, NewLine = "\n" };
        var log = PartitionLog.Open(
            directory,
            CrashWorkload.TopicPartition,
            CrashWorkload.Config,
            new PartitionLogCheckpoint(recoveryPoint, 0),
            cleanShutdown: false,
            new StderrLogger());
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture, $"OPEN {log.LogEndOffset} {log.SegmentCount}"));
        stdout.Flush();

        for (var sequence = 0; sequence < maxBatches; sequence++)
        {
            var batch = CrashWorkload.MakeBatch(run, sequence);
            var result = log.Append(new ReadOnlySequence<byte>(batch), CrashWorkload.LeaderEpoch(run));
            var stored = CrashWorkload.AsStored(batch, result.FirstOffset, CrashWorkload.LeaderEpoch(run));
            stdout.WriteLine(new CrashAck(run, sequence, result.FirstOffset, result.LastOffset, CrashWorkload.Sha256(stored)).ToString());
            stdout.Flush();
        }

        log.Close();
        stdout.WriteLine("DONE");
        stdout.Flush();
        return 0;
    }

    /// <summary>Recovery warnings go to stderr, where the test shows them.</summary>
    private sealed class StderrLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Console.Error.WriteLine($"{logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
            }
        }
    }
}
