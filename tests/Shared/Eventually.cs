using System.Diagnostics;

namespace KafkaCompatBroker.Testing;

/// <summary>
/// Waits on a condition with a deadline, never a bare sleep: polls every few milliseconds and fails with what
/// was awaited when the deadline passes, so a slow machine makes a test slower, not red.
/// </summary>
internal static class Eventually
{
    /// <summary>Generous: a loaded 2-core machine running several test processes; a passing test never waits it out.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(5);

    /// <summary>Returns once <paramref name="condition"/> holds; fails the test after <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var start = Stopwatch.GetTimestamp();
        while (!condition())
        {
            if (Stopwatch.GetElapsedTime(start) > limit)
            {
                Assert.Fail($"Timed out after {limit.TotalSeconds:0.#} s waiting until {what}");
            }

            await Task.Delay(Poll);
        }
    }

    /// <summary>Returns the first non-null value <paramref name="probe"/> gives; fails the test after <paramref name="timeout"/>.</summary>
    public static async Task<T> ValueAsync<T>(Func<T?> probe, string what, TimeSpan? timeout = null)
        where T : class
    {
        T? value = null;
        await UntilAsync(() => (value = probe()) is not null, what, timeout);
        return value!;
    }
}
