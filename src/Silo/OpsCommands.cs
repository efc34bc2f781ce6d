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
    /// Re-encrypts every credential with the first key of LLM_CREDENTIALS_ENC_KEY. With the variable set (cluster): put
    /// the new key first and keep the old one after it on every process, restart them, run this, then drop the old key.
    /// Single node with the key kept in the data directory: this generates the new key itself and replaces the file, the
    /// old key staying in it until every credential has moved.
    /// </summary>
    private static async Task<int> RotateAsync(NexusSettings settings, NexusDatabase db, CancellationToken ct)
    {
        var catalog = new LlmCatalogRepository(db.DataSource);
        var keys = settings.CredentialKeys;
        FernetKey? fresh = null;
        if (settings.CredentialKeyFile is { } file)
        {
            // Crash-safe order: the file holds new and old keys while tokens move, so every token stays readable.
            fresh = FernetKey.Generate();
            var old = File.ReadAllText(file).Trim();
            NexusSettings.WriteSecretFile(file, fresh.Encode() + "," + old);
            keys = FernetKeyRing.Parse(File.ReadAllText(file));
            Console.WriteLine($"new key {fresh.Fingerprint} generated in {file} (the previous keys stay there until every credential has moved)");
        }

        var report = await new CredentialVault(keys, catalog).RotateAsync(null, ct);
        Console.WriteLine(
            $"credentials: {report.Total} total, {report.Rotated} re-encrypted with {report.PrimaryFingerprint}, " +
            $"{report.AlreadyCurrent} already current, {report.Unreadable} unreadable" +
            (report.Changed > 0 ? $", {report.Changed} changed by an admin meanwhile (run the command again)" : ""));
        if (report.Unreadable > 0)
        {
            Console.Error.WriteLine(
                $"{report.Unreadable} credential(s) were encrypted with key(s) {string.Join(", ", report.UnreadableFingerprints)}, which " +
                $"LLM_CREDENTIALS_ENC_KEY does not hold (it holds {string.Join(", ", keys.Fingerprints)}): add that key after the new one and " +
                "run again, or re-enter those credentials in Admin → Providers → Credentials (PUT /api/admin/providers/credentials/{id}).");
            return 1;
        }

        if (report.Changed > 0)
        {
            return 1;
        }

        if (settings.CredentialKeyFile is { } done && fresh is not null)
        {
            NexusSettings.WriteSecretFile(done, fresh.Encode());
            Console.WriteLine($"every credential uses {keys.PrimaryFingerprint}; the old keys were removed from {done}. Start the app as usual.");
        }
        else if (keys.Fingerprints.Count > 1)
        {
            Console.WriteLine("every credential uses the first key: the other keys can now be removed from LLM_CREDENTIALS_ENC_KEY.");
        }

        return 0;
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
