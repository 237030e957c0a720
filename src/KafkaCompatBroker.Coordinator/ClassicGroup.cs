namespace KafkaCompatBroker.Coordinator;

/// <summary>A member of a classic group.</summary>
internal sealed class ClassicGroupMember(string memberId, string? groupInstanceId)
{
    public string MemberId { get; set; } = memberId;

    public string? GroupInstanceId { get; } = groupInstanceId;

    public string ClientId { get; set; } = "";

    public string ClientHost { get; set; } = "";

    public int SessionTimeoutMs { get; set; }

    public int RebalanceTimeoutMs { get; set; }

    public string ProtocolType { get; set; } = "";

    public IReadOnlyList<GroupProtocol> Protocols { get; set; } = [];

    public byte[] Assignment { get; set; } = [];

    public TaskCompletionSource<JoinGroupResult>? AwaitingJoin { get; set; }

    public TaskCompletionSource<SyncGroupResult>? AwaitingSync { get; set; }

    public ITimer? SessionTimer { get; set; }

    /// <summary>When the session expires (ms on the coordinator's clock); a timer callback that is late checks it.</summary>
    public long SessionDeadlineMs { get; set; }

    public bool IsNew { get; set; }

    public byte[] MetadataFor(string protocol)
    {
        foreach (var p in Protocols)
        {
            if (p.Name == protocol)
            {
                return p.Metadata;
            }
        }

        return [];
    }

