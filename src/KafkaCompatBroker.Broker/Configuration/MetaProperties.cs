using System.Globalization;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker.Configuration;

/// <summary>
/// meta.properties in every log directory (KRaft's version 1 layout: version, cluster.id, node.id,
/// directory.id). The first start writes it, so no separate format step is needed; later starts
/// check that the directory belongs to this node and cluster.
/// </summary>
public static class MetaProperties
{
    public const string FileName = "meta.properties";

    /// <summary>Formats unformatted directories and returns the cluster id all of them share.</summary>
    public static string EnsureFormatted(IReadOnlyList<string> logDirs, int nodeId, string? configuredClusterId)
    {
        string? clusterId = configuredClusterId;
        var existing = new List<(string Dir, Dictionary<string, string> Props)>();
        foreach (var dir in logDirs)
        {
            var path = Path.Combine(dir, FileName);
            if (!File.Exists(path))
            {
                continue;
            }

            var props = JavaProperties.Parse(File.ReadAllText(path)).ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal);
            existing.Add((dir, props));
            if (props.TryGetValue("node.id", out var storedNode) && storedNode != nodeId.ToString(CultureInfo.InvariantCulture))
            {
                throw new ConfigException($"Stored node id {storedNode} in {path} doesn't match node.id {nodeId}");
            }

            if (props.TryGetValue("cluster.id", out var storedCluster))
            {
                if (clusterId is not null && clusterId != storedCluster)
                {
                    throw new ConfigException($"Cluster id {storedCluster} in {path} doesn't match {clusterId} (from the other log directories or cluster.id)");
                }

                clusterId = storedCluster;
            }
        }

        clusterId ??= KafkaUuid.NewRandom().ToString();
        foreach (var dir in logDirs)
        {
            var path = Path.Combine(dir, FileName);
            if (File.Exists(path))
            {
                continue;
            }

            Directory.CreateDirectory(dir);
            var text = string.Join('\n',
                "#",
                $"#{DateTimeOffset.UtcNow:R}",
                $"node.id={nodeId.ToString(CultureInfo.InvariantCulture)}",
                $"directory.id={KafkaUuid.NewRandom()}",
                "version=1",
                $"cluster.id={clusterId}",
                "");
            File.WriteAllText(path + ".tmp", text);
            File.Move(path + ".tmp", path, overwrite: true);
        }

        return clusterId;
    }
}
