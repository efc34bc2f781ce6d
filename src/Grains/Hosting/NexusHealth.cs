using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AuroraNexus.Grains.Hosting;

public sealed record ComponentHealth(string Status, string Detail, bool Required = true)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsDown => Required && Status == "down";
}

public sealed record HealthReport(string Status, bool Ready, IReadOnlyDictionary<string, ComponentHealth> Components);

/// <summary>Readiness of every component a request depends on, each with a reason a person can act on.</summary>
public sealed class NexusHealth(IServiceProvider services, NpgsqlDataSource db, IObjectStore objects, IGrainFactory grains)
{
    public async Task<HealthReport> CheckAsync(CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var c = new Dictionary<string, ComponentHealth>();
        var postgresUp = false;
        try
        {
            await using var cmd = db.CreateCommand("SELECT 1");
            await cmd.ExecuteScalarAsync(timeout.Token);
            postgresUp = true;
            c["postgres"] = new("ok", "reachable");
        }
        catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or InvalidOperationException)
        {
            c["postgres"] = new("down", $"unreachable: {ex.Message}; check DATABASE_URL and that the server runs");
        }

        if (postgresUp)
        {
            var schema = await MigrationRunner.CheckAsync(db, timeout.Token);
            c["schema"] = schema.IsUpToDate
                ? new("ok", $"version {schema.CurrentVersion}")
                : new("down", schema.Message);
        }
        else
        {
            c["schema"] = new("down", "unknown: PostgreSQL is unreachable");
        }

        try
        {
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(timeout.Token);
            c["cluster"] = hosts.Count > 0
                ? new("ok", $"{hosts.Count} active silo(s)")
                : new("down", "no active silo: start at least one silo (dotnet run --project src/Silo)");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            c["cluster"] = new("down", $"cluster unreachable: {ex.GetType().Name}; start a silo with the same DATABASE_URL and ORLEANS_CLUSTER_ID");
        }

        c["vector_store"] = new("ok", "embedded index (vectors kept in PostgreSQL, searched in memory)");
        c["object_store"] = await objects.IsHealthyAsync(timeout.Token)
            ? new("ok", objects.Describe)
            : new("down", $"{objects.Describe} is not writable; check NEXUS_DATA_DIR permissions");

        var embedder = services.GetService<MiniLmEmbedder>();
        c["embeddings"] = embedder is null
            ? new("ok", "computed on the silos", Required: false)
            : new("ok", $"{embedder.ModelName} in process");
        c["credentials_key"] = new("ok", "no tenant credentials stored yet; LLM answers use OPENROUTER_API_KEY when set, else extractive mode", Required: false);

        var ready = c.Values.All(v => !v.IsDown);
        return new HealthReport(ready ? "ok" : "down", ready, c);
    }
}
