using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Silo;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Configuration;

namespace AuroraNexus.Tests.Operations;

/// <summary>A port another program holds: start-up stops with one line naming the variable, not a crash.</summary>
public sealed class PortInUseTests
{
    private static readonly string[] PortVariables = ["HOST_API_PORT", "HOST_GATEWAY_PORT", "ORLEANS_SILO_PORT", "ORLEANS_GATEWAY_PORT"];

    private static Dictionary<string, string> FreePorts() =>
        PortVariables.ToDictionary(v => v, _ => TestApp.FreePort().ToString(CultureInfo.InvariantCulture));

    private static void AssertOneClearLine(string output, string variable, int port, string address, int exit, TimeSpan elapsed)
    {
        Assert.True(exit == 2, $"exit code {exit}, output:\n{output}");
        Assert.Contains(
            $"configuration error: {variable}: {port} is already in use on {address} (another instance, or another program): stop it or set {variable} to a free port",
            output);
        Assert.DoesNotContain("Unhandled exception", output);
        Assert.DoesNotContain("Exception", output);
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"took {elapsed}");
    }

    [Theory]
    [InlineData("HOST_API_PORT")]
    [InlineData("HOST_GATEWAY_PORT")]
    [InlineData("ORLEANS_SILO_PORT")]
    [InlineData("ORLEANS_GATEWAY_PORT")]
    public async Task The_single_node_app_names_the_variable_of_a_port_in_use_and_exits_2_before_starting_postgres(string variable)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-port-" + Guid.NewGuid().ToString("N"));
        using var holder = new TcpListener(IPAddress.Loopback, TestApp.FreePort());
        holder.Start();
        var held = ((IPEndPoint)holder.LocalEndpoint).Port;
        try
        {
            var env = FreePorts();
            env[variable] = held.ToString(CultureInfo.InvariantCulture);
            env["NEXUS_DATA_DIR"] = dataDir;

            var clock = Stopwatch.StartNew();
            var (exit, output) = await ProductCommand.RunAsync(SiloProcess.WebFrontAssembly(), env, []);

            AssertOneClearLine(output, variable, held, "127.0.0.1", exit, clock.Elapsed);
            Assert.False(Directory.Exists(Path.Combine(dataDir, "pg")), "the private PostgreSQL is not started when a port is taken");
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Theory]
    [InlineData("HOST_GATEWAY_PORT", "127.0.0.1")]
    [InlineData("ORLEANS_SILO_PORT", "0.0.0.0")]
    [InlineData("ORLEANS_GATEWAY_PORT", "0.0.0.0")]
    public async Task A_silo_names_the_variable_of_a_port_in_use_and_exits_2(string variable, string address)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-port-" + Guid.NewGuid().ToString("N"));
        using var holder = new TcpListener(IPAddress.Loopback, TestApp.FreePort());
        holder.Start();
        var held = ((IPEndPoint)holder.LocalEndpoint).Port;
        try
        {
            var env = OpsCommandProcessTests.ClusterSecrets(dataDir);
            foreach (var (k, v) in FreePorts())
            {
                env[k] = v;
            }

            env[variable] = held.ToString(CultureInfo.InvariantCulture);

            var clock = Stopwatch.StartNew();
            var (exit, output) = await ProductCommand.RunAsync(SiloProcess.SiloAssembly(), env, []);

            // The Orleans ports listen on every address: one held on loopback only is taken for them too.
            AssertOneClearLine(output, variable, held, address, exit, clock.Elapsed);
        }
        finally
        {
            if (Directory.Exists(dataDir))
            {
                Directory.Delete(dataDir, recursive: true);
            }
        }
    }

    [Fact]
    public void The_same_port_given_to_two_variables_is_refused_naming_both()
    {
        var port = TestApp.FreePort();
        ListenPort[] ports = [new("HOST_API_PORT", "127.0.0.1", port), new("ORLEANS_SILO_PORT", "127.0.0.1", port)];

        var error = Assert.Throws<NexusConfigurationException>(() => ListenPorts.EnsureFree(ports));

        Assert.Equal("ORLEANS_SILO_PORT", error.Variable);
        Assert.Contains($"{port} is also HOST_API_PORT", error.Message);
    }

    [Fact]
    public void Ports_given_by_ASPNETCORE_URLS_are_checked_under_that_name()
    {
        using var holder = new TcpListener(IPAddress.Loopback, TestApp.FreePort());
        holder.Start();
        var held = ((IPEndPoint)holder.LocalEndpoint).Port;
        var dataDir = Path.Combine(Path.GetTempPath(), "nexus-port-" + Guid.NewGuid().ToString("N"));
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{held}",
            ["NEXUS_DATA_DIR"] = dataDir,
            ["ORLEANS_SILO_PORT"] = TestApp.FreePort().ToString(CultureInfo.InvariantCulture),
            ["ORLEANS_GATEWAY_PORT"] = TestApp.FreePort().ToString(CultureInfo.InvariantCulture),
        }).Build();
        IReadOnlyList<ListenPort> ports;
        try
        {
            ports = ListenPorts.OfWebFront(NexusSettings.Load(config, singleNode: true), config, singleNode: true);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }

        var error = Assert.Throws<NexusConfigurationException>(() => ListenPorts.EnsureFree(ports));

        Assert.DoesNotContain(ports, p => p.Variable is "HOST_API_PORT" or "HOST_GATEWAY_PORT");
        Assert.Equal("ASPNETCORE_URLS", error.Variable);
        Assert.Contains($"{held} is already in use on 127.0.0.1", error.Message);
    }

    [Fact]
    public void A_port_taken_after_the_check_is_named_from_the_failed_start()
    {
        ListenPort[] ports = [new("HOST_API_PORT", "127.0.0.1", 28800), new("HOST_GATEWAY_PORT", "127.0.0.1", 27500)];
        var kestrel = new IOException("Failed to bind to address http://127.0.0.1:28800: address already in use.",
            new AddressInUseException("Address already in use"));

        var named = ListenPorts.FromStartFailure(kestrel, ports);
        var orleans = ListenPorts.FromStartFailure(new AddressInUseException("Address already in use",
            new SocketException((int)SocketError.AddressAlreadyInUse)), ports);

        Assert.Equal("HOST_API_PORT", named!.Variable);
        Assert.Contains("28800 is already in use on 127.0.0.1", named.Message);
        Assert.Contains("HOST_API_PORT, HOST_GATEWAY_PORT", orleans!.Message);
        Assert.Null(ListenPorts.FromStartFailure(new InvalidOperationException("something else"), ports));
    }
}
