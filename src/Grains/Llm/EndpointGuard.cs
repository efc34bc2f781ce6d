using System.Net;
using System.Net.Sockets;

namespace AuroraNexus.Grains.Llm;

/// <summary>
/// Keeps tenant admins from turning a provider's base URL into a way to reach the platform's own network: unless ops
/// allow it (<see cref="AllowVariable"/>), a tenant provider must resolve to public addresses only.
/// </summary>
public static class EndpointGuard
{
    public const string AllowVariable = "NEXUS_ALLOW_PRIVATE_LLM_URLS";

    /// <returns>Why the URL may not be used, or null. A host that does not resolve now is left to fail at call time.</returns>
    public static async Task<string?> ProblemAsync(string baseUrl, bool allowPrivate, CancellationToken ct)
    {
        if (allowPrivate || !Uri.TryCreate(baseUrl, UriKind.Absolute, out var uri))
        {
            return null;
        }

        IPAddress[] addresses;
        if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var literal))
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                addresses = await Dns.GetHostAddressesAsync(uri.IdnHost, ct);
            }
            catch (SocketException)
            {
                return null;
            }
        }

        var blocked = addresses.FirstOrDefault(a => !IsPublic(a));
        return blocked is null
            ? null
            : $"base_url host '{uri.Host}' is {blocked}, a loopback, private, link-local or reserved address: a tenant's provider may " +
              $"only reach public endpoints. Use the provider's public URL, or ask the operators to allow internal endpoints ({AllowVariable}=true).";
    }

    public static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        else if (EmbeddedIPv4(address) is { } embedded)
        {
            // IPv4-compatible, SIIT, NAT64 and 6to4 forms route to the IPv4 address they carry where a gateway translates them.
            return IsPublic(embedded);
        }

        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] is 0 or 10 or 127 || b[0] >= 224 ||
                     (b[0] == 100 && b[1] is >= 64 and < 128) ||
                     (b[0] == 169 && b[1] == 254) ||
                     (b[0] == 172 && b[1] is >= 16 and < 32) ||
                     (b[0] == 192 && b[1] == 168) ||
                     (b[0] == 198 && b[1] == 51 && b[2] == 100) ||
                     (b[0] == 203 && b[1] == 0 && b[2] == 113) ||
                     (b[0] == 192 && b[1] == 0 && b[2] is 0 or 2) ||
                     (b[0] == 198 && b[1] is 18 or 19));
        }

        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            var b = address.GetAddressBytes();
            return !(IPAddress.IPv6Loopback.Equals(address) || IPAddress.IPv6None.Equals(address) || address.IsIPv6LinkLocal ||
                     address.IsIPv6SiteLocal || address.IsIPv6Multicast || (b[0] & 0xFE) == 0xFC || address.IsIPv6Teredo ||
                     (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8));
        }

        return false;
    }

    /// <summary>The IPv4 address an IPv6 address carries (::a.b.c.d, ::ffff:0:a.b.c.d, 64:ff9b::/96, 64:ff9b:1::/48, 2002::/16), or null.</summary>
    private static IPAddress? EmbeddedIPv4(IPAddress address)
    {
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return null;
        }

        var b = address.GetAddressBytes();
        var zeros = (int from, int to) => b[from..to].All(x => x == 0);
        if (zeros(0, 12) && !zeros(12, 16) && !(zeros(12, 15) && b[15] == 1))
        {
            return new IPAddress(b[12..16]);
        }

        if (zeros(0, 8) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
        {
            return new IPAddress(b[12..16]);
        }

        if (b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && (zeros(4, 12) || (b[4] == 0 && b[5] == 1)))
        {
            return new IPAddress(b[12..16]);
        }

        return b[0] == 0x20 && b[1] == 0x02 ? new IPAddress(b[2..6]) : null;
    }
}
