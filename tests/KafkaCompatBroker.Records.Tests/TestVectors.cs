namespace KafkaCompatBroker.Records.Tests;

/// <summary>
/// Bytes produced by independent implementations, so the codecs are not only checked against themselves.
/// Batch*: kafka-python 2.0.2 DefaultRecordBatchBuilder (10 records, see <see cref="ExpectedRecords"/>), its codecs
/// from python-snappy (xerial framing), python-lz4 (frame) and python-zstandard.
/// Text codecs: the 1910 bytes of <see cref="Text"/> compressed by python3 gzip, python-snappy (raw),
/// the lz4 1.9.4 CLI and the zstd 1.5.4 CLI.
/// </summary>
internal static class TestVectors
{
    public const string BatchNone = "AAAAAAAAAAAAAAMgAAAAAAJmUnt3ABAAAAAJAAABi8/laAAAAAGLz+VoWgAAAAAAABCSAAcAAABkAAAACo4BAAAAAYABdmFsdWUtMC12YWx1ZS0wLXZhbHVlLTAtdmFsdWUtMC12YWx1ZS0wLXZhbHVlLTAtdmFsdWUtMC12YWx1ZS0wLQCmAQAUAgprZXktMYABdmFsdWUtMS12YWx1ZS0xLXZhbHVlLTEtdmFsdWUtMS12YWx1ZS0xLXZhbHVlLTEtdmFsdWUtMS12YWx1ZS0xLQIEaDAGaHYwrgEAKAQKa2V5LTKAAXZhbHVlLTItdmFsdWUtMi12YWx1ZS0yLXZhbHVlLTItdmFsdWUtMi12YWx1ZS0yLXZhbHVlLTItdmFsdWUtMi0EBGgwBmh2MARoMQGOAQA8BgGAAXZhbHVlLTMtdmFsdWUtMy12YWx1ZS0zLXZhbHVlLTMtdmFsdWUtMy12YWx1ZS0zLXZhbHVlLTMtdmFsdWUtMy0ApgEAUAgKa2V5LTSAAXZhbHVlLTQtdmFsdWUtNC12YWx1ZS00LXZhbHVlLTQtdmFsdWUtNC12YWx1ZS00LXZhbHVlLTQtdmFsdWUtNC0CBGgwBmh2MK4BAGQKCmtleS01gAF2YWx1ZS01LXZhbHVlLTUtdmFsdWUtNS12YWx1ZS01LXZhbHVlLTUtdmFsdWUtNS12YWx1ZS01LXZhbHVlLTUtBARoMAZodjAEaDEBjgEAeAwBgAF2YWx1ZS02LXZhbHVlLTYtdmFsdWUtNi12YWx1ZS02LXZhbHVlLTYtdmFsdWUtNi12YWx1ZS02LXZhbHVlLTYtAKgBAIwBDgprZXktN4ABdmFsdWUtNy12YWx1ZS03LXZhbHVlLTctdmFsdWUtNy12YWx1ZS03LXZhbHVlLTctdmFsdWUtNy12YWx1ZS03LQIEaDAGaHYwsAEAoAEQCmtleS04gAF2YWx1ZS04LXZhbHVlLTgtdmFsdWUtOC12YWx1ZS04LXZhbHVlLTgtdmFsdWUtOC12YWx1ZS04LXZhbHVlLTgtBARoMAZodjAEaDEBDgC0ARIBAQA=";
    public const string BatchGzip = "AAAAAAAAAAAAAADhAAAAAALytJEOAAEAAAAJAAABi8/laAAAAAGLz+VoWv//////////////////AAAACh+LCACI6gFrAv+dz0EKglAUheFz5CEhIREtoskFNU0HLaItBAlCTZWatYBwDY2iUTRogdGjK9Lwjv7Zxzk9AfDCbndsa0nEWtyJRRAd6rOkqqVibeCaJGy65EksnUczRTOx1v1Q16TsiU043F6Jtd/b24lfmKuWi7Wj2/vIo4WihVj7d/s0HW6vxVo8iCtjP7FUrhRr9feLuHHm1UrVSqwdH4/x5pzEBzBInQLvAgAA";
    public const string BatchSnappy = "AAAAAAAAAAAAAAEUAAAAAAKsnQOEAAIAAAAJAAABi8/laAAAAAGLz+VoWv//////////////////AAAACoJTTkFQUFkAAAAAAQAAAAEAAADP7wU8jgEAAAABgAF2YWx1ZS0wLd4IACwApgEAFAIKa2V5LTERTgAxDU7GCAAwAgRoMAZodjCuAQAoBAVVADIRVQAyDVXGCAAABA1VJARoMQGOAQA8BgERVAAzDVTGCAAB9wRQCAWiADQRTgA0DU7GCAAEAgQV9wRkCgVVADURVQA1DVXGCAA69wAIeAwBEVQANg1UxggAGACoAQCMAQ4FowA3EU8ANw1PxggAAAIN+BSwAQCgARAFVgA4EVYAOA1WxggALvkAHA4AtAESAQEA";
    public const string BatchLz4 = "AAAAAAAAAAAAAAEaAAAAAAL4ArXkAAMAAAAJAAABi8/laAAAAAGLz+VoWv//////////////////AAAACgQiTRhoQO8CAAAAAAAAT9IAAAD/AY4BAAAAAYABdmFsdWUtMC0IACXEAKYBABQCCmtleS0xTgATMU4ADwgAH9ECBGgwBmh2MK4BACgEVQAUMlUAEzJVAA8IAB8TBFUAlQRoMQGOAQA8BvcAEzNUAA8IAB8A9wAhUAiiABQ0ogATNE4ADwgAHwf3ACFkClUAFDVVABM1VQAPCAAfC/cAJXgM9wATNlQADwgAH3EAqAEAjAEOowAUN6MAEzdPAA8IAB8E+ABhsAEAoAEQVgAUOFYAEzhWAA8IAB8I+QCADgC0ARIBAQAAAAAA";
    public const string BatchZstd = "AAAAAAAAAAAAAAD2AAAAAAL+U9WkAAQAAAAJAAABi8/laAAAAAGLz+VoWv//////////////////AAAACii1L/1g7wHdBQCiCB4jcFXTAYCGGP2vlx58xlMe0d9XMbtSSinSAe3fkdbR0e5oSQb2Ex5gzrru7u7uHlxiB1iOmZmZmZ1H7BS73d3dXYFDVVVVVRtFZmZmZgYQiIiIiMzBXh2a1oqiZbBXHmpinmktEHQPadEsBfvE7jmpwUhQh9zMXgVDqDHQtKS00hrAk2oOEmDACDCzSovL/18H84Dcj3Hm0Z/d6QQ6tiO5H1+0Z5LysKMXbDcbwAgb1RGGiCy/rtWq";
    public const string Gzip = "H4sIAIjqAWsC/5XUyQ3CUBAE0VQmAsR0s+bhBFhsdj4YzOLoIQCEVPe6PXVX2zqu3W51iGVbnudoyiuGse9Ol1uUR93G/RscF/071mUziOpHniwXy83yEcvHLJ+wfMryGcvnkImyQteEsAllE9ImtE2Im1A3IW9CX0Ff0d1CX0FfQV9BX0FfQV9BX0FfQ19DX9Njhr6Gvoa+hr6Gvoa+/uP7AfcSPrN2BwAA";
    public const string SnappyRaw = "9g64VGhlIHF1aWNrIGJyb3duIGZveCAwIGp1bXBzIG92ZXIgdGhlIGxhenkgZG9nLiBOLwAAMbYvAAAyti8AADO2LwAANLYvAAA1ti8AADa2LwAAN7YvAAA4ti8AADm2LwAAMb7XAbrYAQAxutkBADG62gEAMbrbAQAxutwBADG63QEAMbreAQAxut8BADG64AEAMrrgAQAyuuABADK64AEAMrrgAQAyuuABADK64AEAMrrgAQAyuuABADK64AEAMrrgAQAzuuABADO64AEAM7rgAQAzuuABADO64AEAM7rgAQAzuuABADO64AEAM7rgAQAzauAB";
    public const string Lz4Cli = "BCJNGGRAp/wAAAD/IFRoZSBxdWljayBicm93biBmb3ggMCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZy4gLwABHzEvABsfMi8AGx8zLwAbHzQvABsfNS8AGx82LwAbHzcvABsfOC8AGx85LwAbHzHXAR0P2AEcHzHZARwfMdoBHB8x2wEcHzHcARwfMd0BHB8x3gEcHzHfARwfMeABHB8y4AEcHzLgARwfMuABHB8y4AEcHzLgARwfMuABHB8y4AEcHzLgARwfMuABHB8y4AEcHzPgARwfM+ABHB8z4AEcHzPgARwfM+ABHB8z4AEcHzPgARwfM+ABHB8z4AEcHzPgAQNQZG9nLiAAAAAAGWHEUA==";
    public const string ZstdCli = "KLUv/WR2BiUFAFJFExtgjTqvtZihCHitxQwxkKEogK1ZkmIGmAAAygP///+/bdu23bZt2wh6nIa5S4VwAkomE4JqOcjU49hYJJqBCyM3oAJyDMBDoNAYVEsKKCCAM0oPoRAdI0YkiI6IMRKiQ8SIBNERMURCdESMkRAdIkYkHB3jRgxxIyHc6AA3YnwbCd5GR7cRg9tI2DaCtEW3yWbK5s1kmzLzNtmm3M17SccyjlsKXg==";

