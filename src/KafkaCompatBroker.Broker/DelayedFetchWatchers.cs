namespace KafkaCompatBroker.Broker;

/// <summary>
/// The long-poll fetches parked on one partition (Kafka's DelayedOperationPurgatory watcher list, keyed by
/// partition): a fetch registers one node per partition it reads, and an append that moves this partition's high
/// watermark wakes only the fetches registered here. Nodes belong to the connection's <see cref="FetchWaiter"/> and
/// are reused wait after wait, so registering allocates nothing; an append with no fetch parked here takes no lock.
/// </summary>
internal sealed class DelayedFetchWatchers
{
    private readonly Lock _lock = new();

    // An intrusive doubly linked list of the registered nodes; written under _lock, read without it only for the empty check.
    private FetchWaiter.WatchNode? _head;

    public void Add(FetchWaiter.WatchNode node)
    {
        lock (_lock)
        {
            node.Next = _head;
            node.Previous = null;
            if (_head is not null)
            {
                _head.Previous = node;
            }

            _head = node;
        }
    }

    public void Remove(FetchWaiter.WatchNode node)
    {
        lock (_lock)
        {
            if (node.Previous is not null)
            {
                node.Previous.Next = node.Next;
            }
            else if (ReferenceEquals(_head, node))
            {
                _head = node.Next;
            }

            if (node.Next is not null)
            {
                node.Next.Previous = node.Previous;
            }

            node.Next = null;
            node.Previous = null;
        }
    }

    /// <summary>Wakes every fetch parked on this partition; each re-reads its partitions and answers or parks again.</summary>
    public void WakeAll()
    {
        // Pairs with the barrier a fetch runs between registering and reading: either the fetch's read sees what was
        // published before this call, or this check sees its node (Dekker-style; both sides store, fence, then load).
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref _head) is null)
        {
            return;
        }

        lock (_lock)
        {
            // Waking only completes the waiter's value task (continuations run on the thread pool) and stops its timer.
            for (var node = _head; node is not null; node = node.Next)
            {
                node.Waiter.Wake();
            }
        }
    }

    /// <summary>How many fetches are registered (for tests).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                var count = 0;
                for (var node = _head; node is not null; node = node.Next)
                {
                    count++;
                }

                return count;
            }
        }
    }
}
