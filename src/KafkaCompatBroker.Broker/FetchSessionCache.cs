namespace KafkaCompatBroker.Broker;

/// <summary>
/// The broker's bounded cache of incremental fetch sessions (KIP-227), max.incremental.fetch.session.cache.slots
/// sessions (default 1000). When it is full, a new session takes the slot of a session unused for longer
/// than the eviction time (min.incremental.fetch.session.eviction.ms, default 120 s), or else of the
/// smallest session if the new one has more partitions, as Kafka's FetchSessionCache decides; otherwise
/// the fetch is answered without a session (session id 0).
/// </summary>
public sealed class FetchSessionCache(int maxSlots, long evictionMs, TimeProvider time)
{
    public const int DefaultMaxSlots = 1000;

    public const long DefaultEvictionMs = 120_000;

    private readonly Lock _lock = new();
    private readonly Dictionary<int, FetchSession> _sessions = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    public long NowMs => time.GetUtcNow().ToUnixTimeMilliseconds();

    public FetchSession? Get(int id)
    {
        lock (_lock)
        {
            return _sessions.GetValueOrDefault(id);
        }
    }

    public bool Remove(int id)
    {
        lock (_lock)
        {
            return _sessions.Remove(id);
        }
    }

    public void Touch(FetchSession session) => session.LastUsedMs = NowMs;

    /// <summary>A new session with a fresh id holding <paramref name="size"/> partitions, or null when no slot can be had.</summary>
    public FetchSession? TryCreate(bool usesTopicIds, int size)
    {
        var now = NowMs;
        lock (_lock)
        {
            if (_sessions.Count >= maxSlots && !TryEvict(size, now))
            {
                return null;
            }

            int id;
            do
            {
                id = Random.Shared.Next(1, int.MaxValue);
            }
            while (_sessions.ContainsKey(id));

            var session = new FetchSession(id, usesTopicIds, now);
            _sessions.Add(id, session);
            return session;
        }
    }

    private bool TryEvict(int newSize, long now)
    {
        if (maxSlots <= 0)
        {
            return false;
        }

        FetchSession? stalest = null;
        FetchSession? smallest = null;
        foreach (var session in _sessions.Values)
        {
            if (stalest is null || session.LastUsedMs < stalest.LastUsedMs)
            {
                stalest = session;
            }

            if (smallest is null || session.Size < smallest.Size || (session.Size == smallest.Size && session.Id < smallest.Id))
            {
                smallest = session;
            }
        }

        if (stalest is not null && now - stalest.LastUsedMs > evictionMs)
        {
            _sessions.Remove(stalest.Id);
            return true;
        }

        if (smallest is not null && newSize > smallest.Size)
        {
            _sessions.Remove(smallest.Id);
            return true;
        }

        return false;
    }
}
