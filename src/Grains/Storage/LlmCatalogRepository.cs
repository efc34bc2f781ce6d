using Npgsql;
using NpgsqlTypes;

namespace AuroraNexus.Grains.Storage;

public sealed record ProviderRow(Guid Id, string TenantId, string Name, string Kind, string BaseUrl, DateTimeOffset CreatedAt);

public sealed record ModelRow(Guid Id, string TenantId, Guid ProviderId, string Model, bool IsDefault, DateTimeOffset CreatedAt);

/// <summary>A stored credential: the Fernet token and what may be shown of it, never the key itself.</summary>
public sealed record CredentialRow(
    Guid Id, string TenantId, Guid ProviderId, string Label, string Token, string KeyFingerprint, string SecretHint,
    string? LastTestStatus, string? LastTestMessage, DateTimeOffset? LastTestedAt, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>Everything the tenant grain needs to pick and call its model, read in one round trip.</summary>
public sealed record TenantLlmCatalog(
    IReadOnlyList<ProviderRow> Providers, IReadOnlyList<ModelRow> Models, IReadOnlyList<CredentialRow> Credentials);

/// <summary>
/// <c>llm_providers</c>, <c>llm_models</c> and <c>llm_credentials</c>. Every statement filters by tenant; an id of
/// another tenant reads as absent.
/// </summary>
public sealed class LlmCatalogRepository(NpgsqlDataSource db)
{
    public const string OpenRouterName = "openrouter";
    public const string OpenRouterBaseUrl = "https://openrouter.ai/api/v1";

    /// <summary>Every tenant starts with the OpenRouter provider, so that adding a key is the only step.</summary>
    public async Task EnsureDefaultProviderAsync(string tenantId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await EnsureDefaultProviderAsync(connection, null, tenantId, ct);
    }

    /// <summary>The same, inside a caller's transaction (a tenant created with its first admin).</summary>
    public static async Task EnsureDefaultProviderAsync(
        NpgsqlConnection connection, NpgsqlTransaction? tx, string tenantId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            """
            INSERT INTO llm_providers (id, tenant_id, name, kind, base_url) VALUES (@id, @t, @n, 'openrouter', @u)
            ON CONFLICT (tenant_id, lower(name)) DO NOTHING
            """, connection, tx);
        cmd.Parameters.AddWithValue("id", Guid.NewGuid());
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("n", OpenRouterName);
        cmd.Parameters.AddWithValue("u", OpenRouterBaseUrl);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<TenantLlmCatalog> LoadCatalogAsync(string tenantId, CancellationToken ct)
    {
        var providers = await ListProvidersAsync(tenantId, ct);
        var models = await ListModelsAsync(tenantId, ct);
        var credentials = await ListCredentialsAsync(tenantId, ct);
        return new TenantLlmCatalog(providers, models, credentials);
    }

    // --- providers ---------------------------------------------------------------------------------------------

    public async Task<IReadOnlyList<ProviderRow>> ListProvidersAsync(string tenantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT id, tenant_id, name, kind, base_url, created_at FROM llm_providers WHERE tenant_id = @t ORDER BY name");
        cmd.Parameters.AddWithValue("t", tenantId);
        return await ReadAllAsync(cmd, ReadProvider, ct);
    }

    public async Task<ProviderRow?> GetProviderAsync(string tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT id, tenant_id, name, kind, base_url, created_at FROM llm_providers WHERE tenant_id = @t AND id = @id");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        return (await ReadAllAsync(cmd, ReadProvider, ct)).FirstOrDefault();
    }

    /// <returns>null when the tenant already has a provider of that name.</returns>
    public async Task<ProviderRow?> CreateProviderAsync(string tenantId, string name, string kind, string baseUrl, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            INSERT INTO llm_providers (id, tenant_id, name, kind, base_url) VALUES (@id, @t, @n, @k, @u)
            ON CONFLICT (tenant_id, lower(name)) DO NOTHING
            RETURNING id, tenant_id, name, kind, base_url, created_at
            """);
        cmd.Parameters.AddWithValue("id", Guid.NewGuid());
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("n", name);
        cmd.Parameters.AddWithValue("k", kind);
        cmd.Parameters.AddWithValue("u", baseUrl);
        return (await ReadAllAsync(cmd, ReadProvider, ct)).FirstOrDefault();
    }

    public async Task<ProviderRow?> UpdateProviderAsync(
        string tenantId, Guid id, string? name, string? kind, string? baseUrl, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE llm_providers SET name = COALESCE(@n, name), kind = COALESCE(@k, kind), base_url = COALESCE(@u, base_url),
                                     updated_at = now()
            WHERE tenant_id = @t AND id = @id
            RETURNING id, tenant_id, name, kind, base_url, created_at
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.Add(Text("n", name));
        cmd.Parameters.Add(Text("k", kind));
        cmd.Parameters.Add(Text("u", baseUrl));
        return (await ReadAllAsync(cmd, ReadProvider, ct)).FirstOrDefault();
    }

    /// <summary>Deletes the provider with its models and credentials.</summary>
    public Task<bool> DeleteProviderAsync(string tenantId, Guid id, CancellationToken ct) =>
        DeleteAsync("DELETE FROM llm_providers WHERE tenant_id = @t AND id = @id", tenantId, id, ct);

    // --- models ------------------------------------------------------------------------------------------------

    public async Task<IReadOnlyList<ModelRow>> ListModelsAsync(string tenantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT id, tenant_id, provider_id, model, is_default, created_at FROM llm_models WHERE tenant_id = @t ORDER BY model");
        cmd.Parameters.AddWithValue("t", tenantId);
        return await ReadAllAsync(cmd, ReadModel, ct);
    }

    /// <returns>null when the provider is not the tenant's or the model is already listed for it.</returns>
    public async Task<ModelRow?> CreateModelAsync(string tenantId, Guid providerId, string model, bool isDefault, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await LockModelsAsync(connection, tx, tenantId, ct);
        if (isDefault)
        {
            await ClearDefaultAsync(connection, tx, tenantId, ct);
        }

        await using var cmd = new NpgsqlCommand(
            """
            INSERT INTO llm_models (id, tenant_id, provider_id, model, is_default)
            SELECT @id, @t, p.id, @m, @d FROM llm_providers p WHERE p.tenant_id = @t AND p.id = @p
            ON CONFLICT (tenant_id, provider_id, model) DO NOTHING
            RETURNING id, tenant_id, provider_id, model, is_default, created_at
            """, connection, tx);
        cmd.Parameters.AddWithValue("id", Guid.NewGuid());
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("p", providerId);
        cmd.Parameters.AddWithValue("m", model);
        cmd.Parameters.AddWithValue("d", isDefault);
        var row = (await ReadAllAsync(cmd, ReadModel, ct)).FirstOrDefault();
        await tx.CommitAsync(ct);
        return row;
    }

    public async Task<ModelRow?> SetDefaultModelAsync(string tenantId, Guid id, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await LockModelsAsync(connection, tx, tenantId, ct);
        await ClearDefaultAsync(connection, tx, tenantId, ct);
        await using var cmd = new NpgsqlCommand(
            """
            UPDATE llm_models SET is_default = true WHERE tenant_id = @t AND id = @id
            RETURNING id, tenant_id, provider_id, model, is_default, created_at
            """, connection, tx);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        var row = (await ReadAllAsync(cmd, ReadModel, ct)).FirstOrDefault();
        if (row is null)
        {
            await tx.RollbackAsync(ct);
            return null;
        }

        await tx.CommitAsync(ct);
        return row;
    }

    public Task<bool> DeleteModelAsync(string tenantId, Guid id, CancellationToken ct) =>
        DeleteAsync("DELETE FROM llm_models WHERE tenant_id = @t AND id = @id", tenantId, id, ct);

    // --- credentials -------------------------------------------------------------------------------------------

    public async Task<IReadOnlyList<CredentialRow>> ListCredentialsAsync(string tenantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(CredentialSelect + " WHERE tenant_id = @t ORDER BY label");
        cmd.Parameters.AddWithValue("t", tenantId);
        return await ReadAllAsync(cmd, ReadCredential, ct);
    }

    public async Task<CredentialRow?> GetCredentialAsync(string tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(CredentialSelect + " WHERE tenant_id = @t AND id = @id");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        return (await ReadAllAsync(cmd, ReadCredential, ct)).FirstOrDefault();
    }

    /// <returns>null when the provider is not the tenant's or already has a credential.</returns>
    public async Task<CredentialRow?> CreateCredentialAsync(
        string tenantId, Guid providerId, string label, string token, string fingerprint, string hint, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            INSERT INTO llm_credentials (id, tenant_id, provider_id, label, token, key_fingerprint, secret_hint)
            SELECT @id, @t, p.id, @l, @tok, @fp, @h FROM llm_providers p WHERE p.tenant_id = @t AND p.id = @p
            ON CONFLICT (tenant_id, provider_id) DO NOTHING
            RETURNING id, tenant_id, provider_id, label, token, key_fingerprint, secret_hint,
                      last_test_status, last_test_message, last_tested_at, created_at, updated_at
            """);
        cmd.Parameters.AddWithValue("id", Guid.NewGuid());
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("p", providerId);
        cmd.Parameters.AddWithValue("l", label);
        cmd.Parameters.AddWithValue("tok", token);
        cmd.Parameters.AddWithValue("fp", fingerprint);
        cmd.Parameters.AddWithValue("h", hint);
        return (await ReadAllAsync(cmd, ReadCredential, ct)).FirstOrDefault();
    }

    /// <summary>Replaces the secret (token, fingerprint, hint) and/or the label; a new secret clears the last test.</summary>
    public async Task<CredentialRow?> UpdateCredentialAsync(
        string tenantId, Guid id, string? label, (string Token, string Fingerprint, string Hint)? secret, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE llm_credentials SET
                label = COALESCE(@l, label),
                token = COALESCE(@tok, token),
                key_fingerprint = COALESCE(@fp, key_fingerprint),
                secret_hint = COALESCE(@h, secret_hint),
                last_test_status = CASE WHEN @tok IS NULL THEN last_test_status END,
                last_test_message = CASE WHEN @tok IS NULL THEN last_test_message END,
                last_tested_at = CASE WHEN @tok IS NULL THEN last_tested_at END,
                updated_at = now()
            WHERE tenant_id = @t AND id = @id
            RETURNING id, tenant_id, provider_id, label, token, key_fingerprint, secret_hint,
                      last_test_status, last_test_message, last_tested_at, created_at, updated_at
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.Add(Text("l", label));
        cmd.Parameters.Add(Text("tok", secret?.Token));
        cmd.Parameters.Add(Text("fp", secret?.Fingerprint));
        cmd.Parameters.Add(Text("h", secret?.Hint));
        return (await ReadAllAsync(cmd, ReadCredential, ct)).FirstOrDefault();
    }

    public async Task RecordTestAsync(string tenantId, Guid id, string status, string message, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE llm_credentials SET last_test_status = @s, last_test_message = @m, last_tested_at = now()
            WHERE tenant_id = @t AND id = @id
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("s", status);
        cmd.Parameters.AddWithValue("m", message);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public Task<bool> DeleteCredentialAsync(string tenantId, Guid id, CancellationToken ct) =>
        DeleteAsync("DELETE FROM llm_credentials WHERE tenant_id = @t AND id = @id", tenantId, id, ct);

    // --- key rotation (ops; spans tenants on purpose) -----------------------------------------------------------

    /// <summary>Every credential's id, tenant, token and fingerprint: the input of <c>rotate-credentials-key</c>.</summary>
    public async Task<IReadOnlyList<(Guid Id, string TenantId, string Token, string Fingerprint)>> ListAllTokensAsync(CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT id, tenant_id, token, key_fingerprint FROM llm_credentials ORDER BY tenant_id, id");
        return await ReadAllAsync(cmd, r => (r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3)), ct);
    }

    /// <summary>Replaces one token if it is still the one that was read (a concurrent admin change wins).</summary>
    public async Task<bool> ReplaceTokenAsync(Guid id, string tenantId, string oldToken, string newToken, string fingerprint, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE llm_credentials SET token = @new, key_fingerprint = @fp, updated_at = now()
            WHERE id = @id AND tenant_id = @t AND token = @old
            """);
        cmd.Parameters.AddWithValue("id", id);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("old", oldToken);
        cmd.Parameters.AddWithValue("new", newToken);
        cmd.Parameters.AddWithValue("fp", fingerprint);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Count of stored credentials per key fingerprint, across tenants (health and doctor).</summary>
    /// <summary>Stored credentials by the key that encrypted them: one tenant's, or every tenant's when <paramref name="tenantId"/> is null.</summary>
    public async Task<IReadOnlyDictionary<string, int>> CountByFingerprintAsync(CancellationToken ct, string? tenantId = null)
    {
        await using var cmd = db.CreateCommand(
            "SELECT key_fingerprint, count(*)::int FROM llm_credentials WHERE @t::text IS NULL OR tenant_id = @t GROUP BY key_fingerprint");
        cmd.Parameters.Add(new NpgsqlParameter("t", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)tenantId ?? DBNull.Value });
        var rows = await ReadAllAsync(cmd, r => (r.GetString(0), r.GetInt32(1)), ct);
        return rows.ToDictionary(r => r.Item1, r => r.Item2);
    }

    private const string CredentialSelect =
        """
        SELECT id, tenant_id, provider_id, label, token, key_fingerprint, secret_hint,
               last_test_status, last_test_message, last_tested_at, created_at, updated_at
        FROM llm_credentials
        """;

    /// <summary>Serialises default-model changes of one tenant: the last one wins, none fails on the one-default index.</summary>
    private static async Task LockModelsAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string tenantId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('llm_models:' || @t))", connection, tx);
        cmd.Parameters.AddWithValue("t", tenantId);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static async Task ClearDefaultAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string tenantId, CancellationToken ct)
    {
        await using var clear = new NpgsqlCommand("UPDATE llm_models SET is_default = false WHERE tenant_id = @t AND is_default", connection, tx);
        clear.Parameters.AddWithValue("t", tenantId);
        await clear.ExecuteNonQueryAsync(ct);
    }

    private async Task<bool> DeleteAsync(string sql, string tenantId, Guid id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(sql);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", id);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    private static NpgsqlParameter Text(string name, string? value) =>
        new(name, NpgsqlDbType.Text) { Value = (object?)value ?? DBNull.Value };

    private static async Task<List<T>> ReadAllAsync<T>(NpgsqlCommand cmd, Func<NpgsqlDataReader, T> read, CancellationToken ct)
    {
        var rows = new List<T>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            rows.Add(read(r));
        }

        return rows;
    }

    private static ProviderRow ReadProvider(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetFieldValue<DateTimeOffset>(5));

    private static ModelRow ReadModel(NpgsqlDataReader r) =>
        new(r.GetGuid(0), r.GetString(1), r.GetGuid(2), r.GetString(3), r.GetBoolean(4), r.GetFieldValue<DateTimeOffset>(5));

    private static CredentialRow ReadCredential(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetGuid(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6),
        r.IsDBNull(7) ? null : r.GetString(7), r.IsDBNull(8) ? null : r.GetString(8),
        r.IsDBNull(9) ? null : r.GetFieldValue<DateTimeOffset>(9),
        r.GetFieldValue<DateTimeOffset>(10), r.GetFieldValue<DateTimeOffset>(11));
}
