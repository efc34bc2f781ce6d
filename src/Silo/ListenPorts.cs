using System.Net;
using System.Net.Sockets;
using AuroraNexus.Grains.Hosting;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace AuroraNexus.Silo;

/// <summary>A TCP port this process listens on, with the variable that sets it.</summary>
public sealed record ListenPort(string Variable, string Address, int Port);

/// <summary>
/// The ports a process is about to listen on, checked before anything starts. Kestrel and Orleans report a taken port
/// only once the host is half started, as an unhandled exception followed by pages of shutdown errors, and without the
/// variable's name; a bind probe made first turns it into one configuration error, before a private PostgreSQL is even
/// started.
/// </summary>
public static class ListenPorts
{
    /// <summary>What the single-node app (co-hosted silo on loopback) or a client WebFront listens on.</summary>
    public static IReadOnlyList<ListenPort> OfWebFront(NexusSettings settings, IConfiguration config, bool singleNode)
    {
        var ports = new List<ListenPort>();
        if (UrlsConfigured(config))
        {
            // Kestrel reads the urls key, which ASPNETCORE_URLS sets unless the command line (--urls) does.
            var urls = string.IsNullOrEmpty(config["urls"]) ? config["ASPNETCORE_URLS"]! : config["urls"]!;
            var variable = urls == config["ASPNETCORE_URLS"] ? "ASPNETCORE_URLS" : "urls";
            foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (TryParseUrl(url) is { } address)
                {
                    ports.Add(new(variable, address.Host, address.Port));
                }
            }
        }
        else
        {
            ports.Add(new("HOST_API_PORT", OpsCommands.BindAddress(), settings.ApiPort));
            ports.Add(new("HOST_GATEWAY_PORT", OpsCommands.BindAddress(), settings.GatewayPort));
        }

        if (singleNode)
        {
            ports.Add(new("ORLEANS_SILO_PORT", IPAddress.Loopback.ToString(), settings.SiloPort));
            ports.Add(new("ORLEANS_GATEWAY_PORT", IPAddress.Loopback.ToString(), settings.OrleansGatewayPort));
        }

        return ports;
    }

    /// <summary>What a cluster silo listens on: its gateway HTTP port, and the Orleans ports on every address.</summary>
    public static IReadOnlyList<ListenPort> OfSilo(NexusSettings settings) =>
    [
        new("HOST_GATEWAY_PORT", OpsCommands.BindAddress(), settings.GatewayPort),
        new("ORLEANS_SILO_PORT", IPAddress.Any.ToString(), settings.SiloPort),
        new("ORLEANS_GATEWAY_PORT", IPAddress.Any.ToString(), settings.OrleansGatewayPort),
    ];

    /// <summary>ASPNETCORE_URLS (or <c>urls</c>) replaces HOST_API_PORT and HOST_GATEWAY_PORT for Kestrel.</summary>
    public static bool UrlsConfigured(IConfiguration config) =>
        !string.IsNullOrEmpty(config["ASPNETCORE_URLS"]) || !string.IsNullOrEmpty(config["urls"]);

    /// <summary>
    /// Binds each port on its address and releases it at once; throws the first problem as a configuration error naming
    /// the variable: the same port given twice, a port in use, a privileged port, an address not on this host.
    /// </summary>
    public static void EnsureFree(IReadOnlyList<ListenPort> ports)
    {
        for (var i = 0; i < ports.Count; i++)
        {
            if (ports.Take(i).FirstOrDefault(p => p.Port == ports[i].Port) is { } earlier)
            {
                throw new NexusConfigurationException(ports[i].Variable,
                    $"{ports[i].Port} is also {earlier.Variable}: each port needs its own value; set {ports[i].Variable} to another free port");
            }
        }

        foreach (var port in ports)
        {
            if (ProbeAddress(port.Address) is not { } address)
            {
                continue; // a host name: Kestrel resolves it and reports what it cannot bind
            }

            try
            {
                using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(address, port.Port));
                socket.Listen();
            }
            catch (SocketException ex)
            {
                throw Problem(port, ex.SocketErrorCode) ?? new NexusConfigurationException(port.Variable,
                    $"port {port.Port} on {port.Address} cannot be listened on ({ex.SocketErrorCode}): set {port.Variable} to another port");
            }
        }
    }

    /// <summary>
    /// A bind failure that still happens once the host starts (a port taken between the check and the start), as the
    /// configuration error <see cref="EnsureFree"/> would have given; null for any other failure.
    /// </summary>
    public static NexusConfigurationException? FromStartFailure(Exception failure, IReadOnlyList<ListenPort> ports)
    {
        var inUse = false;
        for (var e = failure; e is not null; e = e.InnerException)
        {
            inUse |= e is AddressInUseException || e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse };
        }

        if (!inUse)
        {
            return null;
        }

        // Kestrel names the address it failed on (http://127.0.0.1:28800); Orleans names none.
        var named = ports.FirstOrDefault(p => failure.Message.Contains($":{p.Port}", StringComparison.Ordinal));
        return named is not null
            ? Problem(named, SocketError.AddressAlreadyInUse)
            : new NexusConfigurationException(string.Join(", ", ports.Select(p => p.Variable)),
                $"a port was taken while the app started ({failure.Message.TrimEnd('.')}; these variables give {string.Join(", ", ports.Select(p => p.Port))}): " +
                "stop the other instance or program, or set the variable of that port to a free one");
    }

    private static NexusConfigurationException? Problem(ListenPort port, SocketError error) => error switch
    {
        SocketError.AddressAlreadyInUse => new(port.Variable,
            $"{port.Port} is already in use on {port.Address} (another instance, or another program): stop it or set {port.Variable} to a free port"),
        SocketError.AccessDenied => new(port.Variable,
            $"{port.Port} is a privileged port this process may not listen on: set {port.Variable} to a port above 1023"),
        SocketError.AddressNotAvailable => new("NEXUS_BIND_ADDRESS",
            $"{port.Address} is not an address of this host ({port.Variable} {port.Port} cannot listen there): use 127.0.0.1, 0.0.0.0 or one of the host's addresses"),
        _ => null,
    };

    private static BindingAddress? TryParseUrl(string url)
    {
        try
        {
            var address = BindingAddress.Parse(url);
            return address.IsUnixPipe || address.Port == 0 ? null : address;
        }
        catch (FormatException)
        {
            return null; // Kestrel refuses it with its own message
        }
    }

    private static IPAddress? ProbeAddress(string address) => address.Trim() switch
    {
        "localhost" => IPAddress.Loopback,
        "*" or "+" => IPAddress.Any,
        var a when IPAddress.TryParse(a.Trim('[', ']'), out var ip) => ip,
        _ => null,
    };
}
