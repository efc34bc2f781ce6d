using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Operations;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using Orleans.Runtime;

namespace AuroraNexus.Grains.Hosting;

public sealed record ComponentHealth(string Status, string Detail, bool Required = true)
{
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsDown => Required && Status == "down";
}

/// <summary>Whether this process co-hosts the silo and may generate secrets (single node) or is a cluster member/client.</summary>
public sealed record NexusRuntimeMode(bool SingleNode);

/// <summary><see cref="Status"/>: <c>ok</c>, <c>degraded</c> (ready, but something needs an admin) or <c>down</c>.</summary>
public sealed record HealthReport(string Status, bool Ready, IReadOnlyDictionary<string, ComponentHealth> Components)
{
    /// <summary>Components whose detail speaks of accounts and keys: only operators read it.</summary>
    public static readonly IReadOnlySet<string> OperatorOnly = new HashSet<string>(StringComparer.Ordinal) { "admin_password", "credentials_key" };

    /// <summary>
    /// The report for someone who is not an operator (an anonymous probe, a load balancer): the same statuses, but the
    /// details that speak of accounts and keys point at where an operator reads them.
    /// </summary>
    public HealthReport ForPublic() => this with
    {
        Components = Components.ToDictionary(kv => kv.Key, kv => OperatorOnly.Contains(kv.Key)
            ? kv.Value with { Detail = $"{kv.Value.Status}; the detail is for operators: GET /api/health with an admin token of the default tenant, or the doctor" }
            : kv.Value),
    };
}

