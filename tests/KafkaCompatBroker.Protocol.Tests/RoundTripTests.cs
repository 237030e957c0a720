using System.Buffers;
using KafkaCompatBroker.CodeGen;

namespace KafkaCompatBroker.Protocol.Tests;

public class RoundTripTests
{
    public static TheoryData<string> MessageNames()
    {
        var data = new TheoryData<string>();
        foreach (var (spec, _) in SpecDrivenValues.AllMessages())
        {
            data.Add(spec.Folder + "/" + spec.Name);
        }

        return data;
    }

    private static (MessageSpec Spec, Type Type) Find(string name) =>
        SpecDrivenValues.AllMessages().Single(m => m.Spec.Folder + "/" + m.Spec.Name == name);

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void WriteThenRead_EveryVersionWithEveryFieldSet_ReproducesMessageAndBytes(string name)
    {
        var (spec, type) = Find(name);
        for (var v = spec.CodecVersions.Min; v <= spec.CodecVersions.Max; v++)
        {
            foreach (var nulls in new[] { false, true })
            {
                var original = (IKafkaMessage)Activator.CreateInstance(type)!;
                new SpecDrivenValues(spec, v, nulls).Fill(original, spec.Fields);

                var bytes = Write(original, v);
                Assert.Equal(bytes.Length, original.ComputeSize(v));

                var copy = (IKafkaMessage)Activator.CreateInstance(type)!;
                var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
                copy.Read(ref reader, v);
                Assert.Equal(0, reader.Remaining);

                Assert.Null(SpecDrivenValues.Difference(original, copy, $"{name} v{v}"));
                Assert.Equal(bytes, Write(copy, v));
            }
        }
    }

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Read_TruncatedInput_ThrowsProtocolException(string name)
    {
        var (spec, type) = Find(name);
        for (var v = spec.CodecVersions.Min; v <= spec.CodecVersions.Max; v++)
        {
            var original = (IKafkaMessage)Activator.CreateInstance(type)!;
            new SpecDrivenValues(spec, v).Fill(original, spec.Fields);
            var bytes = Write(original, v);
            for (var length = 0; length < bytes.Length; length++)
            {
                var copy = (IKafkaMessage)Activator.CreateInstance(type)!;
                var truncated = bytes.AsMemory(0, length);
                Assert.Throws<KafkaProtocolException>(() =>
                {
                    var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(truncated));
                    copy.Read(ref reader, v);
                });
            }
        }
    }

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Read_RandomBytes_SucceedsOrThrowsProtocolException(string name)
    {
        var (spec, type) = Find(name);
        var random = new Random(name.GetHashCode(StringComparison.Ordinal));
        for (var v = spec.CodecVersions.Min; v <= spec.CodecVersions.Max; v++)
        {
            for (var i = 0; i < 50; i++)
            {
                var bytes = new byte[random.Next(0, 64)];
                random.NextBytes(bytes);
                var copy = (IKafkaMessage)Activator.CreateInstance(type)!;
                try
                {
                    var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
                    copy.Read(ref reader, v);
                }
                catch (KafkaProtocolException)
                {
                    // the only acceptable failure
                }
            }
        }
    }

    internal static byte[] Write(IKafkaMessage message, short version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        message.Write(buffer, version);
        return buffer.WrittenSpan.ToArray();
    }
}
