using System.Globalization;

namespace KafkaCompatBroker.CodeGen;

/// <summary>The emitted codec methods: Read, WriteTo, ComputeSize and HasNonDefaultValues of each message and struct.</summary>
internal sealed partial class MessageEmitter
{
    // ---------------------------------------------------------------- read

    private void EmitRead(IReadOnlyList<FieldSpec> fields, bool isMessage)
    {
        _w.Open($"{(isMessage ? "public" : "internal")} void Read(ref SequenceReader<byte> reader, short version)");
        if (isMessage)
        {
            EmitVersionCheck("read");
        }

        foreach (var f in fields)
        {
            var regular = RegularCond(f);
            if (regular == "true")
            {
                EmitReadValue(f, "reader", Compact(f), $"{f.Name}");
            }
            else if (regular == "false")
            {
                EmitReset(f);
            }
            else
            {
                _w.Open($"if ({regular})");
                EmitReadValue(f, "reader", Compact(f), $"{f.Name}");
                _w.Close();
                _w.Open("else");
                EmitReset(f);
                _w.Close();
            }
        }

        _w.Line("UnknownTaggedFields = null;");
        var flexible = Flexible;
        if (flexible != "false")
        {
            if (flexible != "true")
            {
                _w.Open($"if ({flexible})");
            }

            _w.Line("var taggedCount = global::KafkaCompatBroker.Protocol.ProtocolReader.ReadUnsignedVarint(ref reader);");
            _w.Open("for (uint tagIndex = 0; tagIndex < taggedCount; tagIndex++)");
            _w.Line("var tag = (int)global::KafkaCompatBroker.Protocol.ProtocolReader.ReadUnsignedVarint(ref reader);");
            _w.Line("var size = global::KafkaCompatBroker.Protocol.ProtocolReader.ReadTaggedSize(ref reader);");
            _w.Open("switch (tag)");
            foreach (var f in fields.Where(f => f.IsTagged).OrderBy(f => f.Tag))
            {
                var cond = TaggedCond(f);
                if (cond == "false")
                {
                    continue;
                }

                _w.Open(cond == "true" ? $"case {f.Tag}:" : $"case {f.Tag} when {cond}:");
                _w.Line("var tagged = global::KafkaCompatBroker.Protocol.ProtocolReader.ReadTaggedSlice(ref reader, size);");
                EmitReadValue(f, "tagged", "true", f.Name);
                _w.Line("break;");
                _w.Close();
            }

            _w.Line("default:");
            _w.Line("    (UnknownTaggedFields ??= []).Add(global::KafkaCompatBroker.Protocol.ProtocolReader.ReadUnknownTaggedField(ref reader, tag, size));");
            _w.Line("    break;");
            _w.Close();
            _w.Close();
            if (flexible != "true")
            {
                _w.Close();
            }
        }

        _w.Close();
    }

    private void EmitVersionCheck(string verb)
    {
        _w.Open("if (version < LowestVersion || version > HighestVersion)");
        _w.Line($"throw new global::KafkaCompatBroker.Protocol.KafkaProtocolException($\"cannot {verb} {_message.Name} version {{version}}: supported versions are {{LowestVersion}} to {{HighestVersion}}\");");
        _w.Close();
        _w.Line();
    }

    private void EmitReadValue(FieldSpec f, string reader, string compact, string target)
    {
        const string R = "global::KafkaCompatBroker.Protocol.ProtocolReader";
        var nullable = NullableCond(f);
        var name = "\"" + f.Name + "\"";
        if (f.IsArray)
        {
            _w.Open("");
            _w.Line($"var count = {R}.ReadArrayLength(ref {reader}, {compact}, {nullable}, {name});");
            if (IsNullableType(f))
            {
                _w.Open("if (count < 0)");
                _w.Line($"{target} = null;");
                _w.Close();
                _w.Open("else");
            }
            else
            {
                _w.Open("");
            }

            // The list (and its elements) the object already holds are refilled: a reused message allocates nothing.
            var elem = ElementCsType(f.ElementType);
            _w.Line($"var list = {target} ?? new List<{elem}>(count);");
            _w.Open("if (list.Capacity < count)");
            _w.Line("list.Capacity = count;");
            _w.Close();
            _w.Open("for (var i = 0; i < count; i++)");
            if (f.IsStruct)
            {
                _w.Open("if (i < list.Count)");
                _w.Line($"list[i].Read(ref {reader}, version);");
                _w.Close();
                _w.Open("else");
                _w.Line($"var item = new {elem}();");
                _w.Line($"item.Read(ref {reader}, version);");
                _w.Line("list.Add(item);");
                _w.Close();
            }
            else
            {
                _w.Open("if (i < list.Count)");
                _w.Line($"list[i] = {ReadScalar(f.ElementType, reader, compact, "false", name, elementOfArray: true, previous: "list[i]")};");
                _w.Close();
                _w.Open("else");
                _w.Line($"list.Add({ReadScalar(f.ElementType, reader, compact, "false", name, elementOfArray: true)});");
                _w.Close();
            }

            _w.Close();
            _w.Open("if (list.Count > count)");
            _w.Line("list.RemoveRange(count, list.Count - count);");
            _w.Close();
            _w.Line($"{target} = list;");
            _w.Close();
            _w.Close();
        }
        else if (f.IsStruct)
        {
            var cls = _classNames[f.ElementType];
            if (IsNullableType(f))
            {
                _w.Open($"if ({R}.ReadStructPresent(ref {reader}, {nullable}, {name}))");
                _w.Line($"var value = {target} ?? new {cls}();");
                _w.Line($"value.Read(ref {reader}, version);");
                _w.Line($"{target} = value;");
                _w.Close();
                _w.Open("else");
                _w.Line($"{target} = null;");
                _w.Close();
            }
            else
            {
                _w.Line($"({target} ??= new {cls}()).Read(ref {reader}, version);");
            }
        }
        else
        {
            _w.Line($"{target} = {ReadScalar(f.ElementType, reader, compact, nullable, name, elementOfArray: false, nullableType: IsNullableType(f), previous: target)};");
        }
    }

