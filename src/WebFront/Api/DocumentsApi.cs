using System.Collections.Immutable;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

public sealed record DocumentBody(
    Guid Id, string Filename, string CallerApp, Guid? BatchId, string Status, string? ErrorCode, string? Error, int Chunks,
    long SizeBytes, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

public static class DocumentsApi
{
    public static void MapDocumentsApi(this WebApplication app)
    {
        app.MapGet("/api/documents", static async (
            HttpContext http, IngestionRepository repo, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "caller_app")] string? callerApp, int? limit,
            CancellationToken ct) =>
        {
            var caller = Caller.From(http.User);
            var docs = await repo.ListDocumentsAsync(caller.TenantId, callerApp, null, null, Math.Clamp(limit ?? 1000, 1, 10_000), ct);
            return TypedResults.Ok(docs.Select(ToBody).ToImmutableArray());
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
