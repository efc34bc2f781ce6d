using AuroraNexus.Grains.Hosting;
using Microsoft.AspNetCore.Authorization;

namespace AuroraNexus.WebFront.Api;

public static class HealthApi
{
    public static void MapHealthApi(this WebApplication app)
    {
        app.MapGet("/api/health/live", static () => TypedResults.Ok(new { status = "ok" })).AllowAnonymous();
        app.MapGet("/api/health", ReportAsync).AllowAnonymous();
        app.MapGet("/api/health/ready", ReportAsync).AllowAnonymous();
    }

    /// <summary>
    /// Anyone may ask (probes, load balancers): the statuses and the HTTP code are the same for all; what speaks of
    /// accounts and keys is detailed only for an operator's token.
    /// </summary>
    private static async Task<IResult> ReportAsync(HttpContext http, NexusHealth health, IAuthorizationService authorization, CancellationToken ct)
    {
        var report = await health.CheckAsync(ct);
        var isOperator = http.User.Identity?.IsAuthenticated == true &&
            (await authorization.AuthorizeAsync(http.User, NexusPolicies.Operator)).Succeeded;
        return TypedResults.Json(isOperator ? report : report.ForPublic(), statusCode: report.Ready ? 200 : 503);
    }
}