    /// <param name="previous">For strings: the value held before, returned again (no new string) when the bytes spell it.</param>
    private static string ReadScalar(string type, string reader, string compact, string nullable, string name, bool elementOfArray, bool nullableType = false, string? previous = null)
    {
        const string R = "global::KafkaCompatBroker.Protocol.ProtocolReader";
        var reuse = previous is null ? "" : ", " + previous;
        return type switch
        {
            "string" when nullableType && !elementOfArray => $"{R}.ReadNullableString(ref {reader}, {compact}, {nullable}, {name}{reuse})",
            "string" => $"{R}.ReadString(ref {reader}, {compact}, {name}{reuse})",
            "bytes" when nullableType && !elementOfArray => $"{R}.ReadNullableBytes(ref {reader}, {compact}, {nullable}, {name})",
            "bytes" => $"{R}.ReadBytes(ref {reader}, {compact}, {name})",
            "records" => $"{R}.ReadRecords(ref {reader}, {compact}, {nullable}, {name})",
            _ => $"{R}.{ReadMethod(type)}(ref {reader})",
        };
    }

    // ---------------------------------------------------------------- write

    private void EmitWrite(IReadOnlyList<FieldSpec> fields, bool isMessage)
    {
        _w.Open($"internal void WriteTo(ref global::KafkaCompatBroker.Protocol.ProtocolWriter writer, short version)");
        if (isMessage)
        {
            EmitVersionCheck("write");
        }

        foreach (var f in fields)
        {
            var regular = RegularCond(f);
            var present = f.IsTagged ? Cond(f.TaggedVersions) : regular;
            if (!f.IsTagged && regular != "false")
            {
                if (regular != "true")
                {
                    _w.Open($"if ({regular})");
                }

                EmitWriteValue(f, "writer", Compact(f));
                if (regular != "true")
                {
                    _w.Close();
                }
            }

            // A version without the field cannot carry a non-default value, unless the field is ignorable.
            var missing = f.IsTagged ? Not(TaggedCond(f)) : Not(present);
            if (!f.Ignorable && missing != "false")
            {
                var prefix = !f.IsTagged && regular != "true" && regular != "false" ? "else " : "";
                var test = missing == "true" || prefix.Length > 0 ? NonDefault(f) : $"({missing}) && {NonDefault(f)}";
                _w.Open($"{prefix}if ({test})");
                _w.Line($"global::KafkaCompatBroker.Protocol.ProtocolWriter.ThrowFieldNotInVersion(\"{f.Name}\", version);");
                _w.Close();
            }
        }

        var flexible = Flexible;
        var tagged = fields.Where(f => f.IsTagged && TaggedCond(f) != "false").OrderBy(f => f.Tag).ToList();
        if (flexible != "false")
        {
            if (flexible != "true")
            {
                _w.Open($"if ({flexible})");
            }

            _w.Line("var taggedCount = (uint)(UnknownTaggedFields?.Count ?? 0);");
            foreach (var f in tagged)
            {
                _w.Open($"if ({TaggedPresent(f)})");
                _w.Line("taggedCount++;");
                _w.Close();
            }

            _w.Line("writer.WriteUnsignedVarint(taggedCount);");
            foreach (var f in tagged)
            {
                _w.Open($"if ({TaggedPresent(f)})");
                _w.Line($"writer.WriteUnsignedVarint({f.Tag});");
                _w.Line("var size = 0;");
                EmitSizeValue(f, "true");
                _w.Line("writer.WriteUnsignedVarint((uint)size);");
                EmitWriteValue(f, "writer", "true");
                _w.Close();
            }

            _w.Open("if (UnknownTaggedFields is { } unknown)");
            _w.Open("foreach (var field in unknown)");
            _w.Line("writer.WriteUnsignedVarint((uint)field.Tag);");
            _w.Line("writer.WriteUnsignedVarint((uint)field.Data.Length);");
            _w.Line("writer.WriteRaw(field.Data);");
            _w.Close();
            _w.Close();
            if (flexible != "true")
            {
                _w.Close();
                _w.Open("else if (UnknownTaggedFields is { Count: > 0 })");
                _w.Line($"throw new global::KafkaCompatBroker.Protocol.KafkaProtocolException($\"{_message.Name}: tagged fields were set, but version {{version}} does not support them\");");
                _w.Close();
            }
        }
        else
        {
            _w.Open("if (UnknownTaggedFields is { Count: > 0 })");
            _w.Line($"throw new global::KafkaCompatBroker.Protocol.KafkaProtocolException($\"{_message.Name}: tagged fields were set, but version {{version}} does not support them\");");
            _w.Close();
        }

        _w.Close();
    }

