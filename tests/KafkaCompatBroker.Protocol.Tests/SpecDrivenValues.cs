using System.Buffers;
using System.Collections;
using System.Reflection;
using KafkaCompatBroker.CodeGen;

namespace KafkaCompatBroker.Protocol.Tests;

/// <summary>
/// Fills generated messages with non-default values in exactly the fields a version has, following
/// the spec rather than the generated code, and compares messages field by field.
/// </summary>
internal sealed class SpecDrivenValues(MessageSpec message, short version, bool nullsWherePossible = false)
{
    private readonly Dictionary<string, StructSpec> _structs = CollectStructs(message);
    private int _seed;

    private bool Flexible => message.FlexibleVersions.Contains(version);

    public static IEnumerable<(MessageSpec Spec, Type Type)> AllMessages()
    {
        var assembly = typeof(IKafkaMessage).Assembly;
        foreach (var spec in SpecCatalog.LoadAll(SpecCatalog.FindSpecsDir(AppContext.BaseDirectory)))
        {
            var type = assembly.GetType(SpecCatalog.FolderNamespaces[spec.Folder] + "." + spec.Name)
                ?? throw new InvalidOperationException($"no generated class for {spec.Name}");
            yield return (spec, type);
        }
    }

    /// <summary>Whether a field is on the wire at this version (as a regular or tagged field).</summary>
    public bool Present(FieldSpec f) => f.Versions.Contains(version) && (!f.IsTagged || (f.TaggedVersions.Contains(version) && Flexible));

    public void Fill(object target, IReadOnlyList<FieldSpec> fields)
    {
        foreach (var f in fields)
        {
            if (!Present(f))
            {
                continue;
            }

            var property = target.GetType().GetProperty(f.Name)!;
            property.SetValue(target, MakeValue(f, property.PropertyType));
        }
    }

    private object? MakeValue(FieldSpec f, Type propertyType)
    {
        if (nullsWherePossible && f.NullableVersions.Contains(version))
        {
            return null;
        }

        if (f.IsArray)
        {
            var list = (IList)Activator.CreateInstance(propertyType)!;
            var elementType = propertyType.GetGenericArguments()[0];
            for (var i = 0; i < 2; i++)
            {
                list.Add(f.IsStruct ? MakeStruct(f.ElementType, elementType) : Scalar(f, f.ElementType));
            }

            return list;
        }

        return f.IsStruct ? MakeStruct(f.ElementType, Nullable.GetUnderlyingType(propertyType) ?? propertyType) : Scalar(f, f.ElementType);
    }

    private object MakeStruct(string name, Type type)
    {
        var instance = Activator.CreateInstance(type)!;
        Fill(instance, _structs[name].Fields);
        return instance;
    }

    private object Scalar(FieldSpec f, string type)
    {
        var n = ++_seed;
        var def = f.Default is { } d && d.ValueKind == System.Text.Json.JsonValueKind.Number ? d.GetInt64() : 0;
        var value = def + n; // never the default
        return type switch
        {
            "int8" => (sbyte)(value % 100),
            "int16" => (short)value,
            "uint16" => (ushort)(value + 1000),
            "int32" => (int)value,
            "uint32" => (uint)(value + 100_000),
            "int64" => value + 10_000_000_000L,
            "float64" => n + 0.25,
            "bool" => !(f.Default is { ValueKind: System.Text.Json.JsonValueKind.True }),
            "string" => $"s{n}-é✓",
            "bytes" => new byte[] { 1, 2, (byte)n, 255 },
            "uuid" => new KafkaUuid(n, -n),
            "records" => TwoSegmentSequence([0xde, 0xad, (byte)n, 0xbe, 0xef]),
            _ => throw new InvalidOperationException(type),
        };
    }

    /// <summary>A record set split over two segments, so slicing across segments is exercised.</summary>
    private static ReadOnlySequence<byte> TwoSegmentSequence(byte[] bytes)
    {
        var first = new Segment(bytes.AsMemory(0, 2));
        var last = first.Append(bytes.AsMemory(2));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory) { RunningIndex = RunningIndex + Memory.Length };
            Next = next;
            return next;
        }
    }

    private static Dictionary<string, StructSpec> CollectStructs(MessageSpec message)
    {
        var result = message.CommonStructs.ToDictionary(s => s.Name);
        void Walk(IReadOnlyList<FieldSpec> fields)
        {
            foreach (var f in fields.Where(f => f.Fields is not null))
            {
                result[f.ElementType] = new StructSpec { Name = f.ElementType, Fields = f.Fields! };
                Walk(f.Fields!);
            }
        }

        Walk(message.Fields);
        return result;
    }

    /// <summary>Compares two messages on every field the spec gives, recursively; returns the first difference.</summary>
    public static string? Difference(object? expected, object? actual, string path = "")
    {
        if (expected is null || actual is null)
        {
            return expected is null && actual is null ? null : $"{path}: {expected ?? "null"} != {actual ?? "null"}";
        }

        switch (expected)
        {
            case byte[] e:
                return e.AsSpan().SequenceEqual((byte[])actual) ? null : $"{path}: bytes differ";
            case ReadOnlySequence<byte> e:
                return e.ToArray().AsSpan().SequenceEqual(((ReadOnlySequence<byte>)actual).ToArray()) ? null : $"{path}: records differ";
            case string or ValueType:
                return Equals(expected, actual) ? null : $"{path}: {expected} != {actual}";
            case IList e:
                var a = (IList)actual;
                if (e.Count != a.Count)
                {
                    return $"{path}: {e.Count} elements != {a.Count}";
                }

                for (var i = 0; i < e.Count; i++)
                {
                    if (Difference(e[i], a[i], $"{path}[{i}]") is { } d)
                    {
                        return d;
                    }
                }

                return null;
        }

        foreach (var p in expected.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (p.GetIndexParameters().Length == 0 && p.CanWrite && Difference(p.GetValue(expected), p.GetValue(actual), $"{path}.{p.Name}") is { } d)
            {
                return d;
            }
        }

        return null;
    }
}
