using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// Creation of the coordinators' internal topics (<c>__consumer_offsets</c>, <c>__transaction_state</c>)
/// on first use, as Kafka creates them: the replication factor is capped by the live brokers.
/// </summary>
internal static class InternalTopic
{
    /// <summary>Creates <paramref name="name"/> unless it exists (once, under <paramref name="createLock"/>); false when it cannot be created.</summary>
    public static bool EnsureCreated(
        MetadataStore metadata,
        Lock createLock,
        string name,
        int partitions,
        int replicationFactor,
        IEnumerable<KeyValuePair<string, string?>> configs,
        ILogger log)
    {
        if (metadata.Image.GetTopic(name) is not null)
        {
            return true;
        }

        lock (createLock)
        {
            if (metadata.Image.GetTopic(name) is not null)
            {
                return true;
            }

            var liveBrokers = Math.Max(1, metadata.Image.LiveBrokers.Count());
            // Waited for under createLock (and a coordinator's lock): publishing never takes either of them.
            var result = ControllerCalls.Wait(metadata.Controller.CreateTopicAsync(name, partitions, (short)Math.Min(replicationFactor, liveBrokers), configs: configs));
            if (result.Error is not (ErrorCode.None or ErrorCode.TopicAlreadyExists))
            {
                log.LogError("Creating {Topic} failed: {Error} {Message}", name, result.Error, result.ErrorMessage);
                return false;
            }

            log.LogDebug("Created {Topic} with {Partitions} partitions", name, result.NumPartitions); // its logs are reported in one line when they are created
            return true;
        }
    }
}
