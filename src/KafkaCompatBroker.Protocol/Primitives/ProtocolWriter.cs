using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace KafkaCompatBroker.Protocol;

/// <summary>
/// Writes Kafka's primitive types into an <see cref="IBufferWriter{T}"/>, asking it for memory in
/// chunks rather than per value. <see cref="Flush"/> commits what was written.
/// </summary>
public ref struct ProtocolWriter
{
    private const int ChunkSize = 4096;
    private readonly IBufferWriter<byte> _output;
    private Span<byte> _span;
    private int _buffered;

    public ProtocolWriter(IBufferWriter<byte> output)
    {
        _output = output;
        _span = default;
        _buffered = 0;
    }

    /// <summary>Commits the bytes written so far to the underlying writer.</summary>
    public void Flush()
    {
        if (_buffered > 0)
        {
            _output.Advance(_buffered);
            _buffered = 0;
        }

        _span = default;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Span<byte> Reserve(int count)
    {
        if (_span.Length - _buffered < count)
        {
            Grow(count);
        }

        var span = _span.Slice(_buffered, count);
        _buffered += count;
        return span;
    }

    private void Grow(int count)
    {
        Flush();
        _span = _output.GetSpan(Math.Max(count, ChunkSize));
    }

    public void WriteInt8(sbyte value) => Reserve(1)[0] = (byte)value;

    public void WriteBool(bool value) => Reserve(1)[0] = value ? (byte)1 : (byte)0;

    public void WriteInt16(short value) => BinaryPrimitives.WriteInt16BigEndian(Reserve(2), value);

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Reserve(2), value);

    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32BigEndian(Reserve(4), value);

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Reserve(4), value);

    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64BigEndian(Reserve(8), value);

    public void WriteFloat64(double value) => BinaryPrimitives.WriteInt64BigEndian(Reserve(8), BitConverter.DoubleToInt64Bits(value));

    public void WriteUuid(KafkaUuid value) => value.WriteBytes(Reserve(16));

    public void WriteUnsignedVarint(uint value)
    {
        var span = Reserve(ProtocolSize.UnsignedVarint(value));
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i] = (byte)value;
    }

    public void WriteString(string value, bool compact, string field)
    {
        if (value is null)
        {
            ThrowNull(field);
        }

        WriteNullableString(value, compact);
    }

    public void WriteNullableString(string? value, bool compact)
    {
        if (value is null)
        {
            WriteLength(-1, compact, int16: true);
            return;
        }

        var length = Encoding.UTF8.GetByteCount(value);
        if (length > short.MaxValue)
        {
            throw new KafkaProtocolException($"string of {length} bytes is longer than the protocol's limit of {short.MaxValue}");
        }

        WriteLength(length, compact, int16: true);
        Encoding.UTF8.GetBytes(value, Reserve(length));
    }

    public void WriteBytes(byte[] value, bool compact, string field)
    {
        if (value is null)
        {
            ThrowNull(field);
        }

        WriteNullableBytes(value, compact);
    }

    public void WriteNullableBytes(byte[]? value, bool compact)
    {
        if (value is null)
        {
            WriteLength(-1, compact, int16: false);
            return;
        }

        WriteLength(value.Length, compact, int16: false);
        WriteRaw(value);
    }

    public void WriteRecords(ReadOnlySequence<byte>? value, bool compact)
    {
        if (value is not { } records)
        {
            WriteLength(-1, compact, int16: false);
            return;
        }

        WriteLength(checked((int)records.Length), compact, int16: false);
        if (records.IsSingleSegment && !records.IsEmpty && _output is IFileRegionWriter files
            && MemoryMarshal.TryGetMemoryManager<byte, MemoryManager<byte>>(records.First, out var manager, out var start, out var length)
            && manager is IFileBackedMemory file)
        {
            // Records that live in a file go to the output as a file region (sendfile), not as bytes.
            Flush();
            if (files.TryWriteFileRegion(file.File, file.Position + start, length))
            {
                return;
            }
        }

        foreach (var segment in records)
        {
            WriteRaw(segment.Span);
        }
    }

    public void WriteArrayLength(int count, bool compact) => WriteLength(count, compact, int16: false);

    /// <summary>Copies raw bytes; large blocks go straight to the underlying writer in pieces.</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            if (_span.Length == _buffered)
            {
                Grow(1);
            }

            var n = Math.Min(bytes.Length, _span.Length - _buffered);
            bytes[..n].CopyTo(_span[_buffered..]);
            _buffered += n;
            bytes = bytes[n..];
        }
    }

    private void WriteLength(int length, bool compact, bool int16)
    {
        if (compact)
        {
            WriteUnsignedVarint((uint)(length + 1));
        }
        else if (int16)
        {
            WriteInt16((short)length);
        }
        else
        {
            WriteInt32(length);
        }
    }

    [DoesNotReturn]
    public static void ThrowNull(string field) => throw new KafkaProtocolException($"non-nullable field {field} is null");

    [DoesNotReturn]
    public static void ThrowFieldNotInVersion(string field, short version) =>
        throw new KafkaProtocolException($"attempted to write a non-default {field} at version {version}, which does not have that field");
}
