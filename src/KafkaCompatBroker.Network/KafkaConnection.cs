using System.Net;

namespace KafkaCompatBroker.Network;

/// <summary>What the broker knows about one client connection.</summary>
public sealed class KafkaConnection(string id, string listenerName, EndPoint? remoteEndPoint)
{
    public string Id { get; } = id;

    public string ListenerName { get; } = listenerName;

    public EndPoint? RemoteEndPoint { get; } = remoteEndPoint;

    /// <summary>Per-connection state the request handlers keep (e.g. fetch sessions, SASL state), by key.</summary>
    public Dictionary<string, object> Items { get; } = [];

    // The request processor's reusable objects for this connection (see TakeProcessorState).
    private object? _processorState;

    // Idleness (ConnectionIdleSweeper): when the last request completed (TimeProvider timestamp), whether one is in
    // flight, and how many bytes of an unfinished frame are buffered. Plain field writes: nothing allocated per request.
    private long _lastRequestCompleted;
    private int _requestInFlight;
    private long _pendingRequestBytes;
    private bool _closedAsIdle;

    /// <summary>connections.max.idle.ms of the connection's listener; negative: never idle.</summary>
    internal TimeSpan IdleTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>Set (by the sweeper's thread) when the idle sweeper closed the connection: it logged why, the connection handler need not.</summary>
    internal bool ClosedAsIdle
    {
        get => Volatile.Read(ref _closedAsIdle);
        set => Volatile.Write(ref _closedAsIdle, value);
    }

    /// <summary>Bytes of a request frame received but not complete yet.</summary>
    internal long PendingRequestBytes
    {
        get => Volatile.Read(ref _pendingRequestBytes);
        set => Volatile.Write(ref _pendingRequestBytes, value);
    }

    /// <summary>True from when a request was read until it was answered.</summary>
    internal bool RequestInFlight => Volatile.Read(ref _requestInFlight) != 0;

    internal void RequestStarted() => Volatile.Write(ref _requestInFlight, 1);

    internal void RequestCompleted(long timestamp)
    {
        Volatile.Write(ref _lastRequestCompleted, timestamp);
        Volatile.Write(ref _requestInFlight, 0);
    }

    /// <summary>How long no request has been in flight, at <paramref name="now"/>; null while one is, or when the connection never idles.</summary>
    internal TimeSpan? IdleFor(long now, TimeProvider time)
    {
        if (IdleTimeout < TimeSpan.Zero || Volatile.Read(ref _requestInFlight) != 0)
        {
            return null;
        }

        return time.GetElapsedTime(Volatile.Read(ref _lastRequestCompleted), now);
    }

    /// <summary>
    /// Takes the request processor's reusable per-connection objects (decoded requests, responses under
    /// construction) for one request; null when none were given back yet, or another request holds them.
    /// A connection handles one request at a time, so in practice the same objects serve every request.
    /// </summary>
    public object? TakeProcessorState() => Interlocked.Exchange(ref _processorState, null);

    /// <summary>Gives the objects taken with <see cref="TakeProcessorState"/> back once the request is done.</summary>
    public void ReturnProcessorState(object state) => Volatile.Write(ref _processorState, state);

    public override string ToString() => $"{Id} ({RemoteEndPoint}, listener {ListenerName})";
}
