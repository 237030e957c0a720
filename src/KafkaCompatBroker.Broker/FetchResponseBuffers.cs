using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// A Fetch response whose partitions' records live in pooled buffers: each partition's file region is
/// copied once into a rented array, the response's records are slices of those arrays, and the
/// dispatcher disposes this wrapper after writing the response, which returns the arrays to the pool.
/// Zero-copy (sendfile of the <see cref="FileRegion"/>s straight to the socket) is issue 7: it will
/// replace <see cref="AddRecords"/> with regions the network layer writes itself.
/// </summary>
public sealed class FetchResponseBuffers : IKafkaMessage, IDisposable
{
    private readonly List<byte[]> _rented = [];

    public FetchResponseBuffers(FetchResponse response) => Response = response;

    public FetchResponse Response { get; }

    public short LowestSupportedVersion => Response.LowestSupportedVersion;

    public short HighestSupportedVersion => Response.HighestSupportedVersion;

    /// <summary>Copies <paramref name="region"/> into a pooled buffer and returns the records slice over it.</summary>
    public ReadOnlySequence<byte> AddRecords(FileRegion region)
    {
        // Issue 7: send the region with sendfile instead of this copy.
        var buffer = ArrayPool<byte>.Shared.Rent(region.Length);
        _rented.Add(buffer);
        region.CopyTo(buffer.AsSpan(0, region.Length));
        return new ReadOnlySequence<byte>(buffer, 0, region.Length);
    }

    public void Read(ref SequenceReader<byte> reader, short version) => Response.Read(ref reader, version);

    public void Write(IBufferWriter<byte> writer, short version) => Response.Write(writer, version);

    public int ComputeSize(short version) => Response.ComputeSize(version);

    /// <summary>Returns the buffers to the pool; the response's records must not be used afterwards.</summary>
    public void Dispose()
    {
        foreach (var buffer in _rented)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _rented.Clear();
    }
}
