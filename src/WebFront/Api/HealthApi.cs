using AuroraNexus.Grains.Hosting;

namespace AuroraNexus.WebFront.Api;

public static class HealthApi
{
    public static void MapHealthApi(this WebApplication app)
    {
        app.MapGet("/api/health/live", static () => TypedResults.Ok(new { status = "ok" })).AllowAnonymous();
        app.MapGet("/api/health", static async (NexusHealth health, CancellationToken ct) =>
        {
            var report = await health.CheckAsync(ct);
            return TypedResults.Json(report, statusCode: report.Ready ? 200 : 503);
        }).AllowAnonymous();
        app.MapGet("/api/health/ready", static async (NexusHealth health, CancellationToken ct) =>
        {
            var report = await health.CheckAsync(ct);
            return TypedResults.Json(report, statusCode: report.Ready ? 200 : 503);
        }).AllowAnonymous();
    }
}
