using AuroraNexus.Grains.Ingestion;
using Npgsql;

namespace AuroraNexus.Grains.Storage;

/// <summary>A document of a batch as the checkpoint table holds it; <c>IdleSeconds</c> is measured by the database clock.</summary>
public sealed record BatchDocumentRow(
    Guid Id, string FileName, string ObjectKey, long SizeBytes, string Status, int Attempts, string? ErrorCode,
    string? ErrorMessage, int ChunkCount, double IdleSeconds);

/// <summary>What claiming a document for an attempt found.</summary>
/// <param name="Attempt">The attempt number this claim owns (the fence of every later write), or 0 when not claimed.</param>
/// <param name="Current">The document as it is when it was not claimable (terminal), or null when it no longer exists.</param>
public sealed record DocumentClaim(int Attempt, BatchDocumentRow? Current)
{
    public bool Claimed => Attempt > 0;
}

/// <summary>
/// Per-document checkpoints of ingestion. The <c>documents</c> row is the checkpoint: its status, its attempt count and
/// its <c>updated_at</c> heartbeat. Every write of an attempt is fenced by the attempt number it claimed, so a late
/// attempt (a worker that was given up on, a document deleted meanwhile) can never overwrite a newer one.
/// </summary>
public sealed partial class IngestionRepository
{
    private const string BatchDocumentColumns =
        """
        id, filename, object_key, size_bytes, status, attempts, error_code, error_message, chunk_count,
        extract(epoch FROM now() - updated_at)::float8
        """;

    /// <summary>
    /// The error message of a failed document (@msg), and for a new version (upload with replace=true) that the versions
    /// it was to replace are still there.
    /// </summary>
    private const string KeptNote =
        """
        CASE WHEN cardinality(replaces) > 0
             THEN rtrim(@msg, '. ') || '. The earlier version stays in place and searchable until a new version is indexed.'
             ELSE @msg END
        """;

