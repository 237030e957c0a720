using System.Collections;
using KafkaCompatBroker.Broker.Configuration;

namespace KafkaCompatBroker.Server.Tests;

/// <summary>Config errors name where the bad value came from; a properties file is read as java.util.Properties reads it.</summary>
[Trait(Categories.Name, Categories.Unit)]
public sealed class ConfigLoadingTests
{
    [Fact]
    public void Load_BadValueFromEnvironment_NamesTheVariable()
    {
        var e = Assert.Throws<ConfigException>(() => BrokerConfig.Load("num.partitions=3", [], new Hashtable { ["KAFKA_NUM_PARTITIONS"] = "many" }));

        Assert.Equal("Invalid value many for configuration num.partitions: Not a number of type INT (set by the environment variable KAFKA_NUM_PARTITIONS)", e.Message);
    }

    [Fact]
    public void Load_BadValueFromOverride_NamesTheOverride()
    {
        var e = Assert.Throws<ConfigException>(() => BrokerConfig.Load(null, ["num.partitions=0"], new Hashtable { ["KAFKA_NUM_PARTITIONS"] = "2" }));

        Assert.EndsWith("(set by --override num.partitions=0)", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_BadValueFromFile_HasNoOrigin()
    {
        var e = Assert.Throws<ConfigException>(() => BrokerConfig.Load("num.partitions=0", [], new Hashtable()));

        Assert.DoesNotContain("set by", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a=\\u00zz")]
    [InlineData("a=\\u12")]
    [InlineData("a\\u=1")]
    public void Parse_MalformedUnicodeEscape_ThrowsNamingTheLine(string line)
    {
        var e = Assert.Throws<ConfigException>(() => JavaProperties.Parse("# first\n\n" + line));

        Assert.StartsWith("line 3: malformed \\uxxxx escape", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_UnicodeEscape_IsDecoded()
    {
        Assert.Equal(new KeyValuePair<string, string>("a", "xé"), Assert.Single(JavaProperties.Parse("a=x\\u00e9")));
    }
}
