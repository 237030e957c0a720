using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;

namespace KafkaCompatBroker.Broker.Tests;

[Trait(Categories.Name, Categories.Unit)]
public sealed class DeleteTopicsHandlerTests : IDisposable
{
    private readonly TestBroker _broker = new();

    public void Dispose() => _broker.Dispose();

    private Task<DeleteTopicsResponse> DeleteAsync(short version, DeleteTopicsRequest request) =>
        BrokerExchange.SendAsync<DeleteTopicsResponse>(_broker, ApiKey.DeleteTopics, version, request);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public async Task DeleteTopics_ByName_DeletesTopicAndItsLogs(short version)
    {
        _broker.Metadata.CreateTopic("gone", 2);
        var logDir = _broker.Replicas.GetLog("gone", 0)!.Directory;
        Assert.True(Directory.Exists(logDir));

        var response = await DeleteAsync(version, new DeleteTopicsRequest { TopicNames = ["gone"] });

        var result = Assert.Single(response.Responses);
        Assert.Equal(("gone", (short)0), (result.Name, result.ErrorCode));
        Assert.Null(result.ErrorMessage);
        Assert.Null(_broker.Metadata.Image.GetTopic("gone"));
        Assert.Null(_broker.Logs.GetLog(new TopicPartition("gone", 0)));
        Assert.False(Directory.Exists(logDir));
    }

    [Fact]
    public async Task DeleteTopics_ByIdV6_DeletesTopic()
    {
        var created = _broker.Metadata.CreateTopic("by-id");

        var response = await DeleteAsync(6, new DeleteTopicsRequest { Topics = [new DeleteTopicsRequest.DeleteTopicState { TopicId = created.TopicId }] });

        var result = Assert.Single(response.Responses);
        Assert.Equal(("by-id", created.TopicId, (short)0), (result.Name, result.TopicId, result.ErrorCode));
        Assert.Null(_broker.Metadata.Image.GetTopic(created.TopicId));
    }

    [Theory]
    [InlineData(4, null)]
    [InlineData(5, "This server does not host this topic-partition.")]
    public async Task DeleteTopics_UnknownName_ReturnsUnknownTopicOrPartition(short version, string? message)
    {
        var response = await DeleteAsync(version, new DeleteTopicsRequest { TopicNames = ["nope"] });

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.UnknownTopicOrPartition, result.ErrorCode);
        Assert.Equal(message, result.ErrorMessage);
    }

    [Fact]
    public async Task DeleteTopics_UnknownIdV6_ReturnsUnknownTopicId()
    {
        var id = KafkaUuid.NewRandom();
        var response = await DeleteAsync(6, new DeleteTopicsRequest { Topics = [new DeleteTopicsRequest.DeleteTopicState { TopicId = id }] });

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.UnknownTopicId, result.ErrorCode);
        Assert.Equal(id, result.TopicId);
        Assert.Null(result.Name);
        Assert.Equal("This server does not host this topic ID.", result.ErrorMessage);
    }

    [Fact]
    public async Task DeleteTopics_V6NameAndIdTogetherOrNeither_AreInvalidRequests()
    {
        var created = _broker.Metadata.CreateTopic("both");
        var response = await DeleteAsync(6, new DeleteTopicsRequest
        {
            Topics =
            [
                new DeleteTopicsRequest.DeleteTopicState { Name = "both", TopicId = created.TopicId },
                new DeleteTopicsRequest.DeleteTopicState(),
            ],
        });

        Assert.Equal(2, response.Responses.Count);
        Assert.All(response.Responses, r => Assert.Equal((short)ErrorCode.InvalidRequest, r.ErrorCode));
        Assert.Equal("You may not specify both topic name and topic id.", response.Responses[0].ErrorMessage);
        Assert.Equal("Neither topic name nor id were specified.", response.Responses[1].ErrorMessage);
        Assert.NotNull(_broker.Metadata.Image.GetTopic("both"));
    }

    [Fact]
    public async Task DeleteTopics_DuplicateName_ReturnsInvalidRequestAndKeepsTopic()
    {
        _broker.Metadata.CreateTopic("twice");
        var response = await DeleteAsync(5, new DeleteTopicsRequest { TopicNames = ["twice", "twice"] });

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.InvalidRequest, result.ErrorCode);
        Assert.Equal("Duplicate topic name.", result.ErrorMessage);
        Assert.NotNull(_broker.Metadata.Image.GetTopic("twice"));
    }

    [Theory]
    [InlineData(2, ErrorCode.InvalidRequest)]
    [InlineData(3, ErrorCode.TopicDeletionDisabled)]
    public async Task DeleteTopics_DeletionDisabled_ReturnsError(short version, ErrorCode expected)
    {
        using var broker = new TestBroker("delete.topic.enable=false");
        broker.Metadata.CreateTopic("kept");

        var response = await BrokerExchange.SendAsync<DeleteTopicsResponse>(broker, ApiKey.DeleteTopics, version, new DeleteTopicsRequest { TopicNames = ["kept"] });

        Assert.Equal((short)expected, Assert.Single(response.Responses).ErrorCode);
        Assert.NotNull(broker.Metadata.Image.GetTopic("kept"));
    }
}
