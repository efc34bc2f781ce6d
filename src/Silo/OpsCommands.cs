using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;

namespace AuroraNexus.Silo;

/// <summary>Operations run from the silo binary: <c>migrate</c> (what older releases called ops/init_db.sh).</summary>
public static class OpsCommands
{
    public static async Task<int> RunAsync(string command, NexusSettings settings, ILogger logger)
    {
        switch (command)
        {
            case "migrate":
                try
                {
                    await using var db = await NexusDatabase.OpenAsync(settings, allowEmbedded: false, migrate: true, logger, CancellationToken.None);
                    var status = await MigrationRunner.CheckAsync(db.DataSource, CancellationToken.None);
                    Console.WriteLine($"schema is current: version {status.CurrentVersion}");
                    return 0;
                }
                catch (NexusConfigurationException ex)
                {
                    Console.Error.WriteLine($"configuration error: {ex.Message}");
                    return 2;
                }

            default:
                Console.Error.WriteLine($"unknown command '{command}'. Commands: run (default), migrate");
                return 64;
        }
    }

    /// <summary>NEXUS_BIND_ADDRESS (0.0.0.0 in containers); loopback by default so that nothing is exposed by accident.</summary>
    public static string BindAddress() =>
        Environment.GetEnvironmentVariable("NEXUS_BIND_ADDRESS") is { Length: > 0 } a ? a.Trim() : "127.0.0.1";

    public static void MapNexusSiloHealth(this WebApplication app)
    {
        app.MapGet("/health/live", () => Results.Ok(new { status = "ok" }));
        app.MapGet("/health", async (NexusHealth health, CancellationToken ct) =>
        {
            var report = await health.CheckAsync(ct);
            return Results.Json(report, statusCode: report.Ready ? 200 : 503);
        });
    }
}
