using AuroraNexus.Grains.Ingestion;
using Npgsql;
using NpgsqlTypes;

namespace AuroraNexus.Grains.Storage;

public sealed record NewDocument(
    Guid Id, string FileName, string? ContentType, long SizeBytes, string Sha256, string ObjectKey,
    string Status, string? ErrorCode, string? ErrorMessage);

public sealed record DocumentRow(
    Guid Id, string CallerApp, Guid? BatchId, string FileName, long SizeBytes, string Status,
    string? ErrorCode, string? ErrorMessage, int ChunkCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public sealed record BatchRow(
    Guid Id, string CallerApp, string Status, int Total, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt,
    DateTimeOffset? FinishedAt, IReadOnlyList<DocumentRow> Documents);

/// <summary>A document a new version replaces (upload with replace=true): removed once <c>ReplacedBy</c> is indexed.</summary>
public sealed record ReplacedDocument(Guid Id, string FileName, string ObjectKey, Guid ReplacedBy);

public sealed record StoredChunk(int Index, string Text, int TokenCount, float[] Embedding);

/// <summary>What asking to index a document again found.</summary>
public enum ReindexVerdict
{
    /// <summary>Queued again in a batch of its own.</summary>
    Queued,

    /// <summary>No such document in the tenant.</summary>
    NotFound,

    /// <summary>Still queued or being indexed.</summary>
    InProgress,

    /// <summary>Its bytes were never kept (a duplicate, an empty file, an unsupported type): nothing to index again.</summary>
    NotStored,

    /// <summary>The same bytes are already live in the tenant as another document.</summary>
    SameContentLive,
}

/// <summary>The document as found (or as queued again); <c>Twin</c> is the live document with the same content.</summary>
public sealed record ReindexStart(ReindexVerdict Verdict, DocumentRow? Document, string? ObjectKey, Guid? Twin);

/// <summary>The columns a document list can be sorted by, as the API names them.</summary>
public static class DocumentSorts
{
    public static readonly IReadOnlyDictionary<string, string> Columns = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["created"] = "created_at",
        ["filename"] = "filename",
        ["status"] = "status",
        ["chunks"] = "chunk_count",
        ["size"] = "size_bytes",
        ["caller_app"] = "caller_app",
        ["error"] = "error_code",
    };
}

/// <summary>One page of a tenant's documents.</summary>
/// <param name="Search">Part of the file name, status, caller app or error code (case-insensitive), or null.</param>
/// <param name="Sort">One of <see cref="DocumentSorts.Columns"/>.</param>
public sealed record DocumentPageQuery(string? CallerApp, string? Search, string Sort, bool Descending, int Offset, int Limit);

/// <summary>The rows of one page and how many documents match in all.</summary>
public sealed record DocumentPage(IReadOnlyList<DocumentRow> Rows, int Total);

/// <summary>A tenant's documents counted by the database, without listing them.</summary>
public sealed record DocumentCounts(int Total, int Indexed, int Failed, long Chunks);

/// <summary>Documents, batches and chunks. Every statement filters by tenant.</summary>
public sealed partial class IngestionRepository(NpgsqlDataSource db)
{
    /// <summary>The document of this tenant with the same content that is indexed or on its way, if any.</summary>
    private const string LiveTwinSql =
        """
        SELECT id, filename FROM documents
        WHERE tenant_id = @t AND sha256 = @sha AND status IN ('indexed', 'queued', 'processing')
        ORDER BY created_at LIMIT 1
        """;

