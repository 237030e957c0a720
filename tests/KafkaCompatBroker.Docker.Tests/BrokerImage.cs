using System.Net;
using System.Net.Sockets;
using DotNet.Testcontainers.Builders;
using DotNet.Testcontainers.Configurations;
using DotNet.Testcontainers.Containers;
using DotNet.Testcontainers.Images;

namespace KafkaCompatBroker.Docker.Tests;

/// <summary>
/// The repository's Dockerfile built once per test run and one container started from it, as a user runs it:
/// no configuration but the advertised listener. The container's port 9092 is published on a free host port, which
/// it advertises on 127.0.0.1. Base images come from KCB_DOCKER_SDK_IMAGE / KCB_DOCKER_RUNTIME_IMAGE when set
/// (tools/with-docker.sh sets them to images it makes locally), else the Dockerfile's official .NET images.
/// </summary>
public sealed class BrokerImage : IAsyncLifetime
{
    public const string DataDir = "/var/lib/kafkacompatbroker";
    private IFutureDockerImage? _image;
    private IContainer? _container;

    static BrokerImage()
    {
        // Testcontainers' reaper runs from an image pulled from a registry, which tools/with-docker.sh does not need;
        // DisposeAsync removes the container and the image instead.
        TestcontainersSettings.ResourceReaperEnabled = false;
    }

    public IContainer Container => _container ?? throw new InvalidOperationException("not started");

    public string Bootstrap { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var builder = new ImageFromDockerfileBuilder()
            .WithDockerfileDirectory(RepositoryRoot())
            .WithDockerfile("Dockerfile")
            .WithName("kafkacompatbroker:docker-tests")
            .WithDeleteIfExists(true);
        foreach (var (variable, argument) in new[] { ("KCB_DOCKER_SDK_IMAGE", "SDK_IMAGE"), ("KCB_DOCKER_RUNTIME_IMAGE", "RUNTIME_IMAGE") })
        {
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } image)
            {
                builder = builder.WithBuildArgument(argument, image);
            }
        }

        _image = builder.Build();
        try
        {
            await _image.CreateAsync();
        }
        catch (DockerUnavailableException e)
        {
            throw new InvalidOperationException("No Docker engine answers. Run these tests through tools/with-docker.sh (bash .ci/run does), which starts one and makes the base images locally.", e);
        }

        var port = FreeLoopbackPort();
        Bootstrap = $"127.0.0.1:{port}";
        _container = new ContainerBuilder(_image)
            .WithPortBinding(port, 9092)
            .WithEnvironment("KAFKA_ADVERTISED_LISTENERS", $"PLAINTEXT://{Bootstrap}")
            .WithWaitStrategy(Wait.ForUnixContainer().UntilMessageIsLogged("Broker 1 started: listening on"))
            .Build();
        using var startDeadline = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await _container.StartAsync(startDeadline.Token);
    }

    public async Task DisposeAsync()
    {
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }

        if (_image is not null)
        {
            // Disposing leaves the image behind (the reaper would remove it): delete it.
            await _image.DeleteAsync();
            await _image.DisposeAsync();
        }
    }

    /// <summary>Runs a command in the container and returns its standard output; fails the test on a non-zero exit.</summary>
    public async Task<string> ExecAsync(params string[] command)
    {
        var result = await Container.ExecAsync(command);
        Assert.True(result.ExitCode == 0, $"{string.Join(' ', command)} exited {result.ExitCode}: {result.Stderr}");
        return result.Stdout;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Dockerfile")) && File.Exists(Path.Combine(dir.FullName, "KafkaCompatBroker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("no Dockerfile beside KafkaCompatBroker.sln above " + AppContext.BaseDirectory);
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
