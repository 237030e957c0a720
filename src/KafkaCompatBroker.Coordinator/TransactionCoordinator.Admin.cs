using System.Text.RegularExpressions;
using KafkaCompatBroker.Protocol;

namespace KafkaCompatBroker.Coordinator;

/// <summary>DescribeTransactions and ListTransactions (KIP-664), as Kafka's TransactionCoordinator / TransactionStateManager answer them.</summary>
public sealed partial class TransactionCoordinator
{
    /// <summary>One transactional id: INVALID_REQUEST for "", TRANSACTIONAL_ID_NOT_FOUND when unknown (or being expired).</summary>
    public TransactionDescription Describe(string transactionalId)
    {
        if (transactionalId.Length == 0)
        {
            return NotDescribed(transactionalId, ErrorCode.InvalidRequest);
        }

        lock (_lock)
        {
            if (!_transactions.TryGetValue(transactionalId, out var metadata) || metadata.State == TransactionState.Dead)
            {
                return NotDescribed(transactionalId, ErrorCode.TransactionalIdNotFound);
            }

            return new TransactionDescription(
                ErrorCode.None,
                transactionalId,
                TransactionStates.Name(metadata.State),
                metadata.TimeoutMs,
                metadata.StartTimestampMs,
                metadata.ProducerId,
                metadata.ProducerEpoch,
                [.. metadata.Partitions.OrderBy(p => p.Topic, StringComparer.Ordinal).ThenBy(p => p.Partition)]);
        }
    }

    private static TransactionDescription NotDescribed(string transactionalId, ErrorCode error) =>
        new(error, transactionalId, "", 0, 0, 0, 0, []);

    /// <summary>
    /// The transactions matching every given filter: states (names; unknown ones are reported back and
    /// match nothing), producer ids, a minimum running time (v1, &lt; 0 = any) and a transactional id
    /// regular expression (v2, whole-id match as Java's Matcher.matches; null/empty = any). Dead ones are
    /// never listed. An invalid expression is INVALID_REGULAR_EXPRESSION.
    /// </summary>
    public (ErrorCode Error, IReadOnlyList<string> UnknownStates, IReadOnlyList<TransactionListing> Transactions) List(
        IReadOnlyCollection<string> stateFilters, IReadOnlyCollection<long> producerIdFilters, long durationFilterMs = -1, string? transactionalIdPattern = null)
    {
        var states = new HashSet<TransactionState>();
        var unknown = new List<string>();
        foreach (var name in stateFilters)
        {
            if (TransactionStates.TryParse(name, out var state))
            {
                states.Add(state);
            }
            else
            {
                unknown.Add(name);
            }
        }

        Regex? pattern = null;
        if (!string.IsNullOrEmpty(transactionalIdPattern))
        {
            try
            {
                pattern = Compile($"^(?:{transactionalIdPattern})\\z");
            }
            catch (ArgumentException)
            {
                return (ErrorCode.InvalidRegularExpression, unknown, []);
            }
        }

        var producerIds = producerIdFilters.ToHashSet();
        var result = new List<TransactionListing>();
        lock (_lock)
        {
            var now = Now;
            foreach (var metadata in _transactions.Values)
            {
                if (metadata.State == TransactionState.Dead
                    || (producerIds.Count > 0 && !producerIds.Contains(metadata.ProducerId))
                    || (stateFilters.Count > 0 && !states.Contains(metadata.State))
                    || (durationFilterMs >= 0 && now - metadata.StartTimestampMs <= durationFilterMs))
                {
                    continue;
                }

                result.Add(new TransactionListing(metadata.TransactionalId, metadata.ProducerId, TransactionStates.Name(metadata.State)));
            }
        }

        // The pattern is matched outside the lock: a slow one must not stall the transactions.
        if (pattern is not null)
        {
            result.RemoveAll(listing => !Matches(pattern, listing.TransactionalId));
        }

        return (ErrorCode.None, unknown, result);
    }

    /// <summary>
    /// Kafka compiles the pattern with java.util.regex. NonBacktracking matches in time linear in the id, so a
    /// pattern from the wire cannot backtrack exponentially on every transactional id under the lock; only a pattern
    /// it cannot run (backreferences, lookarounds) falls back to the backtracking engine, bounded per id.
    /// </summary>
    private static Regex Compile(string pattern)
    {
        try
        {
            return new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.NonBacktracking, TimeSpan.FromSeconds(1));
        }
        catch (NotSupportedException)
        {
            return new Regex(pattern, RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
        }
    }

    private static bool Matches(Regex pattern, string transactionalId)
    {
        try
        {
            return pattern.IsMatch(transactionalId);
        }
        catch (RegexMatchTimeoutException)
        {
            return false;
        }
    }

    /// <summary>The transaction's current state (tests and diagnostics).</summary>
    public TransactionMetadata? Get(string transactionalId)
    {
        lock (_lock)
        {
            return _transactions.TryGetValue(transactionalId, out var metadata) ? metadata : null;
        }
    }

    /// <summary>The partitions still awaiting markers, or in the ongoing transaction, of a transactional id.</summary>
    public IReadOnlyList<TopicPartition> PartitionsOf(string transactionalId)
    {
        lock (_lock)
        {
            return _transactions.TryGetValue(transactionalId, out var metadata) ? [.. metadata.Partitions] : [];
        }
    }
}
