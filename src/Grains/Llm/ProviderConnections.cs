using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;

namespace AuroraNexus.Grains.Llm;

/// <summary>
/// How LLM calls reach providers. <see cref="EndpointGuard"/> judges a provider's URL when it is saved and when the tenant
/// grain loads it; this handler holds the same line when each connection is made:
/// redirects are never followed (a provider, or whoever answers for its host, could send the request with the tenant's
/// key to an internal address), and unless private endpoints are allowed, the host is resolved again at connect time and
/// a non-public address is refused, so that a name which was public when checked cannot be re-pointed (DNS rebinding).
/// </summary>
public static class ProviderConnections
{
    /// <summary>
    /// Registers <see cref="ChatCompletionsClient"/> (a typed client, transient so that the factory rotates its handler)
    /// on the guarded handler. <paramref name="trustedBaseUrls"/> are the operators' own endpoints (LLM_BASE_URL): their
    /// host and port are connected to as they resolve, even when private.
    /// </summary>
    public static IHttpClientBuilder AddProviderHttpClient(
        this IServiceCollection services, bool allowPrivateEndpoints, params string[] trustedBaseUrls)
    {
        var trusted = TrustedEndpoints(trustedBaseUrls);
        return services.AddHttpClient<ChatCompletionsClient>()
            .ConfigurePrimaryHttpMessageHandler(() => CreateHandler(allowPrivateEndpoints, trusted));
    }

    public static SocketsHttpHandler CreateHandler(bool allowPrivateEndpoints, IReadOnlySet<string> trustedEndpoints)
    {
        var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        if (!allowPrivateEndpoints)
        {
            handler.ConnectCallback = (context, ct) => ConnectAsync(context, trustedEndpoints, ct);
        }

        return handler;
    }

    /// <summary>"host:port" of each URL, as <see cref="ConnectAsync"/> compares them.</summary>
    public static IReadOnlySet<string> TrustedEndpoints(IEnumerable<string> baseUrls) =>
        baseUrls.Select(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) ? EndpointKey(uri.IdnHost, uri.Port) : null)
            .OfType<string>()
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Opens the TCP connection of a request: to a trusted endpoint or a proxy as it resolves; otherwise only when every
    /// address the host resolves to now is public, and then to those very addresses.
    /// </summary>
    /// <exception cref="ProviderAddressRefusedException">The host resolves to a loopback, private, link-local or reserved address.</exception>
    public static async ValueTask<Stream> ConnectAsync(
        SocketsHttpConnectionContext context, IReadOnlySet<string> trustedEndpoints, CancellationToken ct)
    {
        var target = context.DnsEndPoint;
        var requested = context.InitialRequestMessage.RequestUri;
        // A connection to another host than the request's is to a proxy, which the operators configured and which resolves
        // the provider's host itself.
        var viaProxy = requested is not null && !string.Equals(requested.IdnHost, target.Host, StringComparison.OrdinalIgnoreCase);
        IPAddress[] addresses;
        if (IPAddress.TryParse(target.Host.Trim('[', ']'), out var literal))
        {
            addresses = [literal];
        }
        else
        {
            addresses = await Dns.GetHostAddressesAsync(target.Host, ct);
        }

        if (!viaProxy && !trustedEndpoints.Contains(EndpointKey(target.Host, target.Port)) &&
            addresses.FirstOrDefault(a => !EndpointGuard.IsPublic(a)) is { } refused)
        {
            throw new ProviderAddressRefusedException(target.Host, refused);
        }

        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, target.Port, ct);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The error of a call whose connection was refused by <see cref="ConnectAsync"/>: not retried, names the fix.</summary>
    public static LlmException Refused(LlmEndpoint ep, ProviderAddressRefusedException refused) =>
        new(LlmErrorCode.ProviderBadRequest,
            $"No call was sent: the provider host '{refused.Host}' now resolves to {refused.Address}, a loopback, private, " +
            $"link-local or reserved address, and a tenant's provider may only reach public endpoints. Fix: use the provider's " +
            $"public URL in Admin → Providers, or ask the operators to allow internal endpoints ({EndpointGuard.AllowVariable}=true).",
            null, null, refused)
        { Warnings = ep.Warnings };

    private static string EndpointKey(string host, int port) => $"{host.Trim('[', ']')}:{port}";
}

/// <summary>A connection to a provider host that resolved to a non-public address while those are not allowed.</summary>
public sealed class ProviderAddressRefusedException(string host, IPAddress address)
    : IOException($"'{host}' resolves to {address}, which is not a public address")
{
    public string Host { get; } = host;

    public IPAddress Address { get; } = address;
}
