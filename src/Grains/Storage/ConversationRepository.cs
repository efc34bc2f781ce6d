using System.Collections.Immutable;
using System.Text.Json;
using AuroraNexus.Grains.Conversation;
using Npgsql;
using NpgsqlTypes;

namespace AuroraNexus.Grains.Storage;

public sealed record ThreadStateRow(ImmutableArray<OutlineSection> Outline, string? LastQuestion, int Version, DateTimeOffset UpdatedAt);

public sealed record QueryLogEntry(
    Guid Id, string TenantId, string CallerApp, string UserId, string ThreadId, string Question, string RetrievalQuery,
    string Mode, string Answer, bool FollowUpResolved, string? FollowUpSectionId, string? FollowUpRefType,
    IReadOnlyList<Citation> Citations, string? Model, string? SuiviStatus, string? ErrorCode, long LatencyMs);

/// <summary>thread_state and queries_log, the two tables the troubleshooting guide queries by hand.</summary>
public sealed class ConversationRepository(NpgsqlDataSource db)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<ThreadStateRow?> LoadThreadAsync(ThreadKey key, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT last_outline, last_question, version, updated_at FROM thread_state
            WHERE tenant_id = @t AND caller_app = @app AND user_id = @u AND thread_id = @th
            """);
        Bind(cmd, key);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct))
        {
            return null;
        }

        var outline = JsonSerializer.Deserialize<List<StoredSection>>(r.GetString(0), Json) ?? [];
        return new ThreadStateRow(
            [.. outline.Select(s => new OutlineSection(s.Id, s.Title, [.. s.ChunkIds ?? []]))],
            r.IsDBNull(1) ? null : r.GetString(1), r.GetInt32(2), r.GetFieldValue<DateTimeOffset>(3));
    }

    /// <summary>Writes the thread's outline if nobody else wrote it since <paramref name="expectedVersion"/>.</summary>
    public async Task<int?> SaveThreadAsync(
        ThreadKey key, IReadOnlyList<OutlineSection> outline, string lastQuestion, int expectedVersion, CancellationToken ct)
    {
        var json = JsonSerializer.Serialize(outline.Select(s => new StoredSection(s.Id, s.Title, [.. s.ChunkIds])), Json);
        await using var cmd = db.CreateCommand(
            """
            INSERT INTO thread_state AS ts (tenant_id, caller_app, user_id, thread_id, last_outline, last_question, version, updated_at)
            VALUES (@t, @app, @u, @th, @o::jsonb, @q, 1, now())
            ON CONFLICT (tenant_id, caller_app, user_id, thread_id) DO UPDATE
                SET last_outline = EXCLUDED.last_outline, last_question = EXCLUDED.last_question,
                    version = ts.version + 1, updated_at = now()
                WHERE ts.version = @v
            RETURNING version
            """);
        Bind(cmd, key);
        cmd.Parameters.AddWithValue("o", json);
        cmd.Parameters.AddWithValue("q", lastQuestion);
        cmd.Parameters.AddWithValue("v", expectedVersion);
        return await cmd.ExecuteScalarAsync(ct) as int?;
    }

    public async Task LogQueryAsync(QueryLogEntry e, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            INSERT INTO queries_log (id, tenant_id, caller_app, user_id, thread_id, question, retrieval_query, mode, answer,
                                     followup_resolved, followup_section_id, followup_ref_type, citations, model,
                                     suivi_status, error_code, latency_ms)
            VALUES (@id, @t, @app, @u, @th, @q, @rq, @mode, @a, @fr, @fs, @ft, @c::jsonb, @model, @ss, @err, @lat)
            ON CONFLICT (id) DO NOTHING
            """);
        cmd.Parameters.AddWithValue("id", e.Id);
        cmd.Parameters.AddWithValue("t", e.TenantId);
        cmd.Parameters.AddWithValue("app", e.CallerApp);
        cmd.Parameters.AddWithValue("u", e.UserId);
        cmd.Parameters.AddWithValue("th", e.ThreadId);
        cmd.Parameters.AddWithValue("q", e.Question);
        cmd.Parameters.AddWithValue("rq", e.RetrievalQuery);
        cmd.Parameters.AddWithValue("mode", e.Mode);
        cmd.Parameters.AddWithValue("a", e.Answer);
        cmd.Parameters.AddWithValue("fr", e.FollowUpResolved);
        cmd.Parameters.Add(new NpgsqlParameter("fs", NpgsqlDbType.Text) { Value = (object?)e.FollowUpSectionId ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("ft", NpgsqlDbType.Text) { Value = (object?)e.FollowUpRefType ?? DBNull.Value });
        cmd.Parameters.AddWithValue("c", JsonSerializer.Serialize(e.Citations.Select(c => new
        {
            document_id = c.DocumentId, filename = c.FileName, chunk_index = c.ChunkIndex, score = c.Score,
        }), Json));
        cmd.Parameters.Add(new NpgsqlParameter("model", NpgsqlDbType.Text) { Value = (object?)e.Model ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("ss", NpgsqlDbType.Text) { Value = (object?)e.SuiviStatus ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("err", NpgsqlDbType.Text) { Value = (object?)e.ErrorCode ?? DBNull.Value });
        cmd.Parameters.AddWithValue("lat", (int)Math.Min(int.MaxValue, e.LatencyMs));
        await cmd.ExecuteNonQueryAsync(ct);
    }

    private static void Bind(NpgsqlCommand cmd, ThreadKey key)
    {
        cmd.Parameters.AddWithValue("t", key.TenantId);
        cmd.Parameters.AddWithValue("app", key.CallerApp);
        cmd.Parameters.AddWithValue("u", key.UserId);
        cmd.Parameters.AddWithValue("th", key.ThreadId);
    }

    private sealed record StoredSection(string Id, string Title, long[]? ChunkIds);
}