    public static byte[] Text
    {
        get
        {
            var builder = new System.Text.StringBuilder();
            for (var i = 0; i < 40; i++)
            {
                builder.Append(System.Globalization.CultureInfo.InvariantCulture, $"The quick brown fox {i} jumps over the lazy dog. ");
            }

            return System.Text.Encoding.ASCII.GetBytes(builder.ToString());
        }
    }

    /// <summary>What kafka-python was asked to write into each Batch* vector (record i has offset i).</summary>
    public static (byte[]? Key, byte[]? Value, long Timestamp, (string Key, byte[]? Value)[] Headers) ExpectedRecord(int i)
    {
        var key = i % 3 == 0 ? null : System.Text.Encoding.ASCII.GetBytes($"key-{i}");
        byte[]? value = null;
        if (i != 9)
        {
            var text = string.Concat(Enumerable.Repeat($"value-{i}-", 8));
            value = System.Text.Encoding.ASCII.GetBytes(text);
        }

        var headers = new (string, byte[]?)[i % 3];
        for (var j = 0; j < headers.Length; j++)
        {
            headers[j] = ($"h{j}", j == 1 ? null : System.Text.Encoding.ASCII.GetBytes($"hv{j}"));
        }

        return (key, value, 1700000000000 + (i * 10), headers);
    }

    public const int ExpectedRecords = 10;
}
