using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Storage;
using AuroraNexus.Grains.Tenancy;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AuroraNexus.Grains.Operations;

public static class DoctorServices
{
    /// <summary>
    /// The checks, in the order the report prints them. Store adapters add their <see cref="IComponentProbe"/> with
    /// <c>services.AddSingleton&lt;IComponentProbe, TheirProbe&gt;()</c>; nothing else is needed for the doctor to use it.
    /// </summary>
    public static IServiceCollection AddNexusDoctor(this IServiceCollection services)
    {
        services.TryAddEnumerable(
        [
            ServiceDescriptor.Singleton<IDoctorCheck, SecretsCheck>(),
            ServiceDescriptor.Singleton<IDoctorCheck, EnvironmentCheck>(),
            ServiceDescriptor.Singleton<IDoctorCheck, PostgresCheck>(),
            ServiceDescriptor.Singleton<IDoctorCheck, SchemaCheck>(),
            ServiceDescriptor.Singleton<IDoctorCheck, CredentialsKeyCheck>(),
            ServiceDescriptor.Singleton<IDoctorCheck, RejectedCredentialsCheck>(),
            ServiceDescriptor.Singleton<IDoctorCheck, AdminPasswordCheck>(),
            ServiceDescriptor.Singleton<IDoctorCheck, QdrantCheck>(),
            ServiceDescriptor.Singleton<IDoctorCheck, BucketsCheck>(),
        ]);
        services.TryAddSingleton<NexusDoctor>();
        return services;
    }
}

/// <summary>Guide 1.A, 3.1, 3.2: LLM_CREDENTIALS_ENC_KEY format, GATEWAY_INTERNAL_SECRET and JWT_SECRET set and not placeholders.</summary>
public sealed class SecretsCheck : IDoctorCheck
{
    public Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct)
    {
        var results = new List<DoctorResult>
        {
            Secret(context, "credentials_key_format", "LLM_CREDENTIALS_ENC_KEY"),
            Secret(context, "gateway_secret", "GATEWAY_INTERNAL_SECRET"),
            Secret(context, "jwt_secret", "JWT_SECRET"),
        };
        if (ConfigurationRules.Value(context.Configuration, "OPENROUTER_API_KEY") is { } key && NexusSettings.IsPlaceholder(key))
        {
            results.Add(new("openrouter_api_key", FindingLevel.Warning, $"OPENROUTER_API_KEY holds the placeholder '{key}'",
                "put a real key (sk-or-v1-...) or unset it; tenants' own credentials (Admin -> Providers -> Credentials) win anyway"));
        }

        return Task.FromResult<IReadOnlyList<DoctorResult>>(results);
    }

    private static DoctorResult Secret(DoctorContext context, string check, string variable)
    {
        var raw = context.Configuration[variable];
        var problem = NexusSettings.SecretProblem(variable, raw, context.SingleNode);
        if (problem is not null)
        {
            return new(check, FindingLevel.Error, $"{variable} {problem.Split("; ")[0]}", problem.Contains("; ", StringComparison.Ordinal)
                ? problem[(problem.IndexOf("; ", StringComparison.Ordinal) + 2)..]
                : null);
        }

        return raw is null
            ? new(check, FindingLevel.Ok, $"{variable} unset: single node keeps a generated one in NEXUS_DATA_DIR/secrets (back it up)")
            : new(check, FindingLevel.Ok, variable == "LLM_CREDENTIALS_ENC_KEY" && context.Settings is { } s
                ? $"{variable} holds {s.CredentialKeys.Fingerprints.Count} valid Fernet key(s): {string.Join(", ", s.CredentialKeys.Fingerprints)}"
                : $"{variable} is set and well-formed");
    }
}

/// <summary>Guide 1, 2.1, 3.3: MinIO lengths, store URLs, bucket names, MinIO public URLs, PUBLIC_DOMAIN.</summary>
public sealed class EnvironmentCheck : IDoctorCheck
{
    public Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct) =>
        Task.FromResult<IReadOnlyList<DoctorResult>>(
            [.. ConfigurationRules.Evaluate(context.Configuration, context.SingleNode).Select(f => new DoctorResult(f.Check, f.Level, f.Verdict, f.Fix))]);
}

