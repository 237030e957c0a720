using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator.Tests;

/// <summary>An <see cref="IGroupRecordLog"/> that keeps every appended batch in memory and can be told to fail.</summary>
internal sealed class RecordingLog : IGroupRecordLog
{
    public List<IReadOnlyList<GroupRecord>> Appends { get; } = [];

    public IEnumerable<GroupRecord> Records => Appends.SelectMany(a => a);

    public ErrorCode? FailWith { get; set; }

    public void Append(string groupId, IReadOnlyList<GroupRecord> records)
    {
        if (FailWith is { } error)
        {
            throw new GroupRecordLogException(error, "injected failure");
        }

        Appends.Add([.. records]);
    }

    public int AppendTransactional(string groupId, IReadOnlyList<GroupRecord> records, long producerId, short producerEpoch)
    {
        Append(groupId, records);
        return 0;
    }
}
