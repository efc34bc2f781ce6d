using System.Collections.Immutable;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

public sealed record DocumentBody(
    Guid Id, string Filename, string CallerApp, Guid? BatchId, string Status, string? ErrorCode, string? Error, int Chunks,
    long SizeBytes, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

/// <summary>What a document list asks for: the API's query string, the backoffice table's state.</summary>
/// <param name="Sort">created (default), filename, status, chunks, size, caller_app or error.</param>
/// <param name="Order">asc or desc (default desc for created, asc otherwise).</param>
public sealed record DocumentListRequest(string? CallerApp, string? Search, string? Sort, string? Order, int? Offset, int? Limit);

/// <param name="Total">How many documents match, over all pages.</param>
public sealed record DocumentListBody(int Total, ImmutableArray<DocumentBody> Documents);

public static class DocumentsApi
{
    public static void MapDocumentsApi(this WebApplication app)
    {
        app.MapGet("/api/documents", static async Task<Results<Ok<ImmutableArray<DocumentBody>>, ProblemHttpResult>> (
            HttpContext http, IngestionRepository repo, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "caller_app")] string? callerApp,
            string? q, string? sort, string? order, int? offset, int? limit, CancellationToken ct) =>
        {
            var result = await ListAsync(Caller.From(http.User).TenantId, new DocumentListRequest(callerApp, q, sort, order, offset, limit), repo, ct);
            if (result.Result is not Ok<DocumentListBody> { Value: { } list })
            {
                return (ProblemHttpResult)result.Result;
            }

            // The array stays the body (as before paging existed); how many match in all is a header.
            http.Response.Headers["X-Total-Count"] = list.Total.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Ok(list.Documents);
        }).RequireAuthorization();

        app.MapGet("/api/documents/{id:guid}", static async Task<Results<Ok<DocumentBody>, ProblemHttpResult>> (
            Guid id, HttpContext http, IngestionRepository repo, CancellationToken ct) =>
        {
            var caller = Caller.From(http.User);
            var docs = await repo.ListDocumentsAsync(caller.TenantId, null, null, id, 1, ct);
            return docs.Count == 1
                ? TypedResults.Ok(ToBody(docs[0]))
                : Problems.Create(404, "document_not_found", $"No document {id} in your tenant.");
        }).RequireAuthorization();

        app.MapDelete("/api/documents/{id:guid}", static (
            Guid id, HttpContext http, IngestionRepository repo, IObjectStore objects, IVectorStore vectors, IGrainFactory grains,
            CancellationToken ct) =>
            DeleteAsync(Caller.From(http.User).TenantId, id, repo, objects, vectors, grains, ct)).RequireAuthorization();

        app.MapPost("/api/documents/{id:guid}/reindex", static (
            Guid id, HttpContext http, IngestionRepository repo, IGrainFactory grains, CancellationToken ct) =>
            ReindexAsync(Caller.From(http.User), id, repo, grains, ct)).RequireAuthorization();
    }

    /// <summary>
    /// A page of the tenant's documents, sorted and searched in the database (the API's list and the backoffice's table).
    /// </summary>
    public static async Task<Results<Ok<DocumentListBody>, ProblemHttpResult>> ListAsync(
        string tenantId, DocumentListRequest request, IngestionRepository repo, CancellationToken ct)
    {
        var sort = string.IsNullOrWhiteSpace(request.Sort) ? "created" : request.Sort.Trim();
        if (!DocumentSorts.Columns.ContainsKey(sort))
        {
            return Problems.Create(400, "invalid_sort",
                $"sort '{sort}' is not one of {string.Join(", ", DocumentSorts.Columns.Keys.Order(StringComparer.Ordinal))}.");
        }

        var order = string.IsNullOrWhiteSpace(request.Order) ? (sort == "created" ? "desc" : "asc") : request.Order.Trim().ToLowerInvariant();
        if (order is not ("asc" or "desc"))
        {
            return Problems.Create(400, "invalid_sort", $"order '{request.Order}' is neither asc nor desc.");
        }

        if (request.Offset is < 0)
        {
            return Problems.Create(400, "invalid_paging", "offset must be 0 or more.");
        }

        if (request.Limit is < 1 or > 10_000)
        {
            return Problems.Create(400, "invalid_paging", $"limit must be from 1 to 10000 (got {request.Limit}); leave it out for 1000.");
        }

        if (request.Search is { Length: > 200 })
        {
            return Problems.Create(400, "invalid_search", "q must be at most 200 characters.");
        }

        var page = await repo.ListDocumentPageAsync(tenantId,
            new DocumentPageQuery(string.IsNullOrWhiteSpace(request.CallerApp) ? null : request.CallerApp, request.Search, sort,
                order == "desc", request.Offset ?? 0, request.Limit ?? 1000), ct);
        return TypedResults.Ok(new DocumentListBody(page.Total, [.. page.Rows.Select(ToBody)]));
    }

    /// <summary>
    /// Indexes a document of the tenant again from its stored file, through the ingestion path of uploads: a batch of its
    /// own, chunks and vectors replaced by the new attempt, cached answers dropped (the document is out of the answers
    /// until it is indexed again). The API's and the backoffice's path.
    /// </summary>
    public static async Task<Results<Accepted<IngestAccepted>, ProblemHttpResult>> ReindexAsync(
        Caller caller, Guid id, IngestionRepository repo, IGrainFactory grains, CancellationToken ct)
    {
        var batchId = Guid.NewGuid();
        var start = await repo.ReindexDocumentAsync(caller.TenantId, id, batchId, caller.UserId, ct);
        var d = start.Document;
        switch (start.Verdict)
        {
            case ReindexVerdict.NotFound:
                return Problems.Create(404, "document_not_found", $"No document {id} in your tenant.");
            case ReindexVerdict.InProgress:
                return Problems.Create(409, "document_in_progress",
                    $"Document {id} ({d!.FileName}) is {d.Status}: it is still being indexed in batch {d.BatchId}. Wait until that batch ends (GET /api/ingest/batches/{d.BatchId}), then index it again.");
            case ReindexVerdict.NotStored:
                return Problems.Create(409, "document_not_stored",
                    $"Document {id} ({d!.FileName}) ended {d.Status}{(d.ErrorCode is null ? "" : $" ({d.ErrorCode})")} and its file was not kept, so there is nothing to index again. Upload the file again (with replace=true to replace this record).");
            case ReindexVerdict.SameContentLive:
                return Problems.Create(409, "duplicate",
                    $"Document {id} ({d!.FileName}) has the same content as document {start.Twin}, which is already indexed or on its way in your tenant; indexing it again would index it twice. Delete one of them, or re-index document {start.Twin}.");
        }

        // Out of the answers until indexed again: no cached answer may keep citing it meanwhile.
        await grains.GetGrain<AuroraNexus.Grains.Conversation.IAnswerCacheGrain>(caller.TenantId).InvalidateAsync(ct);
        await grains.GetGrain<IIngestionBatchGrain>(batchId).StartAsync(new BatchPlan(caller.TenantId, d!.CallerApp,
            [new PlannedDocument(d.Id, d.FileName, start.ObjectKey!, d.SizeBytes, DocumentStatuses.Queued, null)]), ct);
        return TypedResults.Accepted($"/api/ingest/batches/{batchId}", new IngestAccepted(batchId, BatchStatuses.Running,
            [new AcceptedDocument(d.Id, d.FileName, DocumentStatuses.Queued, null, null, [])]));
    }

    /// <summary>Deletes a document of the tenant: its row and chunks, its vectors, the answers citing it, its file.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteAsync(
        string tenantId, Guid id, IngestionRepository repo, IObjectStore objects, IVectorStore vectors, IGrainFactory grains,
        CancellationToken ct)
    {
        var key = await repo.DeleteDocumentAsync(tenantId, id, ct);
        if (key is null)
        {
            return Problems.Create(404, "document_not_found", $"No document {id} in your tenant.");
        }

        await vectors.DeleteDocumentAsync(tenantId, id, ct);
        // No cached answer may cite a deleted document.
        await grains.GetGrain<AuroraNexus.Grains.Conversation.IAnswerCacheGrain>(tenantId).InvalidateAsync(ct);
        await objects.DeleteAsync(key, ct);
        return TypedResults.NoContent();
    }

    public static DocumentBody ToBody(DocumentRow d) => new(
        d.Id, d.FileName, d.CallerApp, d.BatchId, d.Status, d.ErrorCode, d.ErrorMessage, d.ChunkCount, d.SizeBytes,
        d.CreatedAt, d.UpdatedAt);
}
