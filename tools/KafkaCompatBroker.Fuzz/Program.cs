using KafkaCompatBroker.Fuzz;
using SharpFuzz;

// Usage:
//   KafkaCompatBroker.Fuzz <target>                 run under AFL++ (afl-fuzz ... -- dotnet KafkaCompatBroker.Fuzz.dll <target>)
//   KafkaCompatBroker.Fuzz corpus <target> <dir>    write the seed corpus of valid inputs
//   KafkaCompatBroker.Fuzz replay <target> <file>   run one input outside AFL (to reproduce a crash)
// tools/fuzz/run-sharpfuzz.sh drives all of it.
if (args.Length >= 1 && Targets.All.TryGetValue(args[0], out var target))
{
    Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        target(buffer.ToArray());
    });
    return 0;
}

if (args.Length == 3 && args[0] == "corpus" && Targets.All.ContainsKey(args[1]))
{
    Directory.CreateDirectory(args[2]);
    var count = 0;
    foreach (var (name, bytes) in Seeds.For(args[1]))
    {
        File.WriteAllBytes(Path.Combine(args[2], name), bytes);
        count++;
    }

    Console.WriteLine($"{count} seeds in {args[2]}");
    return 0;
}

if (args.Length == 3 && args[0] == "replay" && Targets.All.TryGetValue(args[1], out var replayed))
{
    replayed(File.ReadAllBytes(args[2]));
    Console.WriteLine("no finding");
    return 0;
}

Console.Error.WriteLine($"usage: KafkaCompatBroker.Fuzz <target> | corpus <target> <dir> | replay <target> <file>; targets: {string.Join(", ", Targets.All.Keys)}");
return 2;