    /// <summary>
    /// Records a batch and its documents. Uploads of one tenant are serialised here, and content already live in the
    /// tenant (indexed or on its way) turns a queued document into a duplicate, so two simultaneous uploads of the same
    /// bytes are indexed once. Returns the documents as recorded.
    /// </summary>
    /// <param name="replace">
    /// The uploaded files are new versions: documents of the same caller app with the same file name, and documents with
    /// the same content, are recorded on the new document and listed in <paramref name="replaced"/>. They stay as they
    /// are until the new version is indexed, which removes them (<see cref="IndexDocumentAsync"/>); if it fails, they stay.
    /// </param>
    public async Task<IReadOnlyList<NewDocument>> CreateBatchAsync(
        string tenantId, string callerApp, Guid batchId, string createdBy, IReadOnlyList<NewDocument> documents,
        CancellationToken ct, bool replace = false, List<ReplacedDocument>? replaced = null)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('nexus-upload:' || @t))", conn, tx))
        {
            lockCmd.Parameters.AddWithValue("t", tenantId);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }

        var recorded = new List<NewDocument>(documents.Count);
        var replaces = new Dictionary<Guid, Guid[]>();
        foreach (var d in documents)
        {
            if (d.Status != DocumentStatuses.Queued)
            {
                recorded.Add(d);
                continue;
            }

            if (replace)
            {
                await using var older = new NpgsqlCommand(
                    """
                    SELECT id, filename, object_key FROM documents
                    WHERE tenant_id = @t AND ((caller_app = @app AND filename = @name) OR sha256 = @sha)
                    ORDER BY created_at, id
                    """, conn, tx);
                older.Parameters.AddWithValue("t", tenantId);
                older.Parameters.AddWithValue("app", callerApp);
                older.Parameters.AddWithValue("name", d.FileName);
                older.Parameters.AddWithValue("sha", d.Sha256);
                var ids = new List<Guid>();
                await using (var r = await older.ExecuteReaderAsync(ct))
                {
                    while (await r.ReadAsync(ct))
                    {
                        ids.Add(r.GetGuid(0));
                        replaced?.Add(new ReplacedDocument(r.GetGuid(0), r.GetString(1), r.GetString(2), d.Id));
                    }
                }

                replaces[d.Id] = [.. ids];
                recorded.Add(d);
                continue;
            }

            await using var find = new NpgsqlCommand(LiveTwinSql, conn, tx);
            find.Parameters.AddWithValue("t", tenantId);
            find.Parameters.AddWithValue("sha", d.Sha256);
            (Guid Id, string FileName)? twin = null;
            await using (var r = await find.ExecuteReaderAsync(ct))
            {
                if (await r.ReadAsync(ct))
                {
                    twin = (r.GetGuid(0), r.GetString(1));
                }
            }

            recorded.Add(twin is { } t
                ? d with { Status = DocumentStatuses.Duplicate, ErrorCode = "duplicate", ErrorMessage = DuplicateMessage(t.Id, t.FileName) }
                : d);
        }

        documents = recorded;
        await using (var cmd = new NpgsqlCommand(
            """
            INSERT INTO caller_apps (tenant_id, name) VALUES (@t, @app) ON CONFLICT DO NOTHING;
            INSERT INTO ingest_batches (id, tenant_id, caller_app, status, total, created_by)
            VALUES (@id, @t, @app, @status, @total, @by);
            """, conn, tx))
        {
            cmd.Parameters.AddWithValue("t", tenantId);
            cmd.Parameters.AddWithValue("app", callerApp);
            cmd.Parameters.AddWithValue("id", batchId);
            cmd.Parameters.AddWithValue("status", BatchStatuses.Queued);
            cmd.Parameters.AddWithValue("total", documents.Count);
            cmd.Parameters.AddWithValue("by", createdBy);
            await cmd.ExecuteNonQueryAsync(ct);
        }

        foreach (var d in documents)
        {
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO documents (id, tenant_id, caller_app, batch_id, filename, content_type, size_bytes, sha256,
                                       object_key, status, error_code, error_message, replaces)
                VALUES (@id, @t, @app, @batch, @name, @ctype, @size, @sha, @key, @status, @code, @msg, @replaces)
                """, conn, tx);
            cmd.Parameters.AddWithValue("replaces", replaces.GetValueOrDefault(d.Id) ?? []);
            cmd.Parameters.AddWithValue("id", d.Id);
            cmd.Parameters.AddWithValue("t", tenantId);
            cmd.Parameters.AddWithValue("app", callerApp);
            cmd.Parameters.AddWithValue("batch", batchId);
            cmd.Parameters.AddWithValue("name", d.FileName);
            cmd.Parameters.AddWithValue("ctype", (object?)d.ContentType ?? DBNull.Value);
            cmd.Parameters.AddWithValue("size", d.SizeBytes);
            cmd.Parameters.AddWithValue("sha", d.Sha256);
            cmd.Parameters.AddWithValue("key", d.ObjectKey);
            cmd.Parameters.AddWithValue("status", d.Status);
            cmd.Parameters.AddWithValue("code", (object?)d.ErrorCode ?? DBNull.Value);
            cmd.Parameters.AddWithValue("msg", (object?)d.ErrorMessage ?? DBNull.Value);
            await cmd.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return recorded;
    }

    /// <summary>The id of an indexed or in-flight document of this tenant with the same content, if any.</summary>
    /// <summary>The document of the tenant with these bytes that is indexed or on its way, if any.</summary>
    public async Task<(Guid Id, string FileName)?> FindSameContentAsync(string tenantId, string sha256, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(LiveTwinSql);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("sha", sha256);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? (r.GetGuid(0), r.GetString(1)) : null;
    }

    /// <summary>Why a document is a duplicate: the document that has its content, and how to index it anyway.</summary>
    public static string DuplicateMessage(Guid existing, string fileName) =>
        $"Same content as document {existing} ({fileName}) already in your tenant; it was not indexed twice. " +
        "Upload with replace=true to index it again as a new version.";

    public async Task SetDocumentStateAsync(
        string tenantId, Guid documentId, string status, int chunkCount, string? errorCode, string? errorMessage,
        int attempts, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE documents SET status = @s, chunk_count = @c, error_code = @code, error_message = @msg,
                                 attempts = @a, updated_at = now()
            WHERE tenant_id = @t AND id = @id
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", documentId);
        cmd.Parameters.AddWithValue("s", status);
        cmd.Parameters.AddWithValue("c", chunkCount);
        cmd.Parameters.AddWithValue("code", (object?)errorCode ?? DBNull.Value);
        cmd.Parameters.AddWithValue("msg", (object?)errorMessage ?? DBNull.Value);
        cmd.Parameters.AddWithValue("a", attempts);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task SetBatchStatusAsync(string tenantId, Guid batchId, string status, bool finished, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            UPDATE ingest_batches SET status = @s, updated_at = now(),
                   finished_at = CASE WHEN @f THEN now() ELSE finished_at END
            WHERE tenant_id = @t AND id = @id
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", batchId);
        cmd.Parameters.AddWithValue("s", status);
        cmd.Parameters.AddWithValue("f", finished);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    public async Task DeleteChunksAsync(string tenantId, Guid documentId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("DELETE FROM chunks WHERE tenant_id = @t AND document_id = @d");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("d", documentId);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Replaces the chunks of a document in one transaction and returns their new ids, in order.</summary>
    public async Task<long[]> ReplaceChunksAsync(
        string tenantId, Guid documentId, string model, IReadOnlyList<StoredChunk> chunks, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var del = new NpgsqlCommand("DELETE FROM chunks WHERE tenant_id = @t AND document_id = @d", conn, tx))
        {
            del.Parameters.AddWithValue("t", tenantId);
            del.Parameters.AddWithValue("d", documentId);
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
                    VALUES (@t, @d, @i, @txt, @tok, @m, @emb) RETURNING id
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

        await tx.CommitAsync(ct);
        return ids;
    }

    public async Task<BatchRow?> GetBatchAsync(string tenantId, Guid batchId, CancellationToken ct)
    {
        var batches = await ListBatchesAsync(tenantId, batchId, 1, ct);
        return batches.Count == 0 ? null : batches[0];
    }

    public async Task<IReadOnlyList<BatchRow>> ListBatchesAsync(string tenantId, Guid? batchId, int limit, CancellationToken ct)
    {
        var rows = new List<(Guid Id, string App, string Status, int Total, DateTimeOffset C, DateTimeOffset U, DateTimeOffset? F)>();
        await using (var cmd = db.CreateCommand(
            """
            SELECT id, caller_app, status, total, created_at, updated_at, finished_at FROM ingest_batches
            WHERE tenant_id = @t AND (@id::uuid IS NULL OR id = @id)
            ORDER BY created_at DESC LIMIT @limit
            """))
        {
            cmd.Parameters.AddWithValue("t", tenantId);
            cmd.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = (object?)batchId ?? DBNull.Value });
            cmd.Parameters.AddWithValue("limit", limit);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                rows.Add((r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetInt32(3),
                    r.GetFieldValue<DateTimeOffset>(4), r.GetFieldValue<DateTimeOffset>(5),
                    r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6)));
            }
        }

        // The documents of all the listed batches in one query, not one query per batch.
        var byBatch = new Dictionary<Guid, List<DocumentRow>>();
        if (rows.Count > 0)
        {
            await using var cmd = db.CreateCommand(
                $"SELECT {DocumentColumns} FROM documents WHERE tenant_id = @t AND batch_id = ANY(@ids) ORDER BY created_at DESC, filename");
            cmd.Parameters.AddWithValue("t", tenantId);
            cmd.Parameters.AddWithValue("ids", rows.Select(b => b.Id).ToArray());
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                var d = ReadDocument(r);
                if (!byBatch.TryGetValue(d.BatchId!.Value, out var list))
                {
                    byBatch[d.BatchId.Value] = list = [];
                }

                list.Add(d);
            }
        }

        return [.. rows.Select(b => new BatchRow(b.Id, b.App, b.Status, b.Total, b.C, b.U, b.F,
            byBatch.TryGetValue(b.Id, out var docs) ? docs : []))];
    }

    public async Task<IReadOnlyList<DocumentRow>> ListDocumentsAsync(
        string tenantId, string? callerApp, Guid? batchId, Guid? documentId, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            $"""
            SELECT {DocumentColumns}
            FROM documents
            WHERE tenant_id = @t
              AND (@app::text IS NULL OR caller_app = @app)
              AND (@batch::uuid IS NULL OR batch_id = @batch)
              AND (@id::uuid IS NULL OR id = @id)
            ORDER BY created_at DESC, filename LIMIT @limit
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.Add(new NpgsqlParameter("app", NpgsqlDbType.Text) { Value = (object?)callerApp ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("batch", NpgsqlDbType.Uuid) { Value = (object?)batchId ?? DBNull.Value });
        cmd.Parameters.Add(new NpgsqlParameter("id", NpgsqlDbType.Uuid) { Value = (object?)documentId ?? DBNull.Value });
        cmd.Parameters.AddWithValue("limit", limit);
        var list = new List<DocumentRow>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(ReadDocument(r));
        }

        return list;
    }

    private const string DocumentColumns =
        """
        id, caller_app, batch_id, filename, size_bytes, status, error_code, error_message, chunk_count, created_at, updated_at
        """;

    private const string PageFilter =
        """
        WHERE tenant_id = @t
          AND (@app::text IS NULL OR caller_app = @app)
          AND (@q::text IS NULL OR filename ILIKE @q OR status ILIKE @q OR caller_app ILIKE @q OR error_code ILIKE @q)
        """;

    /// <summary>
    /// One page of the tenant's documents, sorted and filtered in the database, and the number that match: a list of
    /// thousands of documents costs one page of rows, not all of them. Ties (the documents of one upload share their
    /// creation time) go by file name.
    /// </summary>
    public async Task<DocumentPage> ListDocumentPageAsync(string tenantId, DocumentPageQuery query, CancellationToken ct)
    {
        var column = DocumentSorts.Columns.TryGetValue(query.Sort, out var c)
            ? c
            : throw new ArgumentException($"unknown sort '{query.Sort}'", nameof(query));
        var direction = query.Descending ? "DESC" : "ASC";
        var pattern = string.IsNullOrWhiteSpace(query.Search)
            ? null
            : "%" + query.Search.Trim().Replace(@"\", @"\\", StringComparison.Ordinal).Replace("%", @"\%", StringComparison.Ordinal)
                .Replace("_", @"\_", StringComparison.Ordinal) + "%";
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var batch = new NpgsqlBatch(conn);
        var rows = new NpgsqlBatchCommand(
            $"SELECT {DocumentColumns} FROM documents {PageFilter} ORDER BY {column} {direction}, filename, id OFFSET @offset LIMIT @limit");
        var count = new NpgsqlBatchCommand($"SELECT count(*)::int FROM documents {PageFilter}");
        foreach (var cmd in new[] { rows, count })
        {
            cmd.Parameters.AddWithValue("t", tenantId);
            cmd.Parameters.Add(new NpgsqlParameter("app", NpgsqlDbType.Text) { Value = (object?)query.CallerApp ?? DBNull.Value });
            cmd.Parameters.Add(new NpgsqlParameter("q", NpgsqlDbType.Text) { Value = (object?)pattern ?? DBNull.Value });
            batch.BatchCommands.Add(cmd);
        }

        rows.Parameters.AddWithValue("offset", Math.Max(0, query.Offset));
        rows.Parameters.AddWithValue("limit", Math.Max(0, query.Limit));
        var list = new List<DocumentRow>();
        await using var r = await batch.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(ReadDocument(r));
        }

        await r.NextResultAsync(ct);
        await r.ReadAsync(ct);
        return new DocumentPage(list, r.GetInt32(0));
    }

    /// <summary>The tenant's documents counted: all, indexed, failed, and their chunks.</summary>
    public async Task<DocumentCounts> CountDocumentsAsync(string tenantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT count(*)::int, (count(*) FILTER (WHERE status = 'indexed'))::int, (count(*) FILTER (WHERE status = 'failed'))::int,
                   coalesce(sum(chunk_count), 0)::bigint
            FROM documents WHERE tenant_id = @t
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return new DocumentCounts(r.GetInt32(0), r.GetInt32(1), r.GetInt32(2), r.GetInt64(3));
    }

    /// <summary>The tenant's ingestion batches: still running (queued or running), and all.</summary>
    public async Task<(int Active, int Total)> CountBatchesAsync(string tenantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT (count(*) FILTER (WHERE status IN ('queued', 'running')))::int, count(*)::int
            FROM ingest_batches WHERE tenant_id = @t
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return (r.GetInt32(0), r.GetInt32(1));
    }

    /// <summary>
    /// Queues a document of the tenant for indexing again from its stored file, in a new batch of its own
    /// (<paramref name="batchId"/>): its old batch counts one document less, its attempts start again, its error is
    /// cleared. Its chunks stay until the new attempt replaces them. Refused while it is queued or being indexed, when
    /// its bytes were never kept, and when the same content is live as another document (it would be indexed twice).
    /// </summary>
    public async Task<ReindexStart> ReindexDocumentAsync(string tenantId, Guid documentId, Guid batchId, string createdBy, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Serialised with uploads, whose duplicate check counts this document once it is queued.
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext('nexus-upload:' || @t))", conn, tx))
        {
            lockCmd.Parameters.AddWithValue("t", tenantId);
            await lockCmd.ExecuteNonQueryAsync(ct);
        }

        DocumentRow document;
        string objectKey;
        string? sha256;
        await using (var find = new NpgsqlCommand(
            $"SELECT {DocumentColumns}, object_key, sha256 FROM documents WHERE tenant_id = @t AND id = @id FOR UPDATE", conn, tx))
        {
            find.Parameters.AddWithValue("t", tenantId);
            find.Parameters.AddWithValue("id", documentId);
            await using var r = await find.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct))
            {
                return new ReindexStart(ReindexVerdict.NotFound, null, null, null);
            }

            document = ReadDocument(r);
            objectKey = r.GetString(11);
            sha256 = r.IsDBNull(12) ? null : r.GetString(12);
        }

        if (document.Status is DocumentStatuses.Queued or DocumentStatuses.Processing)
        {
            return new ReindexStart(ReindexVerdict.InProgress, document, objectKey, null);
        }

        if (document.Status == DocumentStatuses.Duplicate || string.IsNullOrEmpty(sha256))
        {
            return new ReindexStart(ReindexVerdict.NotStored, document, objectKey, null);
        }

        await using (var twin = new NpgsqlCommand(
            """
            SELECT id FROM documents
            WHERE tenant_id = @t AND sha256 = @sha AND id <> @id AND status IN ('indexed', 'queued', 'processing')
            ORDER BY created_at LIMIT 1
            """, conn, tx))
        {
            twin.Parameters.AddWithValue("t", tenantId);
            twin.Parameters.AddWithValue("sha", sha256);
            twin.Parameters.AddWithValue("id", documentId);
            if (await twin.ExecuteScalarAsync(ct) is Guid live)
            {
                return new ReindexStart(ReindexVerdict.SameContentLive, document, objectKey, live);
            }
        }

        // Attempts count from zero again: an attempt of an earlier run still alive could only index these same bytes.
        await using (var queue = new NpgsqlCommand(
            """
            INSERT INTO ingest_batches (id, tenant_id, caller_app, status, total, created_by)
            VALUES (@batch, @t, @app, 'queued', 1, @by);
            UPDATE ingest_batches SET total = total - 1 WHERE tenant_id = @t AND id = @old;
            UPDATE documents SET batch_id = @batch, status = 'queued', attempts = 0, error_code = NULL, error_message = NULL,
                                 updated_at = now()
            WHERE tenant_id = @t AND id = @id;
            """, conn, tx))
        {
            queue.Parameters.AddWithValue("t", tenantId);
            queue.Parameters.AddWithValue("id", documentId);
            queue.Parameters.AddWithValue("batch", batchId);
            queue.Parameters.AddWithValue("app", document.CallerApp);
            queue.Parameters.AddWithValue("by", createdBy);
            queue.Parameters.Add(new NpgsqlParameter("old", NpgsqlDbType.Uuid) { Value = (object?)document.BatchId ?? DBNull.Value });
            await queue.ExecuteNonQueryAsync(ct);
        }

        await tx.CommitAsync(ct);
        return new ReindexStart(ReindexVerdict.Queued,
            document with { BatchId = batchId, Status = DocumentStatuses.Queued, ErrorCode = null, ErrorMessage = null },
            objectKey, null);
    }

    private static DocumentRow ReadDocument(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetGuid(2), r.GetString(3), r.GetInt64(4),
        r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7),
        r.GetInt32(8), r.GetFieldValue<DateTimeOffset>(9), r.GetFieldValue<DateTimeOffset>(10));

    /// <summary>
    /// Deletes a document row (its chunks cascade) and returns its object key, or null when not this tenant's. Its batch
    /// counts one document less. An attempt writing the document's chunks holds its row: the deletion waits for it,
    /// and any later write of that attempt finds no row and writes nothing.
    /// </summary>
    public async Task<string?> DeleteDocumentAsync(string tenantId, Guid documentId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            WITH gone AS (DELETE FROM documents WHERE tenant_id = @t AND id = @id RETURNING object_key, batch_id),
                 counted AS (UPDATE ingest_batches b SET total = b.total - 1 FROM gone
                             WHERE b.tenant_id = @t AND b.id = gone.batch_id RETURNING b.id)
            SELECT object_key FROM gone
            """);
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("id", documentId);
        return await cmd.ExecuteScalarAsync(ct) as string;
    }

    /// <summary>Documents of the tenant removed as replaced versions whose vectors and stored file are still to be removed.</summary>
    public async Task<IReadOnlyList<(Guid DocumentId, string ObjectKey)>> ListRemovalsAsync(string tenantId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "SELECT document_id, object_key FROM document_removals WHERE tenant_id = @t ORDER BY created_at, document_id");
        cmd.Parameters.AddWithValue("t", tenantId);
        var list = new List<(Guid, string)>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add((r.GetGuid(0), r.GetString(1)));
        }

        return list;
    }

    /// <summary>The vectors and file of a replaced version are gone: nothing of it is left to remove.</summary>
    public async Task CompleteRemovalAsync(string tenantId, Guid documentId, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("DELETE FROM document_removals WHERE tenant_id = @t AND document_id = @d");
        cmd.Parameters.AddWithValue("t", tenantId);
        cmd.Parameters.AddWithValue("d", documentId);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Tenants with removals left for longer than <paramref name="age"/> (the silo that indexed the new version died
    /// before finishing them), across tenants: the sweep's, which only learns whose removals to finish.
    /// </summary>
    public async Task<IReadOnlyList<string>> ListTenantsWithStaleRemovalsAsync(TimeSpan age, int limit, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            """
            SELECT tenant_id FROM document_removals WHERE created_at < now() - make_interval(secs => @age)
            GROUP BY tenant_id ORDER BY min(created_at) LIMIT @limit
            """);
        cmd.Parameters.AddWithValue("age", age.TotalSeconds);
        cmd.Parameters.AddWithValue("limit", limit);
        var list = new List<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(r.GetString(0));
        }

        return list;
    }
}
