using System.Text.Json;
using AuroraNexus.Grains.Tenancy;
using Npgsql;

namespace AuroraNexus.Grains.Storage;

/// <summary>Tenant settings as key/value rows; unknown or missing keys fall back to the defaults.</summary>
public sealed class SettingsRepository(NpgsqlDataSource db)
{
    public const string RetrieveK = "RETRIEVE_K";
    public const string MmrLambda = "MMR_LAMBDA";
    public const string DenseWeight = "FUSION_DENSE_WEIGHT";
    public const string LexicalCandidates = "LEXICAL_CANDIDATES";
    public const string DenseCandidates = "DENSE_CANDIDATES";
    public const string SystemPrompt = "SYSTEM_PROMPT";
    public const string AccentStemWeight = "LEXICAL_ACCENT_STEM_WEIGHT";
    public const string DocumentWeight = "FUSION_DOCUMENT_WEIGHT";
    public const string LeadWeight = "FUSION_LEAD_WEIGHT";
    public const string Bm25K1 = "BM25_K1";
    public const string Bm25B = "BM25_B";
    public const string CacheTtlMinutes = "CACHE_TTL_MINUTES";
    public const string CacheMaxEntries = "CACHE_MAX_ENTRIES";
    public const string AsideWeight = "LEXICAL_ASIDE_WEIGHT";

    public async Task<TenantSettings> LoadAsync(string tenantId, CancellationToken ct)
    {
        var values = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
        await using (var cmd = db.CreateCommand("SELECT key, value::text FROM settings WHERE tenant_id = @t"))
        {
            cmd.Parameters.AddWithValue("t", tenantId);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                values[r.GetString(0)] = JsonDocument.Parse(r.GetString(1)).RootElement.Clone();
            }
        }

        var d = TenantSettings.Defaults;
        return new TenantSettings(
            Int(values, RetrieveK, d.RetrieveK, 4, 50),
            Real(values, MmrLambda, d.MmrLambda, 0, 1),
            Real(values, DenseWeight, d.DenseWeight, 0, 10),
            Int(values, LexicalCandidates, d.LexicalCandidates, 1, 1000),
            Int(values, DenseCandidates, d.DenseCandidates, 1, 1000),
            values.TryGetValue(SystemPrompt, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : d.SystemPrompt,
            Real(values, AccentStemWeight, d.AccentStemWeight, 0, 10),
            Real(values, DocumentWeight, d.DocumentWeight, 0, 10),
            Real(values, LeadWeight, d.LeadWeight, 0, 10),
            Real(values, Bm25K1, d.Bm25K1, 0, 10),
            Real(values, Bm25B, d.Bm25B, 0, 1),
            Int(values, CacheTtlMinutes, d.CacheTtlMinutes, 0, 10080),
            Int(values, CacheMaxEntries, d.CacheMaxEntries, 10, 100_000),
            Real(values, AsideWeight, d.AsideWeight, 0, 1));
    }

    /// <summary>Stores the given values in one transaction: all of them or, if any is refused, none.</summary>
    public async Task SetAllAsync(string tenantId, IReadOnlyList<(string Key, object Value)> values, CancellationToken ct)
    {
        if (values.Count == 0)
        {
            return;
        }

        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var batch = new NpgsqlBatch(conn, tx);
        foreach (var (key, value) in values)
        {
            var cmd = new NpgsqlBatchCommand(
                """
                INSERT INTO settings (tenant_id, key, value) VALUES (@t, @k, @v::jsonb)
                ON CONFLICT (tenant_id, key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
                """);
            cmd.Parameters.AddWithValue("t", tenantId);
            cmd.Parameters.AddWithValue("k", key);
            cmd.Parameters.AddWithValue("v", JsonSerializer.Serialize(value));
            batch.BatchCommands.Add(cmd);
        }

        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
    }

    private static int Int(Dictionary<string, JsonElement> v, string key, int fallback, int min, int max) =>
        v.TryGetValue(key, out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var i) && i >= min && i <= max
            ? i
            : fallback;

    private static double Real(Dictionary<string, JsonElement> v, string key, double fallback, double min, double max) =>
        v.TryGetValue(key, out var e) && e.ValueKind == JsonValueKind.Number && e.GetDouble() is var x && x >= min && x <= max
            ? x
            : fallback;
}
