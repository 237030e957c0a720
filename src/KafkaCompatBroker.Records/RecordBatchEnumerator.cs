using System.Buffers;
using System.Buffers.Binary;

namespace KafkaCompatBroker.Records;

/// <summary>Where a <see cref="RecordBatchEnumerator"/> stands.</summary>
public enum RecordBatchSequenceStatus
{
    /// <summary>More batches may follow.</summary>
    InProgress = 0,

    /// <summary>Every byte belonged to a complete batch.</summary>
    Complete,

    /// <summary>
    /// The bytes end in an incomplete batch (see <see cref="RecordBatchEnumerator.Remaining"/>). Normal at the end of
    /// a Fetch response (the broker cut at the size limit); an error in a Produce request.
    /// </summary>
    PartialBatch,

    /// <summary>A batchLength below the v2 minimum: the framing is corrupt, nothing after it can be trusted.</summary>
    InvalidBatchLength,
}

/// <summary>One batch found by <see cref="RecordBatchEnumerator"/>: its decoded header and its bytes (not yet validated).</summary>
public readonly struct RecordBatchSlice
{
    public RecordBatchSlice(in RecordBatchHeader header, in ReadOnlySequence<byte> bytes, long position)
    {
        Header = header;
        Bytes = bytes;
        Position = position;
    }

    public RecordBatchHeader Header { get; }

    /// <summary>The whole batch, header included.</summary>
    public ReadOnlySequence<byte> Bytes { get; }

    /// <summary>Byte position of the batch within the enumerated sequence.</summary>
    public long Position { get; }

    /// <summary>Checks magic, lengths, CRC and counts (see <see cref="RecordBatch.TryValidate(in ReadOnlySequence{byte}, out RecordBatchHeader, out string?, RecordBatchValidation)"/>).</summary>
    public RecordBatchError TryValidate(out string? errorMessage, RecordBatchValidation mode = RecordBatchValidation.Stored) =>
        RecordBatch.TryValidate(Bytes, out _, out errorMessage, mode);
}

/// <summary>
/// Walks the concatenated batches of a records field (Produce request, Fetch response, log segment) without
/// allocating. Only the framing (baseOffset + batchLength) is checked; validate each batch separately.
/// After <see cref="MoveNext"/> returns false, <see cref="Status"/> tells a clean end from a trailing partial
/// batch or corrupt framing. Usable with foreach, but keep the enumerator in a variable to read the status.
/// </summary>
public struct RecordBatchEnumerator
{
    private ReadOnlySequence<byte> _remaining;
    private long _position;

    public RecordBatchEnumerator(in ReadOnlySequence<byte> records)
    {
        _remaining = records;
        _position = 0;
        Current = default;
        Status = RecordBatchSequenceStatus.InProgress;
    }

    public RecordBatchSlice Current { get; private set; }

    public RecordBatchSequenceStatus Status { get; private set; }

    /// <summary>The bytes not yet returned as batches: after the end, the partial (or corrupt) tail.</summary>
    public readonly ReadOnlySequence<byte> Remaining => _remaining;

    /// <summary>Byte position of <see cref="Remaining"/> in the original sequence.</summary>
    public readonly long Position => _position;

    public readonly RecordBatchEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (Status != RecordBatchSequenceStatus.InProgress)
        {
            return false;
        }

        var available = _remaining.Length;
        if (available == 0)
        {
            Status = RecordBatchSequenceStatus.Complete;
            return false;
        }

        if (available < RecordBatchHeader.LogOverhead)
        {
            Status = RecordBatchSequenceStatus.PartialBatch;
            return false;
        }

        var batchLength = ReadBatchLength(_remaining);
        if (batchLength < RecordBatchHeader.MinBatchLength)
        {
            Status = RecordBatchSequenceStatus.InvalidBatchLength;
            return false;
        }

        var totalSize = (long)batchLength + RecordBatchHeader.LogOverhead;
        if (available < totalSize)
        {
            Status = RecordBatchSequenceStatus.PartialBatch;
            return false;
        }

        var bytes = _remaining.Slice(0, totalSize);
        RecordBatchHeader.TryRead(bytes, out var header);
        Current = new RecordBatchSlice(header, bytes, _position);
        _remaining = _remaining.Slice(bytes.End);
        _position += totalSize;
        return true;
    }

    private static int ReadBatchLength(in ReadOnlySequence<byte> source)
    {
        var first = source.FirstSpan;
        if (first.Length >= RecordBatchHeader.LogOverhead)
        {
            return BinaryPrimitives.ReadInt32BigEndian(first[RecordBatchHeader.BatchLengthOffset..]);
        }

        Span<byte> buffer = stackalloc byte[4];
        source.Slice(RecordBatchHeader.BatchLengthOffset, 4).CopyTo(buffer);
        return BinaryPrimitives.ReadInt32BigEndian(buffer);
    }
}

/// <summary>Helpers over a whole records field (several concatenated batches).</summary>
public static class RecordBatches
{
    /// <summary>Enumerates the batches in <paramref name="records"/>; see <see cref="RecordBatchEnumerator"/>.</summary>
    public static RecordBatchEnumerator Enumerate(in ReadOnlySequence<byte> records) => new(records);

    /// <summary>
    /// Validates every batch of a records field. With <see cref="RecordBatchValidation.Produce"/> a trailing partial
    /// batch or an empty field is an error; with <see cref="RecordBatchValidation.Stored"/> a trailing partial batch is
    /// ignored (Fetch responses may end with one). Returns the first error found.
    /// </summary>
    public static RecordBatchError TryValidateAll(
        in ReadOnlySequence<byte> records,
        RecordBatchValidation mode,
        out int batchCount,
        out string? errorMessage)
    {
        batchCount = 0;
        var enumerator = new RecordBatchEnumerator(records);
        while (enumerator.MoveNext())
        {
            var error = enumerator.Current.TryValidate(out errorMessage, mode);
            if (error != RecordBatchError.None)
            {
                errorMessage = $"batch at byte {enumerator.Current.Position}: {errorMessage}";
                return error;
            }

            batchCount++;
        }

        switch (enumerator.Status)
        {
            case RecordBatchSequenceStatus.InvalidBatchLength:
                errorMessage = $"batch at byte {enumerator.Position}: batchLength below the v2 minimum of {RecordBatchHeader.MinBatchLength}";
                return RecordBatchError.InvalidBatchLength;
            case RecordBatchSequenceStatus.PartialBatch when mode == RecordBatchValidation.Produce:
                errorMessage = $"records end with a partial batch of {enumerator.Remaining.Length} bytes at byte {enumerator.Position}";
                return RecordBatchError.Truncated;
            case RecordBatchSequenceStatus.Complete when mode == RecordBatchValidation.Produce && batchCount == 0:
                errorMessage = "no record batch in the records field";
                return RecordBatchError.InvalidRecordCount;
        }

        errorMessage = null;
        return RecordBatchError.None;
    }
}