    private string TaggedPresent(FieldSpec f)
    {
        var cond = Cond(f.TaggedVersions);
        return cond == "true" ? NonDefault(f) : $"({cond}) && {NonDefault(f)}";
    }

    /// <summary>Null allowed: "true" when every version that has the field allows null.</summary>
    private string NullableCond(FieldSpec f)
    {
        var present = f.Versions.Intersect(_codec);
        return f.NullableVersions.Intersect(present) == present ? "true" : Cond(f.NullableVersions);
    }

    private void EmitWriteValue(FieldSpec f, string writer, string compact)
    {
        var nullable = NullableCond(f);
        var x = f.Name;
        var name = "\"" + f.Name + "\"";
        if (f.IsArray)
        {
            if (IsNullableType(f))
            {
                _w.Open($"if ({x} is null)");
                EmitNullCheck(nullable, name);
                _w.Line($"{writer}.WriteArrayLength(-1, {compact});");
                _w.Close();
                _w.Open("else");
            }
            else
            {
                _w.Open($"if ({x} is null)");
                _w.Line($"global::KafkaCompatBroker.Protocol.ProtocolWriter.ThrowNull({name});");
                _w.Close();
                _w.Open("");
            }

            _w.Line($"{writer}.WriteArrayLength({x}.Count, {compact});");
            _w.Open($"foreach (var item in {x})");
            if (f.IsStruct)
            {
                _w.Line($"item.WriteTo(ref {writer}, version);");
            }
            else
            {
                _w.Line(WriteScalar(f.ElementType, writer, compact, "item", name, nullableType: false) + ";");
            }

            _w.Close();
            _w.Close();
        }
        else if (f.IsStruct)
        {
            if (IsNullableType(f))
            {
                _w.Open($"if ({x} is null)");
                EmitNullCheck(nullable, name);
                _w.Line($"{writer}.WriteInt8(-1);");
                _w.Close();
                _w.Open("else");
                _w.Line($"{writer}.WriteInt8(1);");
                _w.Line($"{x}.WriteTo(ref {writer}, version);");
                _w.Close();
            }
            else
            {
                _w.Open($"if ({x} is null)");
                _w.Line($"global::KafkaCompatBroker.Protocol.ProtocolWriter.ThrowNull({name});");
                _w.Close();
                _w.Line($"{x}.WriteTo(ref {writer}, version);");
            }
        }
        else
        {
            if (IsNullableType(f) && nullable != "true")
            {
                _w.Open($"if ({x} is null)");
                EmitNullCheck(nullable, name);
                _w.Close();
            }

            _w.Line(WriteScalar(f.ElementType, writer, compact, x, name, IsNullableType(f)) + ";");
        }
    }

    private void EmitNullCheck(string nullable, string name)
    {
        if (nullable == "true")
        {
            return;
        }

        if (nullable == "false")
        {
            _w.Line($"global::KafkaCompatBroker.Protocol.ProtocolWriter.ThrowNull({name});");
            return;
        }

        _w.Open($"if (!({nullable}))");
        _w.Line($"global::KafkaCompatBroker.Protocol.ProtocolWriter.ThrowNull({name});");
        _w.Close();
    }

