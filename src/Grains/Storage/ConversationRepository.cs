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

public sealed record ThreadSummary(
    string CallerApp, string UserId, string ThreadId, ImmutableArray<OutlineSection> Outline, string? LastQuestion, int Version,
    DateTimeOffset UpdatedAt);

public sealed record QueryLogFilter(
    string? CallerApp = null, string? ThreadId = null, DateTimeOffset? From = null, DateTimeOffset? To = null,
    bool? FollowUpResolved = null, int Limit = 100);

public sealed record QueryLogRow(QueryLogEntry Entry, DateTimeOffset CreatedAt);

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

        // An outline that does not parse (edited by hand, written by an older release) counts as none: the thread goes
        // on, and its next answer writes a good one.
        return new ThreadStateRow(ParseOutline(r.GetString(0)), r.IsDBNull(1) ? null : r.GetString(1), r.GetInt32(2),
            r.GetFieldValue<DateTimeOffset>(3));
    }

    /// <summary>Writes the thread's outline if nobody else wrote it since <paramref name="expectedVersion"/>.</summary>
    public async Task<int?> SaveThreadAsync(
        ThreadKey key, IReadOnlyList<OutlineSection> outline, string? lastQuestion, int expectedVersion, CancellationToken ct)
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
        cmd.Parameters.Add(new NpgsqlParameter("q", NpgsqlDbType.Text) { Value = (object?)lastQuestion ?? DBNull.Value });
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

    /// <summary>The tenant's threads, newest first, optionally of one caller app and/or thread id.</summary>
    public async Task<IReadOnlyList<ThreadSummary>> ListThreadsAsync(
        string tenantId, string? callerApp, string? threadId, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT caller_app, user_id, thread_id, last_outline, last_question, version, updated_at FROM thread_state
            WHERE tenant_id = @t AND (@app::text IS NULL OR caller_app = @app) AND (@th::text IS NULL OR thread_id = @th)
            ORDER BY updated_at DESC LIMIT @lim
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.Add(new NpgsqlParameter("app", NpgsqlDbType.Text) { Value = (object?)callerApp ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("th", NpgsqlDbType.Text) { Value = (object?)threadId ?? DBNull.Value });
        cmd.Parameters.AddWithValue("lim", limit);
        var rows = new List<ThreadSummary>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            rows.Add(new ThreadSummary(r.GetString(0), r.GetString(1), r.GetString(2), ParseOutline(r.GetString(3)),
                r.IsDBNull(4) ? null : r.GetString(4), r.GetInt32(5), r.GetFieldValue<DateTimeOffset>(6)));
        }

        return rows;
    }

    public async Task<IReadOnlyList<QueryLogRow>> ListQueriesAsync(string tenantId, QueryLogFilter filter, Guid? id, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT id, tenant_id, caller_app, user_id, thread_id, question, retrieval_query, mode, answer, followup_resolved,
                   followup_section_id, followup_ref_type, citations::text, model, suivi_status, error_code, latency_ms, created_at
            FROM queries_log
            WHERE tenant_id = @t
              AND (@id::uuid IS NULL OR id = @id)
              AND (@app::text IS NULL OR caller_app = @app)
              AND (@th::text IS NULL OR thread_id = @th)
              AND (@from::timestamptz IS NULL OR created_at >= @from)
              AND (@to::timestamptz IS NULL OR created_at < @to)
              AND (@fr::boolean IS NULL OR followup_resolved = @fr)
            ORDER BY created_at DESC LIMIT @lim
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = (object?)id ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("app", NpgsqlDbType.Text) { Value = (object?)filter.CallerApp ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("th", NpgsqlDbType.Text) { Value = (object?)filter.ThreadId ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("from", NpgsqlDbType.TimestampTz) { Value = (object?)filter.From ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("to", NpgsqlDbType.TimestampTz) { Value = (object?)filter.To ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("fr", NpgsqlDbType.Boolean) { Value = (object?)filter.FollowUpResolved ?? DBNull.Value });
        cmd.Parameters.AddWithValue("lim", filter.Limit);
        var rows = new List<QueryLogRow>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var citations = JsonSerializer.Deserialize<List<StoredCitation>>(r.GetString(12), Json) ?? [];
            var entry = new QueryLogEntry(
                r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), r.GetString(5), r.GetString(6),
                r.GetString(7), r.GetString(8), r.GetBoolean(9), r.IsDBNull(10) ? null : r.GetString(10),
                r.IsDBNull(11) ? null : r.GetString(11),
                [.. citations.Select(c => new Citation(c.DocumentId, c.FileName ?? "", c.ChunkIndex, c.Score, "", 0))],
                r.IsDBNull(13) ? null : r.GetString(13), r.IsDBNull(14) ? null : r.GetString(14),
                r.IsDBNull(15) ? null : r.GetString(15), r.GetInt32(16));
            rows.Add(new QueryLogRow(entry, r.GetFieldValue<DateTimeOffset>(17)));
        }

        return rows;
    }

    private static ImmutableArray<OutlineSection> ParseOutline(string json)
    {
        try
        {
            var outline = JsonSerializer.Deserialize<List<StoredSection>>(json, Json) ?? [];
            return outline.Any(s => string.IsNullOrWhiteSpace(s?.Id) || string.IsNullOrWhiteSpace(s.Title))
                ? []
                : [.. outline.Select(s => new OutlineSection(s.Id, s.Title, [.. s.ChunkIds ?? []]))];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    private static void Bind(NpgsqlCommand cmd, ThreadKey key)
    {
        cmd.Parameters.AddWithValue("t", key.TenantId);
        cmd.Parameters.AddWithValue("app", key.CallerApp);
        cmd.Parameters.AddWithValue("u", key.UserId);
        cmd.Parameters.AddWithValue("th", key.ThreadId);
    }

    private sealed record StoredSection(string Id, string Title, long[]? ChunkIds);

    private sealed record StoredCitation(
        [property: System.Text.Json.Serialization.JsonPropertyName("document_id")] Guid DocumentId,
        [property: System.Text.Json.Serialization.JsonPropertyName("filename")] string? FileName,
        [property: System.Text.Json.Serialization.JsonPropertyName("chunk_index")] int ChunkIndex,
        [property: System.Text.Json.Serialization.JsonPropertyName("score")] double Score);
}