    public bool Supports(string protocol)
    {
        foreach (var p in Protocols)
        {
            if (p.Name == protocol)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Same protocols with the same metadata, in the same order (Kafka's <c>matches</c>).</summary>
    public bool Matches(IReadOnlyList<GroupProtocol> protocols)
    {
        if (protocols.Count != Protocols.Count)
        {
            return false;
        }

        for (var i = 0; i < protocols.Count; i++)
        {
            if (protocols[i].Name != Protocols[i].Name || !protocols[i].Metadata.AsSpan().SequenceEqual(Protocols[i].Metadata))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>The state of one classic group. Guarded by the coordinator's lock.</summary>
internal sealed class ClassicGroup(string groupId, TimeProvider? time = null)
{
    public string GroupId { get; } = groupId;

    /// <summary>When the group entered its current state (Kafka's currentStateTimestamp; offsets of an empty group expire from it).</summary>
    public long StateTimestampMs { get; set; } = time?.GetUtcNow().ToUnixTimeMilliseconds() ?? -1;

    public ClassicGroupState State { get; private set; } = ClassicGroupState.Empty;

    public ClassicGroupState PreviousState { get; private set; } = ClassicGroupState.Empty;

    public int GenerationId { get; set; }

    /// <summary>Set by the first member joining an empty group; kept when the group empties, as Kafka keeps it.</summary>
    public string? ProtocolType { get; set; }

    public string? ProtocolName { get; set; }

    /// <summary>Topics the members subscribed to at the start of the generation (null: unknown), as Kafka's subscribedTopics.</summary>
    public HashSet<string>? SubscribedTopics { get; set; }

    public string? LeaderId { get; set; }

    /// <summary>Members in join order (the first one becomes leader).</summary>
    public OrderedDictionary<string, ClassicGroupMember> Members { get; } = new(StringComparer.Ordinal);

    /// <summary>Member ids handed out with MEMBER_ID_REQUIRED, waiting for the member's second join.</summary>
    public Dictionary<string, ITimer> PendingMembers { get; } = new(StringComparer.Ordinal);

    /// <summary>group.instance.id → member id.</summary>
    public Dictionary<string, string> StaticMembers { get; } = new(StringComparer.Ordinal);

    /// <summary>Members that got their JoinGroup response but did not send SyncGroup yet.</summary>
    public HashSet<string> PendingSyncMembers { get; } = new(StringComparer.Ordinal);

    /// <summary>The delayed join (rebalance timeout or initial delay) of the current rebalance.</summary>
    public ITimer? JoinTimer { get; set; }

    public ITimer? SyncTimer { get; set; }

    /// <summary>Bumped on every transition so timers of an older phase know they are stale.</summary>
    public long Epoch { get; private set; }

    public bool NewMemberAdded { get; set; }

    public int InitialRebalanceRemainingMs { get; set; }

    public bool IsInitialRebalance { get; set; }

    public bool IsEmpty => Members.Count == 0;

    public int AwaitingJoinCount
    {
        get
        {
            var count = 0;
            foreach (var member in Members.Values)
            {
                if (member.AwaitingJoin is not null)
                {
                    count++;
                }
            }

            return count;
        }
    }

    public bool HasAllMembersJoined => AwaitingJoinCount == Members.Count && PendingMembers.Count == 0;

    public int MaxRebalanceTimeoutMs
    {
        get
        {
            var max = 0;
            foreach (var member in Members.Values)
            {
                max = Math.Max(max, member.RebalanceTimeoutMs);
            }

            return max;
        }
    }

    public void TransitionTo(ClassicGroupState state)
    {
        PreviousState = State;
        State = state;
        Epoch++;
        if (time is not null)
        {
            StateTimestampMs = time.GetUtcNow().ToUnixTimeMilliseconds();
        }
    }

    public string? StaticMemberId(string? groupInstanceId) =>
        groupInstanceId is not null && StaticMembers.TryGetValue(groupInstanceId, out var id) ? id : null;

    public void Add(ClassicGroupMember member)
    {
        if (Members.Count == 0)
        {
            ProtocolType = member.ProtocolType;
        }

        Members.Add(member.MemberId, member);
        if (member.GroupInstanceId is { } instanceId)
        {
            StaticMembers[instanceId] = member.MemberId;
        }

        LeaderId ??= member.MemberId;
    }

    public void Remove(string memberId)
    {
        if (!Members.Remove(memberId, out var member))
        {
            return;
        }

        member.SessionTimer?.Dispose();
        member.SessionTimer = null;
        if (member.GroupInstanceId is { } instanceId && StaticMembers.TryGetValue(instanceId, out var id) && id == memberId)
        {
            StaticMembers.Remove(instanceId);
        }

        PendingSyncMembers.Remove(memberId);
        if (LeaderId == memberId)
        {
            LeaderId = null;
            foreach (var other in Members.Values)
            {
                if (other.AwaitingJoin is not null)
                {
                    LeaderId = other.MemberId;
                    break;
                }
            }

            if (LeaderId is null && Members.Count > 0)
            {
                LeaderId = Members.GetAt(0).Key;
            }
        }
    }

    /// <summary>Protocols every member supports.</summary>
    private List<string> CandidateProtocols()
    {
        var candidates = new List<string>();
        if (Members.Count == 0)
        {
            return candidates;
        }

        foreach (var protocol in Members.GetAt(0).Value.Protocols)
        {
            var all = true;
            foreach (var member in Members.Values)
            {
                if (!member.Supports(protocol.Name))
                {
                    all = false;
                    break;
                }
            }

            if (all)
            {
                candidates.Add(protocol.Name);
            }
        }

        return candidates;
    }

    /// <summary>Kafka's supportsProtocols: a joining member must share the protocol type and one protocol every member supports.</summary>
    public bool SupportsProtocols(string protocolType, IReadOnlyList<GroupProtocol> protocols)
    {
        if (Members.Count == 0)
        {
            return protocolType.Length > 0 && protocols.Count > 0;
        }

        if (protocolType != ProtocolType)
        {
            return false;
        }

        var candidates = CandidateProtocols();
        foreach (var protocol in protocols)
        {
            if (candidates.Contains(protocol.Name))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Kafka's selectProtocol: among the protocols all members support, each member votes for the one
    /// it ranks highest; the most votes wins (ties go to the earlier member's choice).
    /// </summary>
    public string SelectProtocol()
    {
        var candidates = CandidateProtocols();
        var votes = new Dictionary<string, int>(StringComparer.Ordinal);
        string? best = null;
        foreach (var member in Members.Values)
        {
            foreach (var protocol in member.Protocols)
            {
                if (candidates.Contains(protocol.Name))
                {
                    var count = votes[protocol.Name] = votes.GetValueOrDefault(protocol.Name) + 1;
                    if (best is null || count > votes[best])
                    {
                        best = protocol.Name;
                    }

                    break;
                }
            }
        }

        return best ?? throw new InvalidOperationException($"group {GroupId} has no protocol all members support");
    }

    public List<JoinGroupMember> CurrentMembers()
    {
        var members = new List<JoinGroupMember>(Members.Count);
        foreach (var member in Members.Values)
        {
            members.Add(new JoinGroupMember(member.MemberId, member.GroupInstanceId, member.MetadataFor(ProtocolName!)));
        }

        return members;
    }
}
