using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// A Fetch response whose partitions' records are segment file regions (<see cref="FileRegionMemory"/>):
/// written to a socket they go out with sendfile, never copied through managed memory; written anywhere
/// else they are read into pooled buffers. The regions keep their segment files open until the dispatcher
/// disposes this wrapper after writing the response. A connection reuses one wrapper and its region objects
/// from fetch to fetch (disposing releases the files and keeps the objects).
/// </summary>
public sealed class FetchResponseBuffers : IKafkaMessage, IDisposable
{
    private readonly List<FileRegionMemory> _regions = [];
    private int _used;

    public FetchResponseBuffers(FetchResponse response) => Response = response;

    public FetchResponse Response { get; }

    public short LowestSupportedVersion => Response.LowestSupportedVersion;

    public short HighestSupportedVersion => Response.HighestSupportedVersion;

    /// <summary>The records field for <paramref name="region"/>: its bytes stay in the file until written.</summary>
    public ReadOnlySequence<byte> AddRecords(FileRegion region)
    {
        FileRegionMemory memory;
        if (_used < _regions.Count)
        {
            memory = _regions[_used];
            memory.Attach(region);
        }
        else
        {
            memory = new FileRegionMemory(region);
            _regions.Add(memory);
        }

        _used++;
        return new ReadOnlySequence<byte>(memory.Memory);
    }

    public void Read(ref SequenceReader<byte> reader, short version) => Response.Read(ref reader, version);

    public void Write(IBufferWriter<byte> writer, short version) => Response.Write(writer, version);

    public int ComputeSize(short version) => Response.ComputeSize(version);

    /// <summary>Releases the regions (their files and any copies); the response's records must not be used afterwards.</summary>
    public void Dispose()
    {
        for (var i = 0; i < _used; i++)
        {
            ((IDisposable)_regions[i]).Dispose();
        }

        _used = 0;
    }
}
