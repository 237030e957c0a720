using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Coordinator;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Broker;

/// <summary>The group coordinator's view of the topics: the metadata store's current image, read at each call.</summary>
public sealed class MetadataGroupTopicView(MetadataStore metadata) : IGroupTopicView
{
    public GroupTopic? Topic(string name) => metadata.Image.GetTopic(name) is { } topic ? ToGroupTopic(topic) : null;

    public GroupTopic? Topic(KafkaUuid id) => metadata.Image.GetTopic(id) is { } topic ? ToGroupTopic(topic) : null;

    public IEnumerable<GroupTopic> AllTopics()
    {
        foreach (var topic in metadata.Image.TopicsByName.Values)
        {
            yield return ToGroupTopic(topic);
        }
    }

    private static GroupTopic ToGroupTopic(TopicImage topic) => new(topic.Name, topic.Id, topic.Partitions.Count);
}
