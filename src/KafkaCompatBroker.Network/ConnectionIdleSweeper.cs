using System.Collections.Concurrent;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace KafkaCompatBroker.Network;

/// <summary>
/// Closes connections that stay idle longer than their listener's connections.max.idle.ms, as Kafka's Selector does
/// with its idleExpiryManager (checked on every SocketServer Processor poll). One sweeper serves every listener of a
/// broker: a periodic timer on the broker's <see cref="TimeProvider"/> looks at each live connection's last activity.
/// Unlike Kafka, where any bytes read count as activity, idleness counts from the last completed request (or the
/// connect): a client trickling the bytes of a frame it never finishes is closed like an idle one, so it cannot hold
/// a connection (and the part of a frame it sent) for ever. A connection with a request in flight (a parked
/// long-poll fetch) is never idle.
/// </summary>
public sealed class ConnectionIdleSweeper : IDisposable
{
    private readonly ConcurrentDictionary<KafkaConnection, ConnectionContext> _connections = new();
    private readonly ILogger<ConnectionIdleSweeper> _logger;
    private readonly ITimer _timer;

    /// <param name="time">The clock of the connections' activity timestamps and of the sweeps.</param>
    /// <param name="period">How often connections are checked: a connection is closed at most this long after its timeout.</param>
    public ConnectionIdleSweeper(TimeProvider time, TimeSpan period, ILogger<ConnectionIdleSweeper> logger)
    {
        Time = time;
        _logger = logger;
        _timer = time.CreateTimer(static state => ((ConnectionIdleSweeper)state!).Sweep(), this, period, period);
    }

    public TimeProvider Time { get; }

    /// <summary>The live connections this sweeper watches.</summary>
    internal ICollection<KafkaConnection> Connections => _connections.Keys;

    /// <summary>
    /// The period for the shortest of <paramref name="idleTimeoutsMs"/> (negative ones never expire): a tenth of it,
    /// between 10 ms and 1 s, so a connection outlives its timeout by a tenth at most.
    /// </summary>
    public static TimeSpan PeriodFor(IEnumerable<long> idleTimeoutsMs)
    {
        var shortest = idleTimeoutsMs.Where(t => t >= 0).DefaultIfEmpty(1000).Min();
        return TimeSpan.FromMilliseconds(Math.Clamp(shortest / 10, 10, 1000));
    }

    /// <summary>Watches <paramref name="connection"/> (its activity starts now) until <see cref="Remove"/>.</summary>
    internal void Add(KafkaConnection connection, ConnectionContext context)
    {
        connection.RequestCompleted(Time.GetTimestamp());
        _connections[connection] = context;
    }

    internal void Remove(KafkaConnection connection) => _connections.TryRemove(connection, out _);

    private void Sweep()
    {
        var now = Time.GetTimestamp();
        foreach (var (connection, context) in _connections)
        {
            if (connection.IdleFor(now, Time) is { } idle && idle >= connection.IdleTimeout)
            {
                Close(connection, context, idle);
            }
        }
    }

    private void Close(KafkaConnection connection, ConnectionContext context, TimeSpan idle)
    {
        if (!_connections.TryRemove(connection, out _))
        {
            return;
        }

        connection.ClosedAsIdle = true;
        var pending = connection.PendingRequestBytes;
        _logger.LogInformation(
            "Closing idle connection {Connection}: no request for {IdleMs} ms (connections.max.idle.ms = {MaxIdleMs}){Pending}",
            connection,
            (long)idle.TotalMilliseconds,
            (long)connection.IdleTimeout.TotalMilliseconds,
            pending > 0 ? $", {pending} bytes of an unfinished request received" : "");
        context.Abort(new ConnectionAbortedException("connections.max.idle.ms expired"));
    }

    public void Dispose() => _timer.Dispose();
}
