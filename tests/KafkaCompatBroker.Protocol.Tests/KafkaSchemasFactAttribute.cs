using KafkaCompatBroker.CodeGen;

namespace KafkaCompatBroker.Protocol.Tests;

/// <summary>
/// A test that compares with Kafka's own message schemas, which sit beside the repository (../shared/kafka-protocol-reference)
/// on the project's machines and in CI; a clone elsewhere has only the committed specs. Such a test reports Skipped,
/// not Passed, when the schemas are absent. KCB_KAFKA_REFERENCE_DIR points the lookup elsewhere.
/// </summary>
public sealed class KafkaSchemasFactAttribute : FactAttribute
{
    public KafkaSchemasFactAttribute()
    {
        if (!Directory.Exists(ReferenceDir))
        {
            Skip = $"Kafka's schemas are not at {ReferenceDir}";
        }
    }

    public static string ReferenceDir { get; } =
        Environment.GetEnvironmentVariable("KCB_KAFKA_REFERENCE_DIR") is { Length: > 0 } dir
            ? Path.GetFullPath(dir)
            : Path.GetFullPath(Path.Combine(SpecCatalog.FindSpecsDir(AppContext.BaseDirectory), "..", "..", "shared", "kafka-protocol-reference"));
}
