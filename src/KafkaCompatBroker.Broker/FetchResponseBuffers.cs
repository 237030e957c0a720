using System.Buffers;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using KafkaCompatBroker.Storage;

namespace KafkaCompatBroker.Broker;

/// <summary>
/// A Fetch response whose partitions' records are segment file regions (<see cref="FileRegionMemory"/>):
/// written to a socket they go out with sendfile, never copied through managed memory; written anywhere
/// else they are read into pooled buffers. The regions keep their segment files open until the dispatcher
/// disposes this wrapper after writing the response.
/// </summary>
public sealed class FetchResponseBuffers : IKafkaMessage, IDisposable
{
    // The first region in a field: most fetches return data from one partition, and then no list is allocated.
    private FileRegionMemory? _first;
    private List<FileRegionMemory>? _more;

    public FetchResponseBuffers(FetchResponse response) => Response = response;

    public FetchResponse Response { get; }

    public short LowestSupportedVersion => Response.LowestSupportedVersion;

    public short HighestSupportedVersion => Response.HighestSupportedVersion;

    /// <summary>The records field for <paramref name="region"/>: its bytes stay in the file until written.</summary>
    public ReadOnlySequence<byte> AddRecords(FileRegion region)
    {
        var memory = new FileRegionMemory(region);
        if (_first is null)
        {
            _first = memory;
        }
        else
        {
            (_more ??= []).Add(memory);
        }

        return new ReadOnlySequence<byte>(memory.Memory);
    }

    public void Read(ref SequenceReader<byte> reader, short version) => Response.Read(ref reader, version);

    public void Write(IBufferWriter<byte> writer, short version) => Response.Write(writer, version);

    public int ComputeSize(short version) => Response.ComputeSize(version);

    /// <summary>Releases the regions (their files and any copies); the response's records must not be used afterwards.</summary>
    public void Dispose()
    {
        ((IDisposable?)_first)?.Dispose();
        _first = null;
        if (_more is not null)
        {
            foreach (var region in _more)
            {
                ((IDisposable)region).Dispose();
            }

            _more = null;
        }
    }
}
