using System.Buffers;

namespace KafkaCompatBroker.Protocol;

/// <summary>A protocol message that can be read and written at any version its codec supports.</summary>
public interface IKafkaMessage
{
    /// <summary>Lowest version the codec reads and writes.</summary>
    short LowestSupportedVersion { get; }

    /// <summary>Highest version the codec reads and writes.</summary>
    short HighestSupportedVersion { get; }

    /// <summary>Reads the message; throws <see cref="KafkaProtocolException"/> on malformed or truncated input.</summary>
    void Read(ref SequenceReader<byte> reader, short version);

    /// <summary>Writes exactly <see cref="ComputeSize"/> bytes.</summary>
    void Write(IBufferWriter<byte> writer, short version);

    /// <summary>The exact number of bytes <see cref="Write"/> produces at this version.</summary>
    int ComputeSize(short version);
}
