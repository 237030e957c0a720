using BenchmarkDotNet.Running;

namespace KafkaCompatBroker.Benchmarks;

public static class Program
{
    // Run e.g.: dotnet run -c Release --project tools/KafkaCompatBroker.Benchmarks -- --filter '*Crc32C*'
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
