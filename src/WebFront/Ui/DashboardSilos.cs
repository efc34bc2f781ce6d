using AuroraNexus.WebFront.Api;
using Microsoft.AspNetCore.Routing.Patterns;

namespace AuroraNexus.WebFront.Ui;

/// <summary>
/// The Orleans dashboard's per-silo routes take the silo address from the path and throw on one that does not parse
/// (a 500), or call a silo that is not there. Checked before the dashboard's handler runs: an address that is not one is
/// a 400, one that is not a silo of this cluster a 404.
/// </summary>
public static class DashboardSilos
{
    private static readonly string[] SiloRoutes = ["/SiloProperties/", "/SiloMetadata/", "/SiloStats/", "/SiloCounters/", "/HistoricalStats/"];

    public static async ValueTask<object?> CheckAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (SiloParameter(http) is not { } parameter)
        {
            return await next(context);
        }

        var text = http.GetRouteValue(parameter) as string ?? "";
        if (Parse(text) is not { } address)
        {
            return Problems.Create(400, "silo_address_invalid",
                $"'{Printable(text)}' is not a silo address: the dashboard's silo routes take one as its silo list shows it (ip:port@generation).");
        }

        var hosts = await http.RequestServices.GetRequiredService<IGrainFactory>()
            .GetGrain<IManagementGrain>(0).GetHosts(onlyActive: false);
        return hosts.ContainsKey(address)
            ? await next(context)
            : Problems.Create(404, "silo_not_found",
                $"No silo {address.ToParsableString()} in this cluster (a silo's generation changes at each start): pick one from the dashboard's silo list.");
    }

    /// <summary>The silo address in ip:port@generation form, or null when the text is not one.</summary>
    public static SiloAddress? Parse(string text)
    {
        if (text.Length is 0 or > 100 || !text.Contains('@', StringComparison.Ordinal))
        {
            return null;
        }

        try
        {
            return SiloAddress.FromParsableString(text);
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    private static string? SiloParameter(HttpContext http) =>
        http.GetEndpoint() is RouteEndpoint { RoutePattern: { RawText: { } raw } pattern } &&
        SiloRoutes.Any(r => raw.Contains(r, StringComparison.Ordinal)) &&
        pattern.Parameters.FirstOrDefault(p => p.IsCatchAll) is RoutePatternParameterPart catchAll
            ? catchAll.Name
            : null;

    private static string Printable(string value) => new([.. value.Take(80).Select(c => char.IsControl(c) ? '?' : c)]);
}
