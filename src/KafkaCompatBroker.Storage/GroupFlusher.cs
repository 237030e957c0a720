namespace KafkaCompatBroker.Storage;

/// <summary>
/// Group commit of one partition log's fsyncs. Appends whose records must be on disk before they are acknowledged
/// (flush.messages) wait here instead of each fsyncing under the log's lock: one flush runs at a time, and every
/// append that starts waiting meanwhile joins the next flush, which covers everything appended before it starts.
/// All waiters of one flush share one task (no allocation per waiter) and the flush runs on the thread pool,
/// so no thread is blocked per waiter.
/// </summary>
internal sealed class GroupFlusher(PartitionLog log) : IThreadPoolWorkItem
{
    private readonly Lock _gate = new();

    // The waiters of the flush that has not started yet; null when nobody waits.
    private TaskCompletionSource? _next;

    // Whether the flush loop is queued or running (it ends when no waiter is left).
    private bool _running;

    /// <summary>Completes once a flush started after this call (or the flushed offset already covers <paramref name="offset"/>).</summary>
    public ValueTask WaitForAsync(long offset)
    {
        if (log.FlushedOffset >= offset)
        {
            return ValueTask.CompletedTask;
        }

        lock (_gate)
        {
            _next ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var flushed = _next.Task;
            if (!_running)
            {
                _running = true;
                ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
            }

            return new ValueTask(flushed);
        }
    }

    void IThreadPoolWorkItem.Execute()
    {
        while (true)
        {
            TaskCompletionSource generation;
            lock (_gate)
            {
                if (_next is null)
                {
                    _running = false;
                    return;
                }

                generation = _next;
                _next = null;
            }

            // Every waiter of this generation finished its append before it joined, so the log end read now
            // covers all of their records; appends after this point wait for the next generation.
            var end = log.LogEndOffset;
            try
            {
                log.FlushUpTo(end, dataOnly: true);
                generation.SetResult();
            }
            catch (Exception e)
            {
                generation.SetException(e as KafkaStorageException ?? new KafkaStorageException($"flush of {log.TopicPartition} failed: {e.Message}", e));
            }
        }
    }
}