    /// <summary>The documents of a batch, with how long each has been silent.</summary>
    public async Task<IReadOnlyList<BatchDocumentRow>> ListBatchDocumentsAsync(string tenantId, Guid batchId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"SELECT {BatchDocumentColumns} FROM documents WHERE tenant_id = @t AND batch_id = @b ORDER BY created_at, filename");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("b", batchId);
        var list = new List<BatchDocumentRow>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(ReadBatchDocument(r));
        }

        return list;
    }

    /// <summary>
    /// Starts a new attempt on a document that is not finished and has attempts left: one more attempt is counted,
    /// whatever happens next (a silo killed while it runs has still used it). Waits for an attempt that is writing its
    /// chunks to commit. Not claimed: <see cref="DocumentClaim.Current"/> is finished, gone (null), or out of attempts.
    /// </summary>
    public async Task<DocumentClaim> ClaimDocumentAsync(string tenantId, Guid documentId, int maxAttempts, CancellationToken ct)
    {
        await using (var cmd = db.CreateCommand(
            """
            UPDATE documents SET status = 'processing', attempts = attempts + 1, updated_at = now()
            WHERE tenant_id = @t AND id = @id AND status IN ('queued', 'processing') AND attempts < @max
            RETURNING attempts
            """))
        {
            cmd.Parameters.AddWithValue("t", tenantId);
            cmd.Parameters.AddWithValue("id", documentId);
            cmd.Parameters.AddWithValue("max", maxAttempts);
            if (await cmd.ExecuteScalarAsync(ct) is int attempt)
            {
                return new DocumentClaim(attempt, null);
            }
        }

        return new DocumentClaim(0, await GetBatchDocumentAsync(tenantId, documentId, ct));
    }

    public async Task<BatchDocumentRow?> GetBatchDocumentAsync(string tenantId, Guid documentId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand($"SELECT {BatchDocumentColumns} FROM documents WHERE tenant_id = @t AND id = @id");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", documentId);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? ReadBatchDocument(r) : null;
    }

    /// <summary>The heartbeat of a running attempt; false when the attempt no longer owns the document (deleted, superseded).</summary>
    public async Task<bool> TouchDocumentAsync(string tenantId, Guid documentId, int attempt, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE documents SET updated_at = now()
            WHERE tenant_id = @t AND id = @id AND attempts = @a AND status = 'processing'
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", documentId);
        cmd.Parameters.AddWithValue("a", attempt);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Ends an attempt without chunks (failed, or queued again after an error); false when it no longer owns the document.</summary>
    public async Task<bool> FinishAttemptAsync(
        string tenantId, Guid documentId, int attempt, string status, string? errorCode, string? errorMessage, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE documents SET status = @s, chunk_count = 0, error_code = @code, error_message = @msg, updated_at = now()
            WHERE tenant_id = @t AND id = @id AND attempts = @a AND status = 'processing'
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", documentId);
        cmd.Parameters.AddWithValue("a", attempt);
        cmd.Parameters.AddWithValue("s", status);
        cmd.Parameters.AddWithValue("code", (object?)errorCode ?? DBNull.Value);
        cmd.Parameters.AddWithValue("msg", (object?)errorMessage ?? DBNull.Value);
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>
    /// Ends an attempt with the document failed, and drops its chunks: one that was indexed before and fails when indexed
    /// again is not searchable either. Returns how many chunks it had, or null when the attempt no longer owns the document.
    /// </summary>
    public async Task<int?> FailAttemptAsync(
        string tenantId, Guid documentId, int attempt, string errorCode, string errorMessage, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"""
            WITH failed AS (
                UPDATE documents SET status = 'failed', chunk_count = 0, error_code = @code, error_message = {KeptNote}, updated_at = now()
                WHERE tenant_id = @t AND id = @id AND attempts = @a AND status = 'processing'
                RETURNING id),
            dropped AS (
                DELETE FROM chunks WHERE tenant_id = @t AND document_id IN (SELECT id FROM failed) RETURNING 1)
            SELECT (SELECT count(*) FROM failed)::int, (SELECT count(*) FROM dropped)::int
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", documentId);
        cmd.Parameters.AddWithValue("a", attempt);
        cmd.Parameters.AddWithValue("code", errorCode);
        cmd.Parameters.AddWithValue("msg", errorMessage);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return r.GetInt32(0) == 1 ? r.GetInt32(1) : null;
    }

    /// <summary>
    /// Gives up on a document that no attempt could finish: failed, without chunks. False when it finished meanwhile
    /// (or was deleted): then its own state stands.
    /// </summary>
    public async Task<bool> GiveUpDocumentAsync(string tenantId, Guid documentId, string errorCode, string errorMessage, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var cmd = new NpgsqlCommand(
            $"""
            UPDATE documents SET status = 'failed', chunk_count = 0, error_code = @code, error_message = {KeptNote}, updated_at = now()
            WHERE tenant_id = @t AND id = @id AND status IN ('queued', 'processing')
            """, conn, tx);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", documentId);
        cmd.Parameters.AddWithValue("code", errorCode);
        cmd.Parameters.AddWithValue("msg", errorMessage);
        if (await cmd.ExecuteNonQueryAsync(ct) != 1)
        {
            return false;
        }

        await using (var del = new NpgsqlCommand("DELETE FROM chunks WHERE tenant_id = @t AND document_id = @id", conn, tx))
        {
            del.Parameters.AddWithValue("t", tenantId);
            del.Parameters.AddWithValue("id", documentId);
            await del.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>
    /// Writes the chunks of an attempt and marks the document indexed, in one transaction that holds the document's
    /// row: <paramref name="publish"/> (the vector index update) runs inside it, so a newer attempt or a deletion waits
    /// for it and comes after it. The documents it replaces (<c>replaces</c>) are deleted in the same transaction, and
    /// their vectors and files queued for removal. Chunks are upserted on (document, index), so their ids stay the same across
    /// attempts and a retry never leaves a second copy. False (nothing written) when the attempt no longer owns the
    /// document.
    /// </summary>
    public async Task<bool> IndexDocumentAsync(
        string tenantId, Guid documentId, int attempt, string model, IReadOnlyList<StoredChunk> chunks,
        Func<long[], CancellationToken, Task> publish, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // A worker that hangs while it holds the row must not block the document forever.
        await using (var limit = new NpgsqlCommand("SET LOCAL idle_in_transaction_session_timeout = '5min'", conn, tx))
        {
            await limit.ExecuteNonQueryAsync(ct);
        }

        await using (var fence = new NpgsqlCommand(
            """
            SELECT 1 FROM documents WHERE tenant_id = @t AND id = @id AND attempts = @a AND status = 'processing' FOR UPDATE
            """, conn, tx))
        {
            fence.Parameters.AddWithValue("t", tenantId);
            fence.Parameters.AddWithValue("id", documentId);
            fence.Parameters.AddWithValue("a", attempt);
            if (await fence.ExecuteScalarAsync(ct) is null)
            {
                return false;
            }
        }

        await using (var del = new NpgsqlCommand(
            "DELETE FROM chunks WHERE tenant_id = @t AND document_id = @d AND chunk_index >= @n", conn, tx))
        {
            del.Parameters.AddWithValue("t", tenantId);
            del.Parameters.AddWithValue("d", documentId);
            del.Parameters.AddWithValue("n", chunks.Count);
            await del.ExecuteNonQueryAsync(ct);
        }

        var ids = new long[chunks.Count];
        if (chunks.Count > 0)
        {
            await using var batch = new NpgsqlBatch(conn, tx);
            foreach (var c in chunks)
            {
                var cmd = new NpgsqlBatchCommand(
                    """
                    INSERT INTO chunks (tenant_id, document_id, chunk_index, text, token_count, embedding_model, embedding)
                    VALUES (@t, @d, @i, @txt, @tok, @m, @emb)
                    ON CONFLICT (document_id, chunk_index) DO UPDATE
                    SET text = EXCLUDED.text, token_count = EXCLUDED.token_count,
                        embedding_model = EXCLUDED.embedding_model, embedding = EXCLUDED.embedding
                    RETURNING id
                    """);
                cmd.Parameters.AddWithValue("t", tenantId);
                cmd.Parameters.AddWithValue("d", documentId);
                cmd.Parameters.AddWithValue("i", c.Index);
                cmd.Parameters.AddWithValue("txt", c.Text);
                cmd.Parameters.AddWithValue("tok", c.TokenCount);
                cmd.Parameters.AddWithValue("m", model);
                cmd.Parameters.AddWithValue("emb", c.Embedding);
                batch.BatchCommands.Add(cmd);
            }

            await using var reader = await batch.ExecuteReaderAsync(ct);
            var n = 0;
            do
            {
                while (await reader.ReadAsync(ct))
                {
                    ids[n] = reader.GetInt64(0);
                }

                n++;
            }
            while (await reader.NextResultAsync(ct));
        }

        await publish(ids, ct);
        // The versions this one replaces go with it becoming searchable, never before: their rows and chunks now, their
        // vectors and files after the commit (document_removals, finished by ReplacedVersionRemoval or the sweep).
        await using (var replacedGone = new NpgsqlCommand(
            """
            WITH replaced AS (
                SELECT unnest(replaces) AS id FROM documents WHERE tenant_id = @t AND id = @id),
            gone AS (
                DELETE FROM documents d USING replaced
                WHERE d.tenant_id = @t AND d.id = replaced.id AND d.id <> @id
                RETURNING d.id, d.object_key, d.batch_id),
            counted AS (
                UPDATE ingest_batches b SET total = b.total - g.n
                FROM (SELECT batch_id, count(*)::int AS n FROM gone WHERE batch_id IS NOT NULL GROUP BY batch_id) g
                WHERE b.tenant_id = @t AND b.id = g.batch_id)
            INSERT INTO document_removals (tenant_id, document_id, object_key)
            SELECT @t, id, object_key FROM gone
            ON CONFLICT (tenant_id, document_id) DO NOTHING
            """, conn, tx))
        {
            replacedGone.Parameters.AddWithValue("t", tenantId);
            replacedGone.Parameters.AddWithValue("id", documentId);
            await replacedGone.ExecuteNonQueryAsync(ct);
        }

        await using (var done = new NpgsqlCommand(
            """
            UPDATE documents SET status = 'indexed', chunk_count = @c, error_code = NULL, error_message = NULL, updated_at = now()
            WHERE tenant_id = @t AND id = @id
            """, conn, tx))
        {
            done.Parameters.AddWithValue("t", tenantId);
            done.Parameters.AddWithValue("id", documentId);
            done.Parameters.AddWithValue("c", chunks.Count);
            await done.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>The heartbeat of a batch whose driver is alive; a queued batch becomes running.</summary>
    public async Task TouchBatchAsync(string tenantId, Guid batchId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE ingest_batches SET updated_at = now(), status = CASE WHEN status = 'queued' THEN 'running' ELSE status END
            WHERE tenant_id = @t AND id = @id AND finished_at IS NULL
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", batchId);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task<string?> GetBatchCallerAppAsync(string tenantId, Guid batchId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT caller_app FROM ingest_batches WHERE tenant_id = @t AND id = @id");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", batchId);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>
    /// Batches not finished whose driver has been silent for longer than the lease, across tenants: the sweep that
    /// resumes them is the platform's, not a tenant's read, and it only learns which batch grain to wake.
    /// </summary>
    public async Task<IReadOnlyList<(string TenantId, Guid BatchId)>> ListSilentBatchesAsync(TimeSpan lease, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT tenant_id, id FROM ingest_batches
            WHERE finished_at IS NULL AND status IN ('queued', 'running') AND updated_at < now() - make_interval(secs => @lease)
            ORDER BY updated_at LIMIT @limit
            """);
        cmd.Parameters.AddWithValue("lease", lease.TotalSeconds);
        cmd.Parameters.AddWithValue("limit", limit);
        var list = new List<(string, Guid)>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add((r.GetString(0), r.GetGuid(1)));
        }

        return list;
    }

    private static BatchDocumentRow ReadBatchDocument(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetString(4), r.GetInt32(5),
        r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7), r.GetInt32(8), r.GetDouble(9));
}
