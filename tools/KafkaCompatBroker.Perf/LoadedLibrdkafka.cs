namespace KafkaCompatBroker.Perf;

/// <summary>
/// Which librdkafka file Confluent.Kafka loaded into this process. librdkafka.redist 2.15.1 ships three Linux x64
/// builds in runtimes/linux-x64/native: librdkafka.so (links libsasl2.so.3, which Debian 12 lacks),
/// centos8-librdkafka.so (SASL built in, needs only glibc) and alpine-librdkafka.so (musl). Confluent.Kafka 2.15.1
/// tries the plain build and falls back to the centos8 one, so on Debian the centos8 build is the one in use.
/// Shared with compat-tests/clients/confluent-dotnet (linked source), whose <c>library</c> command prints it.
/// </summary>
internal static class LoadedLibrdkafka
{
    /// <summary>Makes Confluent.Kafka load librdkafka (if it has not yet) and returns the mapped file, or null off Linux.</summary>
    public static string? Path()
    {
        _ = Confluent.Kafka.Library.Version;
        return MappedFiles().FirstOrDefault();
    }

    /// <summary>Every librdkafka file mapped into this process (/proc/self/maps): more than one means two copies.</summary>
    public static IReadOnlyList<string> MappedFiles()
    {
        if (!File.Exists("/proc/self/maps"))
        {
            return [];
        }

        var files = new List<string>();
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            // address perms offset dev inode path: the path is everything from the first '/'.
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0 && System.IO.Path.GetFileName(line.AsSpan(slash)).Contains("librdkafka", StringComparison.Ordinal) && !files.Contains(line[slash..]))
            {
                files.Add(line[slash..]);
            }
        }

        return files;
    }
}
