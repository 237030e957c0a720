using System.Diagnostics;
using System.Globalization;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Records;
using KafkaCompatBroker.StorageCrashChild;
using Xunit.Abstractions;

namespace KafkaCompatBroker.Storage.Tests;

/// <summary>
/// Crash safety of the partition log: a child process (tools/KafkaCompatBroker.StorageCrashChild) appends
/// with flush.messages=1 and prints every acknowledged batch; it is SIGKILLed at random moments, and the
/// log must keep every acknowledged batch byte for byte. Plus recovery from corruption across segments.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class CrashRecoveryTests(ITestOutputHelper output) : IDisposable
{
    private const int Runs = 20;
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(30);

    private readonly TempDir _dir = new();
    private readonly ListLogger _logger = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Append_ChildSigkilledAtRandom20Times_KeepsEveryAcknowledgedBatchByteIdentical()
    {
        var logDir = Path.Combine(_dir.Path, CrashWorkload.TopicPartition.DirectoryName);
        await TestSeed.RunAsync(20_251_107, async random =>
        {
            var acks = new List<CrashAck>();
            var durableEnd = 0L; // the last acknowledged offset + 1: everything below it must survive
            var runsWithUnacknowledgedTail = 0;
            var stopwatch = Stopwatch.StartNew();

            for (var run = 0; run < Runs; run++)
            {
                // Odd runs recover from a checkpointed recovery point (segments below it are trusted), even
                // runs validate the whole log. Every fifth run may be killed before it even opened the log.
                var recoveryPoint = run % 2 == 1 ? durableEnd : 0;
                var killEarly = run % 5 == 2;
                var delayMs = killEarly ? random.Next(0, 400) : random.Next(0, 300);
                var result = await RunAndKillChildAsync(logDir, run, recoveryPoint, killEarly, delayMs);

                var runAcks = new List<CrashAck>();
                long? openedAt = null;
                foreach (var line in result.Lines)
                {
                    if (line.StartsWith("OPEN ", StringComparison.Ordinal))
                    {
                        openedAt = long.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
                    }
                    else if (CrashAck.TryParse(line, out var ack))
                    {
                        runAcks.Add(ack);
                    }
                    else if (line != "DONE")
                    {
                        Assert.Fail($"run {run}: unexpected child output line '{line}'");
                    }
                }

                if (openedAt is { } leo)
                {
                    // Recovery kept everything acknowledged by earlier runs (and maybe a batch written but not yet acknowledged).
                    Assert.True(leo >= durableEnd, $"run {run} recovered the log to {leo}, below the acknowledged end {durableEnd}\n{result.Stderr}");
                    runsWithUnacknowledgedTail += leo > durableEnd ? 1 : 0;
                    var expectedNext = leo;
                    for (var i = 0; i < runAcks.Count; i++)
                    {
                        var ack = runAcks[i];
                        Assert.Equal((run, i, expectedNext), (ack.Run, ack.Sequence, ack.FirstOffset));
                        expectedNext = ack.LastOffset + 1;
                    }
                }
                else
                {
                    Assert.Empty(runAcks);
                }

                acks.AddRange(runAcks);
                durableEnd = acks.Count > 0 ? acks[^1].LastOffset + 1 : 0;
                output.WriteLine(
                    $"run {run,2}: {(killEarly ? "early " : "")}kill after {delayMs,3} ms{(result.Killed ? "" : $" (exited {result.ExitCode})")}, " +
                    $"opened at {(openedAt is { } o ? o.ToString(CultureInfo.InvariantCulture) : "-")}, {runAcks.Count} acks, durable end {durableEnd}, " +
                    $"{result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(l => l.StartsWith("Warning", StringComparison.Ordinal))} recovery warnings");
            }

            output.WriteLine($"{Runs} runs in {stopwatch.ElapsedMilliseconds} ms: {acks.Count} acknowledged batches; {runsWithUnacknowledgedTail} runs found a written but unacknowledged batch");
            Assert.True(acks.Count > Runs, $"only {acks.Count} batches were acknowledged in {Runs} runs: the kills came too early to test anything");

            // Recover the whole log (no recovery point: every segment validated) in this process.
            using var log = PartitionLog.Open(logDir, CrashWorkload.TopicPartition, CrashWorkload.Config, default, cleanShutdown: false, _logger);
            Assert.True(log.LogEndOffset >= durableEnd, $"recovered to {log.LogEndOffset}, below the acknowledged end {durableEnd}");
            Assert.True(log.SegmentCount > 2, "the test should span several segments");
            foreach (var ack in acks)
            {
                var expected = CrashWorkload.AsStored(CrashWorkload.MakeBatch(ack.Run, ack.Sequence), ack.FirstOffset, CrashWorkload.LeaderEpoch(ack.Run));
                Assert.Equal(ack.Sha256, CrashWorkload.Sha256(expected)); // the child stored what this test rebuilds
                var read = log.Read(ack.FirstOffset, expected.Length, ack.LastOffset + 1, minOneBatch: true);
                Assert.Equal(ack.FirstOffset, read.FirstBatchBaseOffset);
                var stored = Batches.Bytes(read);
                Assert.True(expected.AsSpan().SequenceEqual(stored), $"batch {ack.Run}/{ack.Sequence} at offsets {ack.FirstOffset}..{ack.LastOffset} differs from what was acknowledged");
            }

            AssertContiguousValidBatches(log);

            // The recovered log takes new appends where it ends, and keeps them across a clean reopen.
            var end = log.LogEndOffset;
            var extra = CrashWorkload.MakeBatch(Runs, 0);
            var appended = log.Append(new(extra), leaderEpoch: CrashWorkload.LeaderEpoch(Runs));
            Assert.Equal(end, appended.FirstOffset);
            var extraStored = CrashWorkload.AsStored(extra, end, CrashWorkload.LeaderEpoch(Runs));
            Assert.Equal(extraStored, Batches.Bytes(log.Read(end, int.MaxValue, log.LogEndOffset, minOneBatch: true)));
            var finalEnd = log.LogEndOffset;
            log.Close();

            using var reopened = PartitionLog.Open(logDir, CrashWorkload.TopicPartition, CrashWorkload.Config, new(finalEnd, 0), cleanShutdown: true, _logger);
            Assert.Equal(finalEnd, reopened.LogEndOffset);
            Assert.Equal(extraStored, Batches.Bytes(reopened.Read(end, int.MaxValue, finalEnd, minOneBatch: true)));
            output.WriteLine($"total {stopwatch.ElapsedMilliseconds} ms; log end {finalEnd} in {reopened.SegmentCount} segments");
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Recovery_FlippedByteInSegmentAfterRecoveryPoint_TruncatesThereAndDropsLaterSegments(int segmentsAfterRecoveryPoint)
    {
        var logDir = Path.Combine(_dir.Path, "orders-1");
        var tp = new TopicPartition("orders", 1);
        var config = new LogConfig { SegmentBytes = 2048, IndexIntervalBytes = 512, FileDeleteDelayMs = 0 };
        byte[] before;
        using (var log = PartitionLog.Open(logDir, tp, config, default, cleanShutdown: true, _logger))
        {
            for (var i = 0; i < 40; i++)
            {
                log.Append(Batches.Seq(Batches.Make(5, timestamp: 1_700_000_000_000 + (i * 10), valueSize: 50, compression: i % 3 == 1 ? CompressionType.Lz4 : CompressionType.None)));
            }

            before = PartitionLogTests.ReadAll(log);
            Assert.True(log.SegmentCount >= 6);
        }

        var bases = Directory.GetFiles(logDir, "*.log").Select(p => long.Parse(Path.GetFileNameWithoutExtension(p), CultureInfo.InvariantCulture)).Order().ToList();
        var recoveryPoint = bases[1] + 2; // inside segment 1
        var corrupt = 1 + segmentsAfterRecoveryPoint;
        var path = LogSegment.FilePath(logDir, bases[corrupt], ".log");
        var bytes = File.ReadAllBytes(path);
        var batches = BatchPositions(bytes);
        Assert.True(batches.Count >= 3);
        var (position, victim) = batches[batches.Count / 2];
        bytes[position + RecordBatchHeader.Size + 10] ^= 0x5a; // inside the records: the CRC no longer holds
        File.WriteAllBytes(path, bytes);
        var lastInSegment = batches[^1].Header.LastOffset;

        using var recovered = PartitionLog.Open(logDir, tp, config, new(recoveryPoint, 0), cleanShutdown: false, _logger);

        Assert.Equal(victim.BaseOffset, recovered.LogEndOffset);
        Assert.Equal(corrupt + 1, recovered.SegmentCount);
        Assert.Equal(position, new FileInfo(path).Length);
        Assert.All(bases.Skip(corrupt + 1), b => Assert.False(File.Exists(LogSegment.FilePath(logDir, b, ".log")), $"segment {b} should be deleted"));
        var warnings = _logger.Warnings.ToList();
        Assert.Contains(warnings, w => w.Contains($"losing offsets {victim.BaseOffset} to {lastInSegment}", StringComparison.Ordinal));
        Assert.All(bases.Skip(corrupt + 1), b => Assert.Contains(warnings, w => w.Contains($"deletes segment {b},", StringComparison.Ordinal)));
        Assert.Contains(warnings, w => w.Contains($"lost offsets {victim.BaseOffset} to 199 in all", StringComparison.Ordinal)); // 40 batches of 5

        // Everything before the corrupt batch is intact, and appends continue from it.
        var kept = PartitionLogTests.ReadAll(recovered);
        Assert.Equal(before.AsSpan(0, kept.Length).ToArray(), kept);
        Assert.Equal(Enumerable.Range(0, (int)victim.BaseOffset).Select(i => (long)i), Batches.Records(kept).Select(r => r.Offset));
        Assert.Equal(victim.BaseOffset, recovered.Append(Batches.Seq(Batches.Make(2))).FirstOffset);
        Assert.Equal(victim.BaseOffset + 2, recovered.LogEndOffset);
    }

    /// <summary>Every batch from the log start: CRC-valid, each starting where the previous one ended.</summary>
    private static void AssertContiguousValidBatches(PartitionLog log)
    {
        var next = log.LogStartOffset;
        while (next < log.LogEndOffset)
        {
            var read = log.Read(next, 1 << 20, log.LogEndOffset, minOneBatch: true);
            var bytes = Batches.Bytes(read);
            Assert.Equal(next, read.FirstBatchBaseOffset);
            foreach (var (position, header) in BatchPositions(bytes))
            {
                Assert.Equal(next, header.BaseOffset);
                RecordBatch.Validate(bytes.AsSpan(position, header.TotalSize));
                next = header.NextOffset;
            }
        }

        Assert.Equal(log.LogEndOffset, next);
    }

    private static List<(int Position, RecordBatchHeader Header)> BatchPositions(byte[] bytes)
    {
        var result = new List<(int, RecordBatchHeader)>();
        var position = 0;
        while (position + RecordBatchHeader.Size <= bytes.Length)
        {
            var header = RecordBatchHeader.Read(bytes.AsSpan(position));
            if (position + header.TotalSize > bytes.Length)
            {
                break;
            }

            result.Add((position, header));
            position += header.TotalSize;
        }

        return result;
    }

    // ------------------------------------------------------------------ the child process

    private sealed record ChildResult(IReadOnlyList<string> Lines, string Stderr, bool Killed, int ExitCode);

    /// <summary>
    /// Starts the child on <paramref name="logDir"/> and SIGKILLs it <paramref name="delayMs"/> after it
    /// reported the log open (or after it started, with <paramref name="killEarly"/>: maybe mid-recovery).
    /// </summary>
    private static async Task<ChildResult> RunAndKillChildAsync(string logDir, int run, long recoveryPoint, bool killEarly, int delayMs)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(ChildDll());
        start.ArgumentList.Add(logDir);
        start.ArgumentList.Add(run.ToString(CultureInfo.InvariantCulture));
        start.ArgumentList.Add("1000000");
        start.ArgumentList.Add(recoveryPoint.ToString(CultureInfo.InvariantCulture));

        using var child = Process.Start(start) ?? throw new InvalidOperationException("could not start the crash child");
        var lines = new List<string>();
        var opened = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stdout = Task.Run(async () =>
        {
            while (await child.StandardOutput.ReadLineAsync() is { } line)
            {
                lock (lines)
                {
                    lines.Add(line);
                }

                if (line.StartsWith("OPEN ", StringComparison.Ordinal))
                {
                    opened.TrySetResult();
                }
            }

            opened.TrySetResult(); // exited (e.g. crashed on open): the stderr says why
        });
        var stderr = child.StandardError.ReadToEndAsync();

        var killed = false;
        try
        {
            if (!killEarly)
            {
                await opened.Task.WaitAsync(StartupTimeout);
            }

            await Task.Delay(delayMs); // the test's subject: the kill lands at a random point of the child's appends
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill(entireProcessTree: true); // SIGKILL on Linux: no finalizers, no flush, no clean close
                killed = true;
            }

            await child.WaitForExitAsync().WaitAsync(StartupTimeout);
        }

        await stdout;
        var errors = await stderr;
        if (!killed && child.ExitCode != 0)
        {
            Assert.Fail($"crash child run {run} failed with exit code {child.ExitCode}:\n{errors}");
        }

        lock (lines)
        {
            return new ChildResult([.. lines], errors, killed, child.ExitCode);
        }
    }

    private static string ChildDll()
    {
        var path = Path.Combine(AppContext.BaseDirectory, typeof(CrashWorkload).Assembly.GetName().Name + ".dll");
        Assert.True(File.Exists(path), $"the crash child is missing at {path}");
        Assert.True(File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")), $"the crash child's runtimeconfig is missing next to {path}");
        return path;
    }

    /// <summary>The dotnet host running this test (the SDK sets DOTNET_HOST_PATH for test hosts), else "dotnet" on the PATH.</summary>
    private static string DotnetHost()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host))
        {
            return host;
        }

        var self = Environment.ProcessPath;
        return self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
    }
}
