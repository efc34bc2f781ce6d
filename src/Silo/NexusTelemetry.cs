using AuroraNexus.Grains.Operations;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace AuroraNexus.Silo;

/// <summary>
/// OpenTelemetry traces and metrics for Orleans, ASP.NET Core, HttpClient, Npgsql and the product's own counters.
/// Metrics are always served on <c>/metrics</c> (Prometheus text; NEXUS_METRICS=false turns it off); both are exported
/// by OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the standard OTEL_* variables itself).
/// </summary>
public static class NexusTelemetry
{
    public const string OrleansMeter = "Microsoft.Orleans";

    public static IServiceCollection AddNexusTelemetry(this IServiceCollection services, IConfiguration config, string serviceName)
    {
        var otlp = !string.IsNullOrWhiteSpace(config["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        var prometheus = MetricsEnabled(config);
        if (!otlp && !prometheus)
        {
            return services;
        }

        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(config["OTEL_SERVICE_NAME"] is { Length: > 0 } name ? name : serviceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(NexusMetrics.MeterName, OrleansMeter, "Npgsql")
                    .AddAspNetCoreInstrumentation()
                    .AddHttpClientInstrumentation();
                if (prometheus)
                {
                    metrics.AddPrometheusExporter();
                }
            });
        if (otlp)
        {
            // Traces only go somewhere with OTLP; without it, recording spans would be wasted work.
            telemetry.WithTracing(tracing => tracing
                .AddSource(NexusMetrics.ActivitySourceName, Orleans.Diagnostics.ActivitySources.RuntimeActivitySourceName,
                    Orleans.Diagnostics.ActivitySources.ApplicationGrainActivitySourceName)
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/metrics"))
                .AddHttpClientInstrumentation()
                .AddNpgsql());
            telemetry.UseOtlpExporter();
        }

        return services;
    }

    /// <summary>Serves the Prometheus scrape endpoint when metrics are on (restricted to <paramref name="port"/> when given).</summary>
    public static void MapNexusMetrics(this WebApplication app, int? port = null)
    {
        if (!MetricsEnabled(app.Configuration))
        {
            return;
        }

        var endpoint = app.MapPrometheusScrapingEndpoint("/metrics");
        if (port is { } p)
        {
            endpoint.RequireHost($"*:{p}");
        }
    }

    private static bool MetricsEnabled(IConfiguration config) =>
        config["NEXUS_METRICS"]?.Trim().ToLowerInvariant() is not ("false" or "0" or "no");
}