/// <summary>Guide 3.4: PostgreSQL reachable and authenticating; a password mismatch is named as such.</summary>
public sealed class PostgresCheck : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct) =>
        [(await context.DatabaseAsync(ct)).Verdict];
}

/// <summary>Guide 3.6 and 3.7 step 4: the schema is current, else the command to run.</summary>
public sealed class SchemaCheck : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct)
    {
        var state = await context.DatabaseAsync(ct);
        return state.Schema switch
        {
            null => [new("schema", FindingLevel.Error, "unknown: PostgreSQL cannot be used (see postgres)")],
            { IsUpToDate: true } s => [new("schema", FindingLevel.Ok, s.Message)],
            var s => [new("schema", FindingLevel.Error, $"database schema is behind: missing {string.Join(", ", s.Missing)}",
                $"run `{SchemaStatus.MigrateCommand}` (in compose: docker compose run --rm migrate); it is idempotent")],
        };
    }
}

/// <summary>Guide 3.1 and 3.2: does LLM_CREDENTIALS_ENC_KEY decrypt every stored credential? Each token is tried, counted by fingerprint.</summary>
public sealed class CredentialsKeyCheck : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct)
    {
        var state = await context.DatabaseAsync(ct);
        if (!state.Usable || context.Settings is not { } settings)
        {
            return [new("credentials_key_decrypts", FindingLevel.Error,
                "unknown: needs a usable database and a well-formed LLM_CREDENTIALS_ENC_KEY (see above)")];
        }

        var keys = settings.CredentialKeys;
        var tokens = await new LlmCatalogRepository(state.Database!).ListAllTokensAsync(ct);
        var unreadable = new Dictionary<string, int>(StringComparer.Ordinal);
        var older = 0;
        foreach (var (_, _, token, fingerprint) in tokens)
        {
            if (!keys.TryDecrypt(token, fingerprint, out _, out var used))
            {
                unreadable[fingerprint] = unreadable.GetValueOrDefault(fingerprint) + 1;
            }
            else if (used != keys.PrimaryFingerprint)
            {
                older++;
            }
        }

        var configured = $"configured key(s): {string.Join(", ", keys.Fingerprints)}";
        if (unreadable.Count > 0)
        {
            return [new("credentials_key_decrypts", FindingLevel.Error,
                $"{unreadable.Values.Sum()} of {tokens.Count} stored credential(s) do not decrypt with LLM_CREDENTIALS_ENC_KEY: " +
                $"{string.Join(", ", unreadable.Select(kv => $"{kv.Value} made with key {kv.Key}"))}; {configured}",
                "put the key those were encrypted with back in LLM_CREDENTIALS_ENC_KEY (after the current one), restart, run " +
                "rotate-credentials-key; or re-enter those credentials in Admin -> Providers -> Credentials")];
        }

        if (tokens.Count == 0)
        {
            return [new("credentials_key_decrypts", FindingLevel.Ok, $"no credential stored yet, nothing to decrypt; {configured}")];
        }

        return older > 0
            ? [new("credentials_key_decrypts", FindingLevel.Warning,
                $"all {tokens.Count} credential(s) decrypt, {older} with an older key than {keys.PrimaryFingerprint}; {configured}",
                "run rotate-credentials-key, then drop the old key from LLM_CREDENTIALS_ENC_KEY")]
            : [new("credentials_key_decrypts", FindingLevel.Ok, $"all {tokens.Count} stored credential(s) decrypt; {configured}")];
    }
}

/// <summary>
/// Guide 3.1: credentials the provider rejects. By default, the status recorded at each credential's last test; with
/// <see cref="DoctorOptions.CredentialTester"/>, every credential is tested now (the admin API's test, recorded the same
/// way): rejected ones are errors, those whose provider could not be reached warnings.
/// </summary>
public sealed class RejectedCredentialsCheck : IDoctorCheck
{
    private const string Fix =
        "store a valid key: PUT /api/admin/providers/credentials/{id} (Admin -> Providers -> Credentials), then POST .../{id}/test; " +
        "for provider_payment_required add credits on the provider's account";

    private const string LiveHint = "run `doctor --test-credentials` (GET /api/admin/doctor?test_credentials=true) to ask the providers now";

