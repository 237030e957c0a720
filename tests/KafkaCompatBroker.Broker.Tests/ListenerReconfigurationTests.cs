using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using KafkaCompatBroker.Broker.Configuration;
using KafkaCompatBroker.Controller;
using KafkaCompatBroker.Protocol;
using KafkaCompatBroker.Protocol.Messages;
using Microsoft.Extensions.Logging.Abstractions;

namespace KafkaCompatBroker.Broker.Tests;

/// <summary>
/// The listeners config changed at run time, per broker only, as Kafka's DynamicListenerConfig allows it in KRaft:
/// listeners that are not advertised can be added and removed; the advertised ones cannot change.
/// </summary>
[Trait(Categories.Name, Categories.Integration)]
public sealed class ListenerReconfigurationTests
{
    private const sbyte BrokerType = 4;
    private const string AdvertisedOnly = "advertised.listeners=PLAINTEXT://127.0.0.1:9092\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTRA:PLAINTEXT,SSL:SSL";

    [Theory]
    [InlineData(0, "", "listeners", "PLAINTEXT://127.0.0.1:9092,EXTRA://127.0.0.1:0", "Cannot update these configs at default cluster level, broker id must be specified: Set(listeners)")]
    [InlineData(1, "1", "listeners", "SSL://127.0.0.1:9093", "requirement failed: advertised.listeners listener names must be equal to or a subset of the ones defined in listeners. Found PLAINTEXT. The valid options based on the current configuration are SSL")]
    [InlineData(1, "1", "listeners", "PLAINTEXT://127.0.0.1:9092,OTHER://127.0.0.1:0", "Error creating broker listeners from 'PLAINTEXT://127.0.0.1:9092,OTHER://127.0.0.1:0': No security protocol defined for listener OTHER")]
    [InlineData(1, "1", "listener.security.protocol.map", "EXTRA:PLAINTEXT", "Error creating broker listeners from 'PLAINTEXT://127.0.0.1:9092': No security protocol defined for listener PLAINTEXT")]
    public async Task IncrementalAlterConfigs_RefusedListenerChange_ReturnsInvalidRequestWithKafkasMessage(short version, string name, string key, string value, string message)
    {
        using var broker = new TestBroker(AdvertisedOnly);

        var response = await BrokerExchange.SendAsync<IncrementalAlterConfigsResponse>(broker, ApiKey.IncrementalAlterConfigs, version, new IncrementalAlterConfigsRequest
        {
            Resources = [new() { ResourceType = BrokerType, ResourceName = name, Configs = [new() { Name = key, ConfigOperation = 0, Value = value }] }],
        });

        var result = Assert.Single(response.Responses);
        Assert.Equal((short)ErrorCode.InvalidRequest, result.ErrorCode);
        Assert.Equal(message, result.ErrorMessage);
        Assert.Empty(broker.Metadata.Image.GetConfigs(new ConfigResource(ConfigResourceType.Broker, name)));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AlterConfigs_UnadvertisedListenerAdded_IsStoredThenItsProtocolChange_IsRefused(short version)
    {
        using var broker = new TestBroker(AdvertisedOnly);
        var added = await AlterAsync(broker, version, ("listeners", "PLAINTEXT://127.0.0.1:9092,EXTRA://127.0.0.1:0"));
        Assert.Equal(0, Assert.Single(added.Responses).ErrorCode);

        // AlterConfigs replaces the whole set: the listeners stay, the map gives EXTRA another protocol.
        var changed = await AlterAsync(broker, version, ("listeners", "PLAINTEXT://127.0.0.1:9092,EXTRA://127.0.0.1:0"), ("listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,EXTRA:SSL"));

        Assert.Equal((short)ErrorCode.InvalidRequest, changed.Responses[0].ErrorCode);
        Assert.Equal(
            "Invalid value org.apache.kafka.common.config.ConfigException: Security protocol cannot be updated for existing listener ListenerName(EXTRA) for configuration Invalid dynamic configuration",
            changed.Responses[0].ErrorMessage);
        Assert.Equal(
            new Dictionary<string, string> { ["listeners"] = "PLAINTEXT://127.0.0.1:9092,EXTRA://127.0.0.1:0" },
            broker.Metadata.Image.GetConfigs(new ConfigResource(ConfigResourceType.Broker, "1")));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task IncrementalAlterConfigs_AdvertisedListenerBindMovedWhileAdvertisedListenersIsSet_IsAccepted(short version)
    {
        using var broker = new TestBroker(AdvertisedOnly);

        var response = await BrokerExchange.SendAsync<IncrementalAlterConfigsResponse>(broker, ApiKey.IncrementalAlterConfigs, version, new IncrementalAlterConfigsRequest
        {
            Resources = [new() { ResourceType = BrokerType, ResourceName = "1", Configs = [new() { Name = "listeners", ConfigOperation = 0, Value = "PLAINTEXT://127.0.0.1:9094" }] }],
            ValidateOnly = true,
        });

        Assert.Equal(0, Assert.Single(response.Responses).ErrorCode);
    }

    [Fact]
    public async Task KafkaBroker_UnadvertisedListenerAddedThenRemoved_ServesThenClosesAndRestartBindsIt()
    {
        var dir = Path.Combine(Path.GetTempPath(), "kcb-listen-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var config = BrokerConfig.Load(
                $"listeners=PLAINTEXT://127.0.0.1:0\nadvertised.listeners=PLAINTEXT://127.0.0.1:0\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTRA:PLAINTEXT\nlog.dirs={dir}",
                [],
                new System.Collections.Hashtable());
            await using (var broker = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance))
            {
                Assert.Null(broker.ListenerPort("EXTRA"));
                Alter(broker, "PLAINTEXT://127.0.0.1:0,EXTRA://127.0.0.1:0");

                var port = await WaitForAsync(() => broker.ListenerPort("EXTRA"));
                Assert.NotEqual(broker.Ports[0], port);
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                await AssertApiVersionsAnsweredAsync(client.GetStream(), 7);

                Alter(broker, "PLAINTEXT://127.0.0.1:0");

                await WaitForAsync(() => broker.ListenerPort("EXTRA") is null ? 1 : (int?)null);
                Assert.Equal(0, await ReadWithDeadlineAsync(client.GetStream()));
                await Assert.ThrowsAnyAsync<SocketException>(async () =>
                {
                    using var refused = new TcpClient();
                    await refused.ConnectAsync(IPAddress.Loopback, port);
                });

                Alter(broker, "PLAINTEXT://127.0.0.1:0,EXTRA://127.0.0.1:0");
                await WaitForAsync(() => broker.ListenerPort("EXTRA"));
                broker.Context.Metadata.WriteSnapshot();
            }

            await using var restarted = await KafkaBroker.StartAsync(config, NullLoggerFactory.Instance);
            var extra = restarted.ListenerPort("EXTRA");
            Assert.NotNull(extra);
            using var again = new TcpClient();
            await again.ConnectAsync(IPAddress.Loopback, extra.Value);
            await AssertApiVersionsAnsweredAsync(again.GetStream(), 8);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task KafkaBroker_ListenerThatCannotBind_IsLoggedOnceAndMovedListener_ServesOnItsNewPort()
    {
        var dir = Path.Combine(Path.GetTempPath(), "kcb-listen-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var logs = new CapturedErrors();
        using var occupied = new TcpListener(IPAddress.Loopback, 0);
        occupied.Start();
        var busyPort = ((IPEndPoint)occupied.LocalEndpoint).Port;
        try
        {
            var config = BrokerConfig.Load(
                $"listeners=PLAINTEXT://127.0.0.1:0\nadvertised.listeners=PLAINTEXT://127.0.0.1:0\nlistener.security.protocol.map=PLAINTEXT:PLAINTEXT,EXTRA:PLAINTEXT\nlog.dirs={dir}",
                [],
                new System.Collections.Hashtable());
            using var loggerFactory = new Microsoft.Extensions.Logging.LoggerFactory([logs]);
            await using var broker = await KafkaBroker.StartAsync(config, loggerFactory);
            Alter(broker, "PLAINTEXT://127.0.0.1:0,EXTRA://127.0.0.1:0");
            var first = await WaitForAsync(() => broker.ListenerPort("EXTRA"));

            Alter(broker, $"PLAINTEXT://127.0.0.1:0,EXTRA://127.0.0.1:{busyPort}");

            var line = await WaitForAsync(() => logs.Lines.FirstOrDefault(l => l.Contains($"EXTRA://127.0.0.1:{busyPort}", StringComparison.Ordinal)));
            Assert.StartsWith($"Cannot listen on EXTRA://127.0.0.1:{busyPort}: the address is already in use", line);
            Assert.Single(logs.Lines);
            Assert.Equal(first, broker.ListenerPort("EXTRA"));
            using (var client = new TcpClient())
            {
                await client.ConnectAsync(IPAddress.Loopback, first);
                await AssertApiVersionsAnsweredAsync(client.GetStream(), 3);
            }

            // The stored value is what failed: a new value (the same address by name) is a change again.
            occupied.Stop();
            Alter(broker, $"PLAINTEXT://127.0.0.1:0,EXTRA://localhost:{busyPort}");

            await WaitForAsync(() => broker.ListenerPort("EXTRA") == busyPort ? busyPort : null);
            using (var moved = new TcpClient())
            {
                await moved.ConnectAsync(IPAddress.Loopback, busyPort);
                await AssertApiVersionsAnsweredAsync(moved.GetStream(), 4);
            }

            await Assert.ThrowsAnyAsync<SocketException>(async () =>
            {
                using var refused = new TcpClient();
                await refused.ConnectAsync(IPAddress.Loopback, first);
            });
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void Alter(KafkaBroker broker, string listeners)
    {
        var result = BrokerConfigAdmin.AlterAsync(broker.Context, "1", [new AlterConfigOp("listeners", AlterConfigOpType.Set, listeners)], incremental: true, validateOnly: false).AsTask().GetAwaiter().GetResult();
        Assert.True(result.IsSuccess, result.ErrorMessage);
    }

    private static Task<AlterConfigsResponse> AlterAsync(TestBroker broker, short version, params (string Key, string Value)[] configs) =>
        BrokerExchange.SendAsync<AlterConfigsResponse>(broker, ApiKey.AlterConfigs, version, new AlterConfigsRequest
        {
            Resources = [new() { ResourceType = BrokerType, ResourceName = "1", Configs = [.. configs.Select(c => new AlterConfigsRequest.AlterableConfig { Name = c.Key, Value = c.Value })] }],
        });

    private static async Task<int> WaitForAsync(Func<int?> condition)
    {
        int? value = null;
        await Eventually.UntilAsync(() => (value = condition()) is not null, "the listeners change", TimeSpan.FromSeconds(30));
        return value!.Value;
    }

    private static Task<string> WaitForAsync(Func<string?> condition) =>
        Eventually.ValueAsync(condition, "the log line is written", TimeSpan.FromSeconds(30));

    /// <summary>ApiVersions v0 over the socket: the answer carries the correlation id and error code 0.</summary>
    private static async Task AssertApiVersionsAnsweredAsync(NetworkStream stream, int correlationId)
    {
        var request = new byte[14];
        BinaryPrimitives.WriteInt32BigEndian(request, 10);
        BinaryPrimitives.WriteInt16BigEndian(request.AsSpan(4), (short)ApiKey.ApiVersions);
        BinaryPrimitives.WriteInt16BigEndian(request.AsSpan(6), 0);
        BinaryPrimitives.WriteInt32BigEndian(request.AsSpan(8), correlationId);
        BinaryPrimitives.WriteInt16BigEndian(request.AsSpan(12), -1);
        await stream.WriteAsync(request);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var header = new byte[10];
        await stream.ReadExactlyAsync(header, timeout.Token);
        Assert.Equal(correlationId, BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4)));
        Assert.Equal(0, BinaryPrimitives.ReadInt16BigEndian(header.AsSpan(8)));
        var rest = new byte[BinaryPrimitives.ReadInt32BigEndian(header) - 6];
        await stream.ReadExactlyAsync(rest, timeout.Token);
    }

    private static async Task<int> ReadWithDeadlineAsync(NetworkStream stream)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            return await stream.ReadAsync(new byte[1], timeout.Token);
        }
        catch (IOException)
        {
            return 0; // reset by the broker: closed too
        }
    }

    /// <summary>The broker's error lines (a run-time bind failure is one).</summary>
    private sealed class CapturedErrors : Microsoft.Extensions.Logging.ILoggerProvider
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _lines = new();

        public IReadOnlyList<string> Lines => [.. _lines];

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => new Logger(this);

        public void Dispose()
        {
        }

        private sealed class Logger(CapturedErrors owner) : Microsoft.Extensions.Logging.ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Error;

            public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel))
                {
                    owner._lines.Enqueue(formatter(state, exception));
                }
            }
        }
    }
}
