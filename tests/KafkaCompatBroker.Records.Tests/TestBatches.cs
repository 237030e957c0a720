using System.Buffers;
using System.Text;

namespace KafkaCompatBroker.Records.Tests;

internal static class TestBatches
{
    public const long BaseTimestamp = 1_700_000_000_000;

    /// <summary>A batch of <paramref name="count"/> records "key-i" / "value-i...", every third key null, one header on odd records.</summary>
    public static byte[] Build(int count, CompressionType compression = CompressionType.None, int valueSize = 20)
    {
        using var builder = new RecordBatchBuilder(compression, producerId: 1000, producerEpoch: 3, baseSequence: 0);
        var header = new[] { new RecordHeader("trace", [1, 2, 3]) };
        var value = new byte[valueSize];
        for (var i = 0; i < count; i++)
        {
            value.AsSpan().Fill((byte)('a' + (i % 26)));
            var key = i % 3 == 0 ? null : Encoding.ASCII.GetBytes($"key-{i}");
            builder.Append(BaseTimestamp + i, key, value, i % 2 == 1 ? header : null);
        }

        var output = new ArrayBufferWriter<byte>();
        builder.WriteTo(output);
        return output.WrittenSpan.ToArray();
    }

    public static byte[] Concat(params byte[][] parts)
    {
        var result = new byte[parts.Sum(p => p.Length)];
        var offset = 0;
        foreach (var part in parts)
        {
            part.CopyTo(result, offset);
            offset += part.Length;
        }

        return result;
    }
}
