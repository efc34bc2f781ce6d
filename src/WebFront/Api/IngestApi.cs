using System.Collections.Immutable;
using System.Security.Cryptography;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AuroraNexus.WebFront.Api;

public sealed record AcceptedDocument(Guid Id, string Filename, string Status, string? ErrorCode, string? Error);

public sealed record IngestAccepted(Guid BatchId, string Status, ImmutableArray<AcceptedDocument> Documents);

public sealed record BatchDocumentBody(Guid Id, string Filename, string Status, string? ErrorCode, string? Error, int Chunks);

public sealed record BatchBody(
    Guid BatchId, string CallerApp, string Status, int Total, int Indexed, int Duplicate, int Failed, int Pending,
    DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, ImmutableArray<BatchDocumentBody> Documents);

public static class IngestApi
{
    public static readonly ImmutableHashSet<string> SupportedExtensions =
        ImmutableHashSet.Create(StringComparer.OrdinalIgnoreCase, ".txt", ".md", ".markdown", ".html", ".htm");

    public static void MapIngestApi(this WebApplication app)
    {
        app.MapPost("/api/ingest", UploadAsync).RequireAuthorization().DisableAntiforgery();
        app.MapGet("/api/ingest/batches", static async (HttpContext http, IngestionRepository repo, int? limit, CancellationToken ct) =>
        {
            var caller = Caller.From(http.User);
            var batches = await repo.ListBatchesAsync(caller.TenantId, null, Math.Clamp(limit ?? 50, 1, 500), ct);
            return TypedResults.Ok(batches.Select(ToBody).ToImmutableArray());
        }).RequireAuthorization();
        app.MapGet("/api/ingest/batches/{id:guid}", static async Task<Results<Ok<BatchBody>, ProblemHttpResult>> (
            Guid id, HttpContext http, IngestionRepository repo, CancellationToken ct) =>
        {
            var caller = Caller.From(http.User);
            return await repo.GetBatchAsync(caller.TenantId, id, ct) is { } batch
                ? TypedResults.Ok(ToBody(batch))
                : Problems.Create(404, "batch_not_found", $"No ingestion batch {id} in your tenant.");
        }).RequireAuthorization();
    }

    private static async Task<Results<Accepted<IngestAccepted>, ProblemHttpResult>> UploadAsync(
        HttpContext http, IngestionRepository repo, IObjectStore objects, IGrainFactory grains, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        if (!http.Request.HasFormContentType)
        {
            return Problems.Create(415, "multipart_required",
                "Send multipart/form-data with one or more `files` fields and a `caller_app` field.");
        }

        IFormCollection form;
        try
        {
            form = await http.Request.ReadFormAsync(ct);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException && !ct.IsCancellationRequested)
        {
            return Problems.Create(400, "malformed_multipart",
                "The multipart body could not be read (missing boundary, bad part header or truncated body); let your HTTP client build it, e.g. curl -F files=@doc.txt -F caller_app=intranet.");
        }

        var callerApp = form["caller_app"].ToString().Trim();
        return await IngestFilesAsync(caller, callerApp, form.Files.GetFiles("files"), repo, objects, grains,
            http.RequestServices.GetRequiredService<UserRepository>(), ct);
    }

    /// <summary>Stores the files, records one batch of them and starts it: the upload path of the API and the backoffice.</summary>
    public static async Task<Results<Accepted<IngestAccepted>, ProblemHttpResult>> IngestFilesAsync(
        Caller caller, string callerApp, IReadOnlyList<IFormFile> files, IngestionRepository repo, IObjectStore objects,
        IGrainFactory grains, UserRepository users, CancellationToken ct)
    {
        if (Caller.ValidateCallerApp(callerApp) is { } appError)
        {
            return Problems.Create(400, "caller_app_required", appError);
        }

        if (files.Count == 0)
        {
            return Problems.Create(400, "no_files", "Attach at least one file in the multipart field `files`.");
        }

        // A caller app is registered the first time it sends documents; admins see and manage it under caller-apps.
        await users.RegisterCallerAppAsync(caller.TenantId, callerApp, ct);

        var batchId = Guid.NewGuid();
        var documents = new List<NewDocument>(files.Count);
        foreach (var file in files)
        {
            documents.Add(await StoreAsync(caller.TenantId, file, repo, objects, documents, ct));
        }

        var recorded = await repo.CreateBatchAsync(caller.TenantId, callerApp, batchId, caller.UserId, documents, ct);
        foreach (var twin in recorded.Where(d => d.Status == DocumentStatuses.Duplicate && documents.Any(x => x.Id == d.Id && x.Status == DocumentStatuses.Queued)))
        {
            // Stored before a concurrent upload of the same bytes won the race: the copy is not needed.
            await objects.DeleteAsync(twin.ObjectKey, ct);
        }

        documents = [.. recorded];
        var plan = new BatchPlan(caller.TenantId, callerApp, [.. documents.Select(d =>
            new PlannedDocument(d.Id, d.FileName, d.ObjectKey, d.SizeBytes, d.Status, d.ErrorCode))]);
        await grains.GetGrain<IIngestionBatchGrain>(batchId).StartAsync(plan, ct);
        var body = new IngestAccepted(batchId, BatchStatuses.Running,
            [.. documents.Select(d => new AcceptedDocument(d.Id, d.FileName, d.Status, d.ErrorCode, d.ErrorMessage))]);
        return TypedResults.Accepted($"/api/ingest/batches/{batchId}", body);
    }

