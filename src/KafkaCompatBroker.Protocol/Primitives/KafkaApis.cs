namespace KafkaCompatBroker.Protocol;

public static partial class KafkaApis
{
    private static readonly ApiDescriptor?[] ByKey = BuildIndex();

    private static ApiDescriptor?[] BuildIndex()
    {
        var index = new ApiDescriptor?[All.Max(a => (int)a.Key) + 1];
        foreach (var api in All)
        {
            index[(int)api.Key] = api;
        }

        return index;
    }

    /// <summary>The API with this key, or null when Kafka 4.3 has none.</summary>
    public static ApiDescriptor? Find(short key) => key >= 0 && key < ByKey.Length ? ByKey[key] : null;

    public static ApiDescriptor Get(ApiKey key) => Find((short)key) ?? throw new KafkaProtocolException($"unknown api key {(short)key}");

    /// <summary>Request header v2 for flexible versions, v1 otherwise.</summary>
    public static short RequestHeaderVersion(ApiKey key, short apiVersion) => Get(key).IsFlexible(apiVersion) ? (short)2 : (short)1;

    /// <summary>
    /// Response header v1 for flexible versions, v0 otherwise; ApiVersions always answers with v0 so
    /// that a client that does not yet know the broker's versions can read the answer.
    /// </summary>
    public static short ResponseHeaderVersion(ApiKey key, short apiVersion) =>
        key != ApiKey.ApiVersions && Get(key).IsFlexible(apiVersion) ? (short)1 : (short)0;
}