    private static readonly string[] Rejections = ["provider_auth_failed", "credential_invalid", "credential_missing", "provider_payment_required"];

    private sealed record Stored(string TenantId, Guid Id, string Label, string Provider, string? LastStatus, bool Untested)
    {
        public string Name(string status) => $"tenant {TenantId} / {Provider} / '{Label}' ({status})";
    }

    public async Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct)
    {
        var state = await context.DatabaseAsync(ct);
        if (!state.Usable)
        {
            return [new("credentials_rejected", FindingLevel.Error, "unknown: needs a usable database (see above)")];
        }

        // Ops view across tenants on purpose: the doctor is the platform operator's tool.
        await using var cmd = state.Database!.CreateCommand(
            """
            SELECT c.tenant_id, c.id, c.label, p.name, c.last_test_status, c.last_tested_at IS NULL
            FROM llm_credentials c JOIN llm_providers p ON p.id = c.provider_id AND p.tenant_id = c.tenant_id
            ORDER BY c.tenant_id, c.label
            """);
        var stored = new List<Stored>();
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                stored.Add(new Stored(reader.GetString(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4), reader.GetBoolean(5)));
            }
        }

        if (stored.Count == 0)
        {
            return [new("credentials_rejected", FindingLevel.Ok,
                "no credential stored yet (answers are extractive until a tenant admin adds one, or OPENROUTER_API_KEY for the default tenant)")];
        }

        return context.Options.CredentialTester is { } tester
            ? await TestNowAsync(stored, tester, context.Options, ct)
            : FromLastTests(stored);
    }

    private static IReadOnlyList<DoctorResult> FromLastTests(List<Stored> stored)
    {
        var rejected = stored.Where(c => !c.Untested && c.LastStatus is { } s && Rejections.Contains(s)).Select(c => c.Name(c.LastStatus!)).ToList();
        if (rejected.Count > 0)
        {
            return [new("credentials_rejected", FindingLevel.Error,
                $"{rejected.Count} credential(s) rejected by their provider at the last test: {string.Join("; ", rejected)}",
                $"{Fix}; {LiveHint}")];
        }

        return [new("credentials_rejected", FindingLevel.Ok,
            $"no credential rejected at its last test ({stored.Count} stored, {stored.Count(c => c.Untested)} never tested); {LiveHint}")];
    }

    private static async Task<IReadOnlyList<DoctorResult>> TestNowAsync(
        List<Stored> stored, CredentialTester tester, DoctorOptions options, CancellationToken ct)
    {
        var outcomes = new (Stored Credential, string? Status)[stored.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, stored.Count),
            new ParallelOptions { MaxDegreeOfParallelism = options.CredentialTestConcurrency, CancellationToken = ct },
            async (i, token) =>
            {
                var c = stored[i];
                try
                {
                    var result = await tester.TestAsync(c.TenantId, c.Id, options.CredentialTestTimeout, token);
                    outcomes[i] = (c, result.Status);
                }
                catch (KeyNotFoundException)
                {
                    outcomes[i] = (c, null); // deleted meanwhile
                }
            });

        var tested = outcomes.Where(o => o.Status is not null).ToList();
        var rejected = tested.Where(o => Rejections.Contains(o.Status!)).Select(o => o.Credential.Name(o.Status!)).ToList();
        var unreadable = tested.Count(o => o.Status == "credential_unreadable");
        var unreachable = tested.Where(o => o.Status != "ok" && o.Status != "credential_unreadable" && !Rejections.Contains(o.Status!))
            .Select(o => o.Credential.Name(o.Status!)).ToList();
        var accepted = tested.Count(o => o.Status == "ok");
        var skipped = unreadable > 0 ? $", {unreadable} not tried: unreadable (see credentials_key_decrypts)" : "";

        var results = new List<DoctorResult>
        {
            rejected.Count > 0
                ? new("credentials_rejected", FindingLevel.Error,
                    $"{rejected.Count} of {tested.Count} credential(s) rejected by their provider just now: {string.Join("; ", rejected)}", Fix)
                : new("credentials_rejected", FindingLevel.Ok,
                    $"tested {tested.Count} credential(s) just now: {accepted} accepted, none rejected{skipped}"),
        };
        if (unreachable.Count > 0)
        {
            results.Add(new("credentials_unreachable", FindingLevel.Warning,
                $"{unreachable.Count} credential(s) could not be verified, their provider did not give a verdict: {string.Join("; ", unreachable)}",
                "check that the provider's base_url is reachable from this host (DNS, proxy, firewall; GET /api/admin/providers) and " +
                "run the test again; each credential's last_test_message has the provider's own words"));
        }

        return results;
    }
}

