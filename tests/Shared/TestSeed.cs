namespace KafkaCompatBroker.Testing;

/// <summary>
/// The seed of a randomised test: a fixed default so every run is the same, overridable with the
/// <c>KCB_TEST_SEED</c> environment variable to replay or explore, and named in the failure message.
/// </summary>
internal static class TestSeed
{
    public const string Variable = "KCB_TEST_SEED";

    /// <summary>The seed to use: <c>KCB_TEST_SEED</c> when set, else <paramref name="fixedSeed"/>.</summary>
    public static int Get(int fixedSeed) =>
        int.TryParse(Environment.GetEnvironmentVariable(Variable), out var seed) ? seed : fixedSeed;

    /// <summary>A fixed seed per case name (FNV-1a: string.GetHashCode differs from process to process).</summary>
    public static int For(string name)
    {
        var hash = 2166136261u;
        foreach (var c in name)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)hash;
    }

    /// <summary>Runs <paramref name="test"/> with a <see cref="Random"/> on the seed; a failure says which seed to replay.</summary>
    public static void Run(int fixedSeed, Action<Random> test)
    {
        var seed = Get(fixedSeed);
        try
        {
            test(new Random(seed));
        }
        catch (Exception e) when (e is not SeededFailureException)
        {
            throw new SeededFailureException(seed, e);
        }
    }

    /// <summary>The async form of <see cref="Run(int, Action{Random})"/>.</summary>
    public static async Task RunAsync(int fixedSeed, Func<Random, Task> test)
    {
        var seed = Get(fixedSeed);
        try
        {
            await test(new Random(seed));
        }
        catch (Exception e) when (e is not SeededFailureException)
        {
            throw new SeededFailureException(seed, e);
        }
    }
}

/// <summary>A randomised test's failure, with the seed that replays it.</summary>
internal sealed class SeededFailureException(int seed, Exception inner)
    : Exception($"Failed with seed {seed}; replay with {TestSeed.Variable}={seed}. {inner.Message}", inner);