    private static string WriteScalar(string type, string writer, string compact, string x, string name, bool nullableType) => type switch
    {
        "string" when nullableType => $"{writer}.WriteNullableString({x}, {compact})",
        "string" => $"{writer}.WriteString({x}, {compact}, {name})",
        "bytes" when nullableType => $"{writer}.WriteNullableBytes({x}, {compact})",
        "bytes" => $"{writer}.WriteBytes({x}, {compact}, {name})",
        "records" => $"{writer}.WriteRecords({x}, {compact})",
        _ => $"{writer}.{WriteMethod(type)}({x})",
    };

    // ---------------------------------------------------------------- size

    private void EmitSize(IReadOnlyList<FieldSpec> fields, bool isMessage)
    {
        _w.Open($"{(isMessage ? "public" : "internal")} int ComputeSize(short version)");
        if (isMessage)
        {
            EmitVersionCheck("measure");
        }

        _w.Line("var size = 0;");
        foreach (var f in fields.Where(f => !f.IsTagged))
        {
            var regular = RegularCond(f);
            if (regular == "false")
            {
                continue;
            }

            if (regular != "true")
            {
                _w.Open($"if ({regular})");
            }

            EmitSizeValue(f, Compact(f));
            if (regular != "true")
            {
                _w.Close();
            }
        }

        var flexible = Flexible;
        if (flexible != "false")
        {
            if (flexible != "true")
            {
                _w.Open($"if ({flexible})");
            }

            _w.Line("var taggedCount = (uint)(UnknownTaggedFields?.Count ?? 0);");
            foreach (var f in fields.Where(f => f.IsTagged && TaggedCond(f) != "false").OrderBy(f => f.Tag))
            {
                _w.Open($"if ({TaggedPresent(f)})");
                _w.Line("taggedCount++;");
                _w.Line("var before = size;");
                EmitSizeValue(f, "true");
                _w.Line($"size += global::KafkaCompatBroker.Protocol.ProtocolSize.UnsignedVarint({f.Tag}) + global::KafkaCompatBroker.Protocol.ProtocolSize.UnsignedVarint((uint)(size - before));");
                _w.Close();
            }

            _w.Open("if (UnknownTaggedFields is { } unknown)");
            _w.Open("foreach (var field in unknown)");
            _w.Line("size += global::KafkaCompatBroker.Protocol.ProtocolSize.UnsignedVarint((uint)field.Tag) + global::KafkaCompatBroker.Protocol.ProtocolSize.UnsignedVarint((uint)field.Data.Length) + field.Data.Length;");
            _w.Close();
            _w.Close();
            _w.Line("size += global::KafkaCompatBroker.Protocol.ProtocolSize.UnsignedVarint(taggedCount);");
            if (flexible != "true")
            {
                _w.Close();
            }
        }

        _w.Line("return size;");
        _w.Close();
    }

    private void EmitSizeValue(FieldSpec f, string compact)
    {
        const string S = "global::KafkaCompatBroker.Protocol.ProtocolSize";
        var x = f.Name;
        if (f.IsArray)
        {
            _w.Line($"size += {S}.ArrayLength({x}?.Count ?? -1, {compact});");
            var fixedSize = FixedSize(f.ElementType);
            if (fixedSize > 0)
            {
                _w.Line($"size += ({x}?.Count ?? 0) * {fixedSize};");
                return;
            }

            _w.Open($"if ({x} is not null)");
            _w.Open($"foreach (var item in {x})");
            _w.Line(f.IsStruct ? "size += item.ComputeSize(version);" : $"size += {ScalarSize(f.ElementType, "item", compact)};");
            _w.Close();
            _w.Close();
        }
        else if (f.IsStruct)
        {
            _w.Line(IsNullableType(f) ? $"size += 1 + ({x}?.ComputeSize(version) ?? 0);" : $"size += {x}?.ComputeSize(version) ?? 0;");
        }
        else
        {
            _w.Line($"size += {ScalarSize(f.ElementType, x, compact)};");
        }
    }

    private static string ScalarSize(string type, string x, string compact) => type switch
    {
        "string" => $"global::KafkaCompatBroker.Protocol.ProtocolSize.String({x}, {compact})",
        "bytes" => $"global::KafkaCompatBroker.Protocol.ProtocolSize.Bytes({x}, {compact})",
        "records" => $"global::KafkaCompatBroker.Protocol.ProtocolSize.Records({x}, {compact})",
        _ => FixedSize(type).ToString(CultureInfo.InvariantCulture),
    };

    // ---------------------------------------------------------------- defaults check

    private void EmitHasNonDefault(IReadOnlyList<FieldSpec> fields)
    {
        _w.Line("/// <summary>True when any field differs from its default (used to decide whether a tagged struct is written).</summary>");
        _w.Open("public bool HasNonDefaultValues()");
        var terms = fields.Select(NonDefault).Append("UnknownTaggedFields is { Count: > 0 }").ToList();
        _w.Line("return " + string.Join("\n            || ", terms) + ";");
        _w.Close();
    }
}