/// <summary>Guide 3.5: an admin still logs in with the generated first password or a weak ADMIN_DEFAULT_PASSWORD.</summary>
public sealed class AdminPasswordCheck : IDoctorCheck
{
    public async Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct)
    {
        var state = await context.DatabaseAsync(ct);
        if (!state.Usable)
        {
            return [new("admin_password", FindingLevel.Error, "unknown: needs a usable database (see above)")];
        }

        var seeded = await new UserRepository(state.Database!).AdminsWithSeededPasswordAsync(ct);
        return seeded.Count == 0
            ? [new("admin_password", FindingLevel.Ok, "no admin uses a generated or weak seeded password")]
            : [new("admin_password", FindingLevel.Warning,
                $"{seeded.Count} admin account(s) still use the password generated and printed at first start, or a weak " +
                "ADMIN_DEFAULT_PASSWORD (short, a placeholder such as change-me-now, or an example from the documentation)",
                "log in and change it (backoffice: My account, /account; API: POST /api/auth/password); changing ADMIN_DEFAULT_PASSWORD in .env has no effect once the account exists")];
    }
}

/// <summary>Guide 1 and 2: Qdrant reachable with its collection, through the adapter's probe.</summary>
public sealed class QdrantCheck : IDoctorCheck
{
    public Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct) =>
        ProbeCheck.RunAsync(context, "qdrant", "QDRANT_URL", ComponentProbeNames.Qdrant,
            "QDRANT_URL unset: vectors in the embedded index (kept in PostgreSQL), nothing to probe", ct);
}

/// <summary>Guide 2.1: the S3 buckets exist (S3_BUCKET_UPLOADS, S3_BUCKET_ARTIFACTS), through the adapter's probe.</summary>
public sealed class BucketsCheck : IDoctorCheck
{
    public Task<IReadOnlyList<DoctorResult>> RunAsync(DoctorContext context, CancellationToken ct) =>
        ProbeCheck.RunAsync(context, "buckets", "S3_ENDPOINT", ComponentProbeNames.ObjectStore,
            "S3_ENDPOINT unset: files in the local folder NEXUS_DATA_DIR/objects, no bucket needed", ct);
}

internal static class ProbeCheck
{
    public static async Task<IReadOnlyList<DoctorResult>> RunAsync(
        DoctorContext context, string check, string variable, string probeName, string unsetVerdict, CancellationToken ct)
    {
        if (ConfigurationRules.Value(context.Configuration, variable) is null)
        {
            return [new(check, FindingLevel.Ok, unsetVerdict)];
        }

        var probe = context.Probes.FirstOrDefault(p => p.Name == probeName);
        if (probe is null && (context.Settings is null || context.StoresSetAside))
        {
            // The adapters are built from the settings: with the configuration refused there is nothing to probe with.
            return [new(check, FindingLevel.Warning, $"{variable} is set but {probeName} was not probed: the configuration does not load (see the errors above)",
                "fix the configuration errors above, then run doctor again")];
        }

        if (probe is null)
        {
            return [new(check, FindingLevel.Warning, $"{variable} is set but this build has no {probeName} adapter to probe it with",
                $"unset {variable} to use the single-node store, or run a release whose {probeName} adapter is present")];
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        try
        {
            var result = await probe.ProbeAsync(timeout.Token);
            return [new(check, result.Ok ? FindingLevel.Ok : FindingLevel.Error, result.Message,
                result.Ok ? null : result.Fix ?? $"do what the line says, check {variable} ({context.Configuration[variable]}), then run doctor again")];
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return [new(check, FindingLevel.Error, $"{probeName} did not answer within 10 s at {context.Configuration[variable]}",
                $"check that it runs (docker compose ps) and that {variable} points at it")];
        }
    }
}
