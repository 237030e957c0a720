using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// This broker's producer ids (Kafka's ProducerIdManager): blocks of <see cref="ProducerIdBlock.DefaultSize"/>
/// ids are taken from the cluster metadata (a ProducerIdsRecord per block), so an id is never handed out
/// twice, also after a restart. Ids are handed out in order within the current block.
/// </summary>
public sealed class ProducerIdManager(int brokerId, MetadataStore metadata) : IProducerIdSource
{
    private readonly Lock _lock = new();
    private long _next;
    private long _end;

    public long GenerateProducerId()
    {
        lock (_lock)
        {
            if (_next >= _end)
            {
                if (!metadata.Image.Brokers.TryGetValue(brokerId, out var broker))
                {
                    throw new ProducerIdException(ErrorCode.CoordinatorLoadInProgress, $"broker {brokerId} is not registered yet");
                }

                // Waited for under this lock (and the transaction coordinator's): publishing never takes either of them.
                var result = ControllerCalls.Wait(metadata.Controller.AllocateProducerIdsAsync(brokerId, broker.BrokerEpoch));
                if (result.Error != ErrorCode.None)
                {
                    throw new ProducerIdException(result.Error == ErrorCode.StaleBrokerEpoch ? ErrorCode.CoordinatorLoadInProgress : result.Error, result.ErrorMessage ?? result.Error.ToString());
                }

                (_next, _end) = (result.Block.FirstProducerId, result.Block.NextBlockFirstId);
            }

            return _next++;
        }
    }
}
