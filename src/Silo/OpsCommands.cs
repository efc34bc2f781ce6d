using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Silo;

/// <summary>
/// Operations run from the silo or WebFront binary: <c>migrate</c> (what older releases called ops/init_db.sh) and
/// <c>rotate-credentials-key</c>. Without DATABASE_URL they work on the single-node data directory (stop the app first).
/// </summary>
public static class OpsCommands
{
    public const string Usage = "Commands: run (default), migrate, rotate-credentials-key";

    public static bool IsCommand(string? arg) => arg is "migrate" or "rotate-credentials-key";

    /// <summary>Ops commands on the single-node data directory generate missing secrets like the app; on a cluster database they must be set.</summary>
    public static bool OnSingleNodeData(Microsoft.Extensions.Configuration.IConfiguration config) =>
        string.IsNullOrWhiteSpace(config["DATABASE_URL"]);

    public static async Task<int> RunAsync(string command, NexusSettings settings, ILogger logger)
    {
        if (!IsCommand(command))
        {
            Console.Error.WriteLine($"unknown command '{command}'. {Usage}");
            return 64;
        }

        try
        {
            var embedded = settings.DatabaseUrl is null;
            await using var db = await NexusDatabase.OpenAsync(settings, allowEmbedded: embedded, migrate: true, logger, CancellationToken.None);
            switch (command)
            {
                case "migrate":
                    var status = await MigrationRunner.CheckAsync(db.DataSource, CancellationToken.None);
                    Console.WriteLine($"schema is current: version {status.CurrentVersion}");
                    return 0;

                default:
                    return await RotateAsync(settings, db, CancellationToken.None);
            }
        }
        catch (NexusConfigurationException ex)
        {
            Console.Error.WriteLine($"configuration error: {ex.Message}");
            return 2;
        }
    }

    /// <summary>
    /// Re-encrypts every credential with the first key of LLM_CREDENTIALS_ENC_KEY. The flow: put the new key first and
    /// keep the old one after it, restart, run this, then drop the old key. Running silos pick the change up on their
    /// next cache load; nothing they hold in memory changes, since the plaintext keys are the same.
    /// </summary>
    private static async Task<int> RotateAsync(NexusSettings settings, NexusDatabase db, CancellationToken ct)
    {
        var vault = new CredentialVault(settings, new LlmCatalogRepository(db.DataSource));
        var report = await vault.RotateAsync(null, ct);
        Console.WriteLine(
            $"credentials: {report.Total} total, {report.Rotated} re-encrypted with {report.PrimaryFingerprint}, " +
            $"{report.AlreadyCurrent} already current, {report.Unreadable} unreadable, {report.Changed} changed meanwhile (run again)");
        if (report.Unreadable > 0)
        {
            Console.Error.WriteLine(
                $"{report.Unreadable} credential(s) could not be decrypted by any configured key ({string.Join(", ", settings.CredentialKeys.Fingerprints)}): " +
                "add the key that made them to LLM_CREDENTIALS_ENC_KEY (after the new one) and run again, or re-enter them in Admin → Providers → Credentials.");
            return 1;
        }

        if (report.Rotated + report.AlreadyCurrent == report.Total && settings.CredentialKeys.Fingerprints.Count > 1)
        {
            Console.WriteLine("every credential uses the first key: the other keys can now be removed from LLM_CREDENTIALS_ENC_KEY.");
        }

        return report.Changed > 0 ? 1 : 0;
    }

    /// <summary>NEXUS_BIND_ADDRESS (0.0.0.0 in containers); loopback by default so that nothing is exposed by accident.</summary>
    public static string BindAddress() =>
        Environment.GetEnvironmentVariable("NEXUS_BIND_ADDRESS") is { Length: > 0 } a ? a.Trim() : "127.0.0.1";

    /// <summary>
    /// What a silo serves on HOST_GATEWAY_PORT: <c>/health</c>, <c>/health/live</c> and the internal chat endpoint.
    /// <paramref name="port"/> restricts them to that port when the process also serves the public API.
    /// </summary>
    public static void MapNexusGatewaySurface(this WebApplication app, int? port = null)
    {
        var group = app.MapGroup("");
        if (port is { } p)
        {
            group.RequireHost($"*:{p}");
        }

        group.MapGet("/health/live", () => Results.Ok(new { status = "ok" })).AllowAnonymous();
        group.MapGet("/health", async (NexusHealth health, CancellationToken ct) =>
        {
            var report = await health.CheckAsync(ct);
            return Results.Json(report, statusCode: report.Ready ? 200 : 503);
        }).AllowAnonymous();
        group.MapInternalGateway();
    }
}
