namespace KafkaCompatBroker.Testing;

/// <summary>
/// The values of the "Category" trait that every test class carries (exactly one), so a developer can run the
/// fast set alone: <c>dotnet test KafkaCompatBroker.sln --filter Category=unit</c> (README, "Run the tests").
/// Constants with xunit's own <see cref="TraitAttribute"/> rather than a custom trait attribute: a custom one
/// needs a trait discoverer named by assembly, and this file is linked into every test assembly.
/// </summary>
internal static class Categories
{
    /// <summary>The trait name: <c>[Trait(Categories.Name, Categories.Unit)]</c>.</summary>
    public const string Name = "Category";

    /// <summary>In memory: no sockets, no child processes; a temp dir only for a component's own small files (a log, the metadata store, a test broker without listeners).</summary>
    public const string Unit = "unit";

    /// <summary>A broker or listener on real sockets, our own server as a child process, crash/restart/durability scenarios.</summary>
    public const string Integration = "integration";

    /// <summary>Drives a real third-party client: kcat, kafka-python, kafkajs, Confluent.Kafka/librdkafka.</summary>
    public const string Compat = "compat";

    /// <summary>Several brokers in one test (none yet: they come with the quorum issue's test cluster).</summary>
    public const string Cluster = "cluster";

    /// <summary>Builds and runs the Docker image (needs a Docker engine).</summary>
    public const string Docker = "docker";
}
