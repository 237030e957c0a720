using System.Buffers;
using KafkaCompatBroker.CodeGen;

namespace KafkaCompatBroker.Protocol.Tests;

[Trait(Categories.Name, Categories.Unit)]
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
        TestSeed.Run(TestSeed.For(name), random =>
        {
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
        });
    }

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Read_IntoReusedMessage_HoldsOnlyTheValuesRead(string name)
    {
        // The dispatcher reads each connection's Produce and Fetch requests into the same objects: whatever
        // a reused object held before (another version, more or fewer elements, nulls), a read must leave
        // exactly what reading into a new object gives.
        var (spec, type) = Find(name);
        var inputs = new List<(short Version, string Kind, byte[] Bytes)>();
        for (var v = spec.CodecVersions.Min; v <= spec.CodecVersions.Max; v++)
        {
            foreach (var nulls in new[] { false, true })
            {
                var filled = (IKafkaMessage)Activator.CreateInstance(type)!;
                new SpecDrivenValues(spec, v, nulls).Fill(filled, spec.Fields);
                inputs.Add((v, nulls ? "nulls" : "full", Write(filled, v)));
            }

            if (TryWrite((IKafkaMessage)Activator.CreateInstance(type)!, v) is { } empty)
            {
                inputs.Add((v, "default", empty));
            }
        }

        var previous = inputs.Where(i => i.Version == spec.CodecVersions.Min || i.Version == spec.CodecVersions.Max).ToList();
        foreach (var next in inputs)
        {
            var fresh = ReadNew(type, next.Bytes, next.Version);
            foreach (var before in previous.Concat(inputs.Where(i => i.Version == next.Version && i.Kind == "full")))
            {
                var reused = ReadNew(type, before.Bytes, before.Version);
                var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(next.Bytes));
                reused.Read(ref reader, next.Version);
                Assert.Null(SpecDrivenValues.Difference(fresh, reused, $"{name} v{next.Version} {next.Kind} read over v{before.Version} {before.Kind}"));
                Assert.Equal(next.Bytes, Write(reused, next.Version));
            }
        }
    }

    [Theory]
    [MemberData(nameof(MessageNames))]
    public void Reset_EveryVersionWithEveryFieldSet_EqualsNewObject(string name)
    {
        // Handlers reset reused response objects and their elements before refilling them.
        var (spec, type) = Find(name);
        for (var v = spec.CodecVersions.Min; v <= spec.CodecVersions.Max; v++)
        {
            var filled = (IKafkaMessage)Activator.CreateInstance(type)!;
            new SpecDrivenValues(spec, v).Fill(filled, spec.Fields);
            var objects = new List<object>();
            CollectGenerated(filled, objects);
            foreach (var obj in objects)
            {
                obj.GetType().GetMethod("Reset")!.Invoke(obj, null);
                Assert.Null(SpecDrivenValues.Difference(Activator.CreateInstance(obj.GetType()), obj, $"{name} v{v} {obj.GetType().Name}"));
            }
        }
    }

    /// <summary>The message and every struct object under it (list elements included).</summary>
    private static void CollectGenerated(object obj, List<object> objects)
    {
        objects.Add(obj);
        foreach (var p in obj.GetType().GetProperties())
        {
            if (p.GetIndexParameters().Length > 0 || !p.CanWrite)
            {
                continue;
            }

            switch (p.GetValue(obj))
            {
                case System.Collections.IList list:
                    foreach (var item in list)
                    {
                        if (item is not null && item.GetType().Namespace == obj.GetType().Namespace && item.GetType().IsNested)
                        {
                            CollectGenerated(item, objects);
                        }
                    }

                    break;
                case { } value when value.GetType().IsNested && value.GetType().Namespace == obj.GetType().Namespace:
                    CollectGenerated(value, objects);
                    break;
            }
        }
    }

    private static IKafkaMessage ReadNew(Type type, byte[] bytes, short version)
    {
        var message = (IKafkaMessage)Activator.CreateInstance(type)!;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));
        message.Read(ref reader, version);
        Assert.Equal(0, reader.Remaining);
        return message;
    }

    private static byte[]? TryWrite(IKafkaMessage message, short version)
    {
        try
        {
            return Write(message, version);
        }
        catch (KafkaProtocolException)
        {
            return null; // a new object's defaults are not writable at every version (a required field)
        }
    }

    internal static byte[] Write(IKafkaMessage message, short version)
    {
        var buffer = new ArrayBufferWriter<byte>();
        message.Write(buffer, version);
        return buffer.WrittenSpan.ToArray();
    }
}
