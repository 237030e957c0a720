using System.Globalization;
using System.Text;

namespace KafkaCompatBroker.Broker.Configuration;

/// <summary>
/// Reads the java.util.Properties text format Kafka's server.properties uses: key=value or key:value
/// or "key value", '#' and '!' comments, backslash line continuations and escapes (\t \n \uXXXX).
/// </summary>
public static class JavaProperties
{
    public static List<KeyValuePair<string, string>> Parse(string text)
    {
        var result = new List<KeyValuePair<string, string>>();
        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimStart();
            if (line.Length == 0 || line[0] is '#' or '!')
            {
                continue;
            }

            var lineNumber = i + 1;

            // An odd number of trailing backslashes continues the line.
            while (EndsWithContinuation(line) && i + 1 < lines.Length)
            {
                line = line[..^1] + lines[++i].TrimStart();
            }

            var (key, value) = SplitKeyValue(line);
            result.Add(new(Unescape(key, lineNumber), Unescape(value, lineNumber)));
        }

        return result;
    }

    private static bool EndsWithContinuation(string line)
    {
        var backslashes = 0;
        for (var i = line.Length - 1; i >= 0 && line[i] == '\\'; i--)
        {
            backslashes++;
        }

        return backslashes % 2 == 1;
    }

    private static (string Key, string Value) SplitKeyValue(string line)
    {
        var i = 0;
        while (i < line.Length && !(line[i] is '=' or ':' || char.IsWhiteSpace(line[i])))
        {
            i += line[i] == '\\' ? 2 : 1;
        }

        var key = line[..Math.Min(i, line.Length)];
        while (i < line.Length && char.IsWhiteSpace(line[i]))
        {
            i++;
        }

        if (i < line.Length && line[i] is '=' or ':')
        {
            i++;
        }

        while (i < line.Length && char.IsWhiteSpace(line[i]))
        {
            i++;
        }

        return (key, i < line.Length ? line[i..] : "");
    }

    private static string Unescape(string s, int lineNumber)
    {
        if (!s.Contains('\\', StringComparison.Ordinal))
        {
            return s;
        }

        var sb = new StringBuilder(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            if (s[i] != '\\' || i + 1 >= s.Length)
            {
                sb.Append(s[i]);
                continue;
            }

            var c = s[++i];
            switch (c)
            {
                case 't': sb.Append('\t'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 'f': sb.Append('\f'); break;
                case 'u':
                    // java.util.Properties refuses a \u without four hex digits rather than guessing.
                    if (i + 4 >= s.Length || !int.TryParse(s.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
                    {
                        throw new ConfigException($"line {lineNumber}: malformed \\uxxxx escape (a \\u needs four hex digits)");
                    }

                    sb.Append((char)code);
                    i += 4;
                    break;
                default: sb.Append(c); break;
            }
        }

        return sb.ToString();
    }
}
