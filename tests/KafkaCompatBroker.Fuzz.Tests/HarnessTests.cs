using System.Buffers;
using System.Buffers.Binary;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Fuzz.Tests;

/// <summary>The coverage-guided harness (tools/KafkaCompatBroker.Fuzz) stays usable: its seeds are valid and its targets accept them.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class HarnessTests
{
    [Theory]
    [InlineData("request")]
    [InlineData("records")]
    [InlineData("metadata-record")]
    public void EverySeed_PassesItsTarget(string target)
    {
        var seeds = Seeds.For(target).ToList();

        Assert.NotEmpty(seeds);
        foreach (var (_, bytes) in seeds)
        {
            Targets.All[target](bytes);
        }
    }

    [Fact]
    public void ValidRequests_OfEveryApiAndVersion_DecodeWithTheirValuesAndNoBytesLeft()
    {
        var names = new FuzzNames("fuzz-topic", KafkaUuid.NewRandom(), "fuzz-group", "fuzz-txn");
        foreach (var (name, frame) in Seeds.For("request"))
        {
            var key = (ApiKey)BinaryPrimitives.ReadInt16BigEndian(frame);
            var version = BinaryPrimitives.ReadInt16BigEndian(frame.AsSpan(2));
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(frame));
            new RequestHeader().Read(ref reader, KafkaApis.RequestHeaderVersion(key, version));
            KafkaApis.CreateRequest(key).Read(ref reader, version);
            Assert.True(reader.Remaining == 0, $"{name}: {reader.Remaining} bytes left");
        }

        // Values go deep: the topic is named, arrays are not empty, waits are clamped.
        var fetch = (FetchRequest)ValidRequests.Build(ApiKey.Fetch, 12, names);
        Assert.Equal("fuzz-topic", fetch.Topics.Single().Topic);
        Assert.Equal(0, fetch.Topics[0].Partitions.Single().Partition);
        Assert.Equal(10, fetch.MaxWaitMs);
        var produce = (ProduceRequest)ValidRequests.Build(ApiKey.Produce, 13, names);
        Assert.Equal(names.TopicId, produce.TopicData.Single().TopicId);
        Assert.True(produce.TopicData[0].PartitionData.Single().Records is { Length: > 0 });
        var join = (JoinGroupRequest)ValidRequests.Build(ApiKey.JoinGroup, 9, names);
        Assert.Equal(("fuzz-group", "consumer", 100), (join.GroupId, join.ProtocolType, join.RebalanceTimeoutMs));
    }
}