    private static async Task<NewDocument> StoreAsync(
        string tenantId, IFormFile file, IngestionRepository repo, IObjectStore objects, List<NewDocument> earlier,
        CancellationToken ct)
    {
        var id = Guid.NewGuid();
        var name = SafeFileName(file.FileName);

        var key = $"{tenantId}/{id:N}";
        var extension = Path.GetExtension(name);
        if (!SupportedExtensions.Contains(extension))
        {
            return new NewDocument(id, name, file.ContentType, file.Length, "", key, DocumentStatuses.Failed, "unsupported_type",
                $"'{extension}' files are not supported yet; supported: {string.Join(", ", SupportedExtensions.Order())}.");
        }

        if (file.Length == 0)
        {
            return new NewDocument(id, name, file.ContentType, 0, "", key, DocumentStatuses.Failed, "empty_file",
                "The file is empty (0 bytes); upload it again with its content.");
        }

        string sha;
        await using (var source = file.OpenReadStream())
        {
            sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(source, ct));
        }

        var twin = earlier.FirstOrDefault(d => d.Sha256 == sha && d.Status == DocumentStatuses.Queued)?.Id
            ?? await repo.FindSameContentAsync(tenantId, sha, ct);
        if (twin is { } existing)
        {
            return new NewDocument(id, name, file.ContentType, file.Length, sha, key, DocumentStatuses.Duplicate, "duplicate",
                $"Same content as document {existing} already in your tenant; it was not indexed twice.");
        }

        await using (var content = file.OpenReadStream())
        {
            await objects.PutAsync(key, content, ct);
        }

        return new NewDocument(id, name, file.ContentType, file.Length, sha, key, DocumentStatuses.Queued, null, null);
    }

    /// <summary>The base name, without control or bidirectional-override characters, at most 255 characters.</summary>
    public static string SafeFileName(string raw)
    {
        var name = Path.GetFileName(raw.Replace('\\', '/'));
        name = new string([.. name.Where(c => !char.IsControl(c) && c is not ('\u202A' or '\u202B' or '\u202C' or '\u202D' or '\u202E' or '\u2066' or '\u2067' or '\u2068' or '\u2069'))]).Trim();
        if (name.Length > 255)
        {
            var extension = Path.GetExtension(name);
            name = name[..(255 - Math.Min(extension.Length, 20))] + extension[..Math.Min(extension.Length, 20)];
        }

        return string.IsNullOrWhiteSpace(name) ? "unnamed" : name;
    }

    public static BatchBody ToBody(BatchRow b)
    {
        var indexed = b.Documents.Count(d => d.Status == DocumentStatuses.Indexed);
        var duplicate = b.Documents.Count(d => d.Status == DocumentStatuses.Duplicate);
        var failed = b.Documents.Count(d => d.Status == DocumentStatuses.Failed);
        return new BatchBody(b.Id, b.CallerApp, b.Status, b.Total, indexed, duplicate, failed,
            b.Total - indexed - duplicate - failed, b.CreatedAt, b.FinishedAt,
            [.. b.Documents.OrderBy(d => d.FileName, StringComparer.Ordinal).Select(d =>
                new BatchDocumentBody(d.Id, d.FileName, d.Status, d.ErrorCode, d.ErrorMessage, d.ChunkCount))]);
    }
}