/// <summary>Readiness of every component a request depends on, each with a reason a person can act on.</summary>
public sealed class NexusHealth(
    IServiceProvider services, NpgsqlDataSource db, IObjectStore objects, IGrainFactory grains, NexusSettings settings)
{
    /// <param name="tenantId">
    /// Counts the admins with a default password and the stored credentials of this tenant only (a tenant admin's
    /// overview); null counts every tenant's (operators, the doctor).
    /// </param>
    public async Task<HealthReport> CheckAsync(CancellationToken ct, string? tenantId = null)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        var c = new Dictionary<string, ComponentHealth>();
        if (services.GetService<IHostApplicationLifetime>() is { ApplicationStopping.IsCancellationRequested: true })
        {
            // SIGTERM: answer 503 so that load balancers stop sending work while in-flight requests finish.
            c["lifecycle"] = new("down", "draining: the process received a stop signal and finishes its in-flight work");
        }

        if (services.GetService<IConfiguration>() is { } configuration)
        {
            c["configuration"] = ConfigurationHealth(configuration, services.GetService<NexusRuntimeMode>()?.SingleNode ?? false);
        }

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
            if (services.GetService<ILocalSiloDetails>() is { } local && services.GetService<IClusterMembershipService>() is { } membership &&
                membership.CurrentSnapshot.GetSiloStatus(local.SiloAddress) is var own && own != SiloStatus.Active)
            {
                throw new SiloNotJoinedException(own);
            }

            var hosts = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true).WaitAsync(timeout.Token);
            c["cluster"] = hosts.Count > 0
                ? new("ok", $"{hosts.Count} active silo(s)")
                : new("down", "no active silo: start at least one silo (dotnet run --project src/Silo)");
        }
        catch (SiloNotJoinedException ex)
        {
            c["cluster"] = new("down", $"this silo is {ex.Status}, not active in the cluster yet (joining, or leaving)");
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            c["cluster"] = new("down", $"cluster unreachable: {ex.GetType().Name}; start a silo with the same DATABASE_URL and ORLEANS_CLUSTER_ID");
        }

        var vectorStore = services.GetService<IVectorStore>();
        c["vector_store"] = vectorStore is null
            ? new("ok", "embedded index (vectors kept in PostgreSQL, searched in memory)")
            : (await ProbeAsync(vectorStore.ProbeAsync, timeout.Token)).ToHealth();
        c["object_store"] = (await ProbeAsync(objects.ProbeAsync, timeout.Token)).ToHealth();

        var embedder = services.GetService<MiniLmEmbedder>();
        c["embeddings"] = embedder is null
            ? new("ok", "computed on the silos", Required: false)
            : new("ok", $"{embedder.ModelName} in process");
        if (c["schema"].Status == "ok")
        {
            c["credentials_key"] = await CredentialKeyHealthAsync(tenantId, timeout.Token);
            c["admin_password"] = await AdminPasswordHealthAsync(tenantId, timeout.Token);
        }
        else
        {
            c["credentials_key"] = new("down", "unknown: the schema is not current", Required: false);
        }

        var ready = c.Values.All(v => !v.IsDown);
        var status = !ready ? "down" : c.Values.Any(v => v.Status is "degraded" or "down") ? "degraded" : "ok";
        return new HealthReport(status, ready, c);
    }

    private static async Task<ComponentProbe> ProbeAsync(Func<CancellationToken, Task<ComponentProbe>> probe, CancellationToken ct)
    {
        try
        {
            return await probe(ct);
        }
        catch (OperationCanceledException)
        {
            return ComponentProbe.Error("did not answer within the health check's 5 seconds; check that it runs and is reachable");
        }
    }

    /// <summary>The same rules start-up applies: errors (only possible if the environment changed under a running process) make it not ready, warnings degraded.</summary>
    private static ComponentHealth ConfigurationHealth(IConfiguration configuration, bool singleNode)
    {
        var findings = ConfigurationRules.Evaluate(configuration, singleNode).Where(f => f.Level != FindingLevel.Ok).ToList();
        if (findings.Count == 0)
        {
            return new("ok", "every variable the guide names is well-formed", Required: false);
        }

        var text = string.Join(" | ", findings.Select(f => $"{f.Variable}: {f.Verdict}" + (f.Fix is null ? "" : $" (fix: {f.Fix})")));
        return findings.Any(f => f.Level == FindingLevel.Error) ? new("down", text) : new("degraded", text, Required: false);
    }

    private sealed class SiloNotJoinedException(SiloStatus status) : Exception($"silo is {status}")
    {
        public SiloStatus Status { get; } = status;
    }

    /// <summary>Counts stored credentials by the key that made them; one no configured key can read makes it degraded.</summary>
    private async Task<ComponentHealth> CredentialKeyHealthAsync(string? tenantId, CancellationToken ct)
    {
        var keys = settings.CredentialKeys;
        var counts = await new LlmCatalogRepository(db).CountByFingerprintAsync(ct, tenantId);
        var total = counts.Values.Sum();
        var unreadable = counts.Where(kv => !keys.Contains(kv.Key)).ToList();
        var configured = $"LLM_CREDENTIALS_ENC_KEY holds {keys.Fingerprints.Count} key(s) ({string.Join(", ", keys.Fingerprints)}; new credentials use {keys.PrimaryFingerprint})";
        if (unreadable.Count > 0)
        {
            var missing = string.Join(", ", unreadable.Select(kv => $"{kv.Value} with {kv.Key}"));
            return new("degraded",
                $"{unreadable.Sum(kv => kv.Value)} of {total} credential(s) unreadable with the current key: {missing}. {configured}. " +
                "Fix: put the old key back in LLM_CREDENTIALS_ENC_KEY after the new one and run rotate-credentials-key, or re-enter those credentials.",
                Required: false);
        }

        var old = counts.Where(kv => kv.Key != keys.PrimaryFingerprint).Sum(kv => kv.Value);
        return old > 0
            ? new("ok", $"{total} credential(s) readable; {old} still under an older key: run rotate-credentials-key, then drop the old key. {configured}", Required: false)
            : new("ok", $"{total} credential(s) readable. {configured}", Required: false);
    }

    private async Task<ComponentHealth> AdminPasswordHealthAsync(string? tenantId, CancellationToken ct)
    {
        var seeded = await new UserRepository(db).AdminsWithSeededPasswordAsync(ct, tenantId);
        return seeded.Count == 0
            ? new("ok", "no admin uses a generated or weak seeded password", Required: false)
            : new("degraded",
                $"admin password is still the default for {seeded.Count} admin account(s): the one generated and printed at first start, " +
                "or a weak ADMIN_DEFAULT_PASSWORD (short, a placeholder such as change-me-now, or an example from the documentation). " +
                "Log in and change it in the backoffice (My account, /account) or with POST /api/auth/password; changing ADMIN_DEFAULT_PASSWORD afterwards has no effect, the database decides.",
                Required: false);
    }
}
