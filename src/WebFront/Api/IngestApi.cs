using System.Collections.Immutable;
using AuroraNexus.Grains.Hosting;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Operations;
using AuroraNexus.Grains.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AuroraNexus.WebFront.Api;

/// <param name="Replaced">
/// The documents this upload replaces (replace=true): they stay searchable until it is indexed, then go with their
/// chunks, vectors and files; if it fails, they stay.
/// </param>
public sealed record AcceptedDocument(Guid Id, string Filename, string Status, string? ErrorCode, string? Error, ImmutableArray<Guid> Replaced);

/// <summary>A file the backoffice uploads: its name, its type, and how to read it once (from the browser, as it arrives).</summary>
public sealed record UploadSource(string FileName, string? ContentType, Func<CancellationToken, Stream> Open);

public sealed record IngestAccepted(Guid BatchId, string Status, ImmutableArray<AcceptedDocument> Documents);

public sealed record BatchDocumentBody(Guid Id, string Filename, string Status, string? ErrorCode, string? Error, int Chunks);

public sealed record BatchBody(
    Guid BatchId, string CallerApp, string Status, int Total, int Indexed, int Duplicate, int Failed, int Pending,
    DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, ImmutableArray<BatchDocumentBody> Documents);

/// <summary>One <c>progress</c> event of a batch's event stream: the document that changed and the batch counters after it.</summary>
public sealed record BatchProgressEvent(
    Guid BatchId, string Status, int Total, int Indexed, int Duplicate, int Failed, int Pending, BatchDocumentBody Document);

public static class IngestApi
{
    public static readonly ImmutableHashSet<string> SupportedExtensions =
        ImmutableHashSet.CreateRange(StringComparer.OrdinalIgnoreCase, TextExtractor.SupportedExtensions);

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
        app.MapGet("/api/ingest/batches/{id:guid}/events", BatchEventsAsync).RequireAuthorization();
    }

    /// <summary>How often the event stream looks at the batch: progress is read from the database, wherever the batch runs.</summary>
    private static readonly TimeSpan EventPollInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>A comment line this often keeps proxies from closing a quiet stream.</summary>
    private static readonly TimeSpan EventKeepAlive = TimeSpan.FromSeconds(15);

    /// <summary>
    /// Server-sent events of a batch: <c>progress</c> once per document at the start and whenever a document changes
    /// (status, chunk count, error), with the batch counters; then <c>done</c> with the whole batch when it ends.
    /// </summary>
    private static async Task<Results<EmptyHttpResult, ProblemHttpResult>> BatchEventsAsync(
        Guid id, HttpContext http, IngestionRepository repo, CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        var batch = await repo.GetBatchAsync(caller.TenantId, id, ct);
        if (batch is null)
        {
            return Problems.Create(404, "batch_not_found", $"No ingestion batch {id} in your tenant.");
        }

        var json = http.RequestServices.GetRequiredService<Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions>>().Value.SerializerOptions;
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-cache";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        var sent = new Dictionary<Guid, (string Status, int Chunks, string? Code)>();
        var quietSince = DateTime.UtcNow;
        try
        {
            while (true)
            {
                var body = ToBody(batch);
                foreach (var d in body.Documents)
                {
                    if (sent.TryGetValue(d.Id, out var last) && last == (d.Status, d.Chunks, d.ErrorCode))
                    {
                        continue;
                    }

                    sent[d.Id] = (d.Status, d.Chunks, d.ErrorCode);
                    await Send("progress", new BatchProgressEvent(body.BatchId, body.Status, body.Total, body.Indexed, body.Duplicate,
                        body.Failed, body.Pending, d));
                    quietSince = DateTime.UtcNow;
                }

                if (body.Status is not (BatchStatuses.Queued or BatchStatuses.Running))
                {
                    await Send("done", body);
                    return TypedResults.Empty;
                }

                if (DateTime.UtcNow - quietSince > EventKeepAlive)
                {
                    await http.Response.WriteAsync(": keep-alive\n\n", ct);
                    await http.Response.Body.FlushAsync(ct);
                    quietSince = DateTime.UtcNow;
                }

                await Task.Delay(EventPollInterval, ct);
                batch = await repo.GetBatchAsync(caller.TenantId, id, ct);
                if (batch is null)
                {
                    // Deleted while being followed (its documents were deleted with their tenant or by an admin).
                    return TypedResults.Empty;
                }
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The client stopped listening; the batch goes on.
            return TypedResults.Empty;
        }

        async Task Send(string name, object payload)
        {
            await http.Response.WriteAsync($"event: {name}\ndata: {System.Text.Json.JsonSerializer.Serialize(payload, json)}\n\n", ct);
            await http.Response.Body.FlushAsync(ct);
        }
    }

    /// <summary>
    /// Reads the multipart body as it arrives: each file goes straight to the object store, hashed and counted on
    /// the way, so memory stays flat whatever the size; a body over NEXUS_MAX_UPLOAD_BYTES is refused (413) before
    /// anything is stored when its length is announced, and otherwise at the first byte too many, with what was
    /// already stored for it removed. So is an upload cut off half-way: nothing of it is kept.
    /// </summary>
    private static async Task<Results<Accepted<IngestAccepted>, ProblemHttpResult>> UploadAsync(
        HttpContext http, IngestionRepository repo, IObjectStore objects, IGrainFactory grains, NexusSettings settings,
        CancellationToken ct)
    {
        var caller = Caller.From(http.User);
        if (!http.Request.HasFormContentType
            || !http.Request.ContentType!.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return Problems.Create(415, "multipart_required",
                "Send multipart/form-data with one or more `files` fields and a `caller_app` field.");
        }

        var limit = settings.MaxUploadBytes;
        if (http.Request.ContentLength is { } announced && announced > limit)
        {
            return TooLarge(caller.TenantId, limit, announced);
        }

        var boundary = MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var mediaType)
            ? HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value
            : null;
        if (string.IsNullOrWhiteSpace(boundary))
        {
            return MalformedMultipart();
        }

        var budget = new UploadBudget(limit);
        var received = new List<NewDocument>();
        var stored = new List<string>();
        string? callerApp = null;
        var replace = string.Equals(http.Request.Query["replace"], "true", StringComparison.OrdinalIgnoreCase);
        try
        {
            var reader = new MultipartReader(boundary, http.Request.Body);
            while (await reader.ReadNextSectionAsync(ct) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)
                    || !disposition.DispositionType.Equals("form-data"))
                {
                    await Drain(section.Body, budget, ct);
                    continue;
                }

                var field = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? "";
                var fileName = HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value;
                if (fileName is null)
                {
                    var value = await ReadField(section.Body, budget, ct);
                    switch (field)
                    {
                        case "caller_app":
                            callerApp = value.Trim();
                            break;
                        case "replace":
                            replace = string.Equals(value.Trim(), "true", StringComparison.OrdinalIgnoreCase);
                            break;
                    }

                    continue;
                }

                if (field != "files")
                {
                    await Drain(section.Body, budget, ct);
                    continue;
                }

                received.Add(await StoreAsync(caller.TenantId, fileName, section.ContentType, section.Body, budget, objects, stored, ct));
            }
        }
        catch (Exception ex) when (ex is UploadTooLargeException or BadHttpRequestException { StatusCode: 413 })
        {
            await RemoveAsync(objects, stored);
            return TooLarge(caller.TenantId, limit, null);
        }
        catch (ObjectStoreUnavailableException)
        {
            // The store went away part-way: what this request stored before is removed (now, or once the store is back).
            await RemoveAsync(objects, stored);
            throw;
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or BadHttpRequestException or OperationCanceledException)
        {
            // A truncated body, a client that went away half-way, or a broken part: nothing of this upload is kept.
            await RemoveAsync(objects, stored);
            if (ct.IsCancellationRequested)
            {
                throw;
            }

            return MalformedMultipart();
        }

        return await FinishAsync(caller, callerApp ?? "", received, stored, replace, repo, objects, grains,
            http.RequestServices.GetRequiredService<UserRepository>(), ct);
    }

    /// <summary>
    /// The backoffice's upload: each file is read from its source once, straight into the object store (hashed and
    /// counted on the way, held to NEXUS_MAX_UPLOAD_BYTES per file), then the same path as the API (<see cref="FinishAsync"/>).
    /// </summary>
    public static async Task<Results<Accepted<IngestAccepted>, ProblemHttpResult>> IngestFilesAsync(
        Caller caller, string callerApp, IReadOnlyList<UploadSource> files, bool replace, long maxBytes, IngestionRepository repo,
        IObjectStore objects, IGrainFactory grains, UserRepository users, CancellationToken ct)
    {
        var received = new List<NewDocument>();
        var stored = new List<string>();
        try
        {
            foreach (var file in files)
            {
                await using var body = file.Open(ct);
                received.Add(await StoreAsync(caller.TenantId, file.FileName, file.ContentType, body, new UploadBudget(maxBytes), objects, stored, ct));
            }
        }
        catch (UploadTooLargeException)
        {
            await RemoveAsync(objects, stored);
            return TooLarge(caller.TenantId, maxBytes, null);
        }
        catch
        {
            await RemoveAsync(objects, stored);
            throw;
        }

        return await FinishAsync(caller, callerApp, received, stored, replace, repo, objects, grains, users, ct);
    }

    /// <summary>
    /// Files stored, now the batch: caller app checked and registered, duplicates found, the batch recorded (with the
    /// versions each new document replaces once it is indexed), the batch started. The API's and the backoffice's path.
    /// </summary>
    private static async Task<Results<Accepted<IngestAccepted>, ProblemHttpResult>> FinishAsync(
        Caller caller, string callerApp, List<NewDocument> received, List<string> stored, bool replace, IngestionRepository repo,
        IObjectStore objects, IGrainFactory grains, UserRepository users, CancellationToken ct)
    {
        callerApp = callerApp.Trim();
        if (Caller.ValidateCallerApp(callerApp) is { } appError)
        {
            await RemoveAsync(objects, stored);
            return Problems.Create(400, "caller_app_required", appError);
        }

        if (received.Count == 0)
        {
            return Problems.Create(400, "no_files", "Attach at least one file in the multipart field `files`.");
        }

        if (received.All(d => d.ErrorCode == "unsupported_type"))
        {
            // Nothing in the request can be read (none of it was stored): the request itself is refused. A request
            // with at least one readable file is accepted, and the others are failed documents of its batch.
            foreach (var _ in received)
            {
                NexusMetrics.DocumentIngested(caller.TenantId, DocumentStatuses.Failed);
            }

            return Problems.Create(415, "unsupported_type", received.Count == 1
                ? $"{received[0].FileName}: {received[0].ErrorMessage}"
                : $"None of the {received.Count} files is of a supported type ({string.Join(", ", received.Select(d => d.FileName).Take(5))}"
                    + $"{(received.Count > 5 ? ", …" : "")}); supported: {string.Join(", ", SupportedExtensions.Order())}. Nothing was stored.");
        }

        var recorded = new System.Runtime.CompilerServices.StrongBox<bool>();
        try
        {
            return await RecordAndStartAsync(caller, callerApp, received, replace, repo, objects, grains, users, recorded, ct);
        }
        catch when (!recorded.Value)
        {
            // The batch was not recorded (the database failed): its stored files would be orphans. Once recorded, a
            // batch that could not be started is resumed by the sweep, so its files stay.
            await RemoveAsync(objects, stored);
            throw;
        }
    }

    /// <param name="recorded">Set once the batch and its documents are in the database.</param>
    private static async Task<Results<Accepted<IngestAccepted>, ProblemHttpResult>> RecordAndStartAsync(
        Caller caller, string callerApp, List<NewDocument> received, bool replace, IngestionRepository repo,
        IObjectStore objects, IGrainFactory grains, UserRepository users, System.Runtime.CompilerServices.StrongBox<bool> recorded,
        CancellationToken ct)
    {
        // A caller app is registered the first time it sends documents; admins see and manage it under caller-apps.
        await users.RegisterCallerAppAsync(caller.TenantId, callerApp, ct);

        var documents = new List<NewDocument>(received.Count);
        foreach (var d in received)
        {
            documents.Add(await DeduplicateAsync(caller.TenantId, d, repo, objects, documents, replace, ct));
        }

        var batchId = Guid.NewGuid();
        var replaced = new List<ReplacedDocument>();
        var rows = await repo.CreateBatchAsync(caller.TenantId, callerApp, batchId, caller.UserId, documents, ct, replace, replaced);
        recorded.Value = true;
        foreach (var settled in rows.Where(d => DocumentStatuses.IsTerminal(d.Status)))
        {
            // Refused or found a duplicate here, these never reach the batch's workers, which count the others.
            NexusMetrics.DocumentIngested(caller.TenantId, settled.Status);
        }

        foreach (var twin in rows.Where(d => d.Status == DocumentStatuses.Duplicate && documents.Any(x => x.Id == d.Id && x.Status == DocumentStatuses.Queued)))
        {
            // Stored before a concurrent upload of the same bytes won the race: the copy is not needed.
            await objects.DeleteAsync(twin.ObjectKey, ct);
        }

        documents = [.. rows];
        var plan = new BatchPlan(caller.TenantId, callerApp, [.. documents.Select(d =>
            new PlannedDocument(d.Id, d.FileName, d.ObjectKey, d.SizeBytes, d.Status, d.ErrorCode))]);
        await grains.GetGrain<IIngestionBatchGrain>(batchId).StartAsync(plan, ct);
        var body = new IngestAccepted(batchId, BatchStatuses.Running,
            [.. documents.Select(d => new AcceptedDocument(d.Id, d.FileName, d.Status, d.ErrorCode, d.ErrorMessage,
                [.. replaced.Where(r => r.ReplacedBy == d.Id).Select(r => r.Id)]))]);
        return TypedResults.Accepted($"/api/ingest/batches/{batchId}", body);
    }

    /// <summary>The upload refused as too large, counted as one failed document (the file that went over, or the request).</summary>
    private static ProblemHttpResult TooLarge(string tenantId, long limit, long? announced)
    {
        NexusMetrics.DocumentIngested(tenantId, DocumentStatuses.Failed);
        return Problems.Create(413, "too_large",
            (announced is { } n ? $"The upload is {n} bytes" : "The upload went over the limit")
            + $"; NEXUS_MAX_UPLOAD_BYTES allows {limit} bytes per request and nothing of it was stored. Send fewer or smaller files per request (`nexus ingest` splits a folder into requests), or ask the operator to raise NEXUS_MAX_UPLOAD_BYTES.");
    }

    private static ProblemHttpResult MalformedMultipart() => Problems.Create(400, "malformed_multipart",
        "The multipart body could not be read (missing boundary, bad part header, or a body cut off before its end); nothing of it was kept. Let your HTTP client build it (e.g. curl -F files=@doc.txt -F caller_app=intranet) and send it again.");

    private static async Task<NewDocument> StoreAsync(
        string tenantId, string rawName, string? contentType, Stream body, UploadBudget budget, IObjectStore objects,
        List<string> stored, CancellationToken ct)
    {
        var id = Guid.NewGuid();
        var name = SafeFileName(rawName);
        var key = $"{tenantId}/{id:N}";
        var extension = Path.GetExtension(name);
        if (!SupportedExtensions.Contains(extension))
        {
            var size = await Drain(body, budget, ct);
            var what = extension.Length == 0 ? "Files without an extension are" : $"'{extension}' files are";
            return new NewDocument(id, name, contentType, size, "", key, DocumentStatuses.Failed, "unsupported_type",
                $"{what} not supported; supported: {string.Join(", ", SupportedExtensions.Order())}. Save the document in one of these formats and upload it again.");
        }

        await using var content = new UploadStream(body, budget);
        stored.Add(key);
        await objects.PutAsync(key, content, ct);
        if (content.Length64 == 0)
        {
            await objects.DeleteAsync(key, ct);
            stored.Remove(key);
            return new NewDocument(id, name, contentType, 0, "", key, DocumentStatuses.Failed, "empty_file",
                "The file is empty (0 bytes); upload it again with its content.");
        }

        return new NewDocument(id, name, contentType, content.Length64, content.Sha256Hex(), key, DocumentStatuses.Queued, null, null);
    }

    /// <summary>Same bytes earlier in this upload, or live in the tenant (unless replacing): a duplicate, its stored copy removed.</summary>
    private static async Task<NewDocument> DeduplicateAsync(
        string tenantId, NewDocument d, IngestionRepository repo, IObjectStore objects, List<NewDocument> earlier, bool replace,
        CancellationToken ct)
    {
        if (d.Status != DocumentStatuses.Queued)
        {
            return d;
        }

        var twin = earlier.FirstOrDefault(x => x.Sha256 == d.Sha256 && x.Status == DocumentStatuses.Queued) is { } same
            ? (same.Id, same.FileName)
            : replace ? null : await repo.FindSameContentAsync(tenantId, d.Sha256, ct);
        if (twin is not { } existing)
        {
            return d;
        }

        await objects.DeleteAsync(d.ObjectKey, ct);
        return d with
        {
            Status = DocumentStatuses.Duplicate, ErrorCode = "duplicate",
            ErrorMessage = IngestionRepository.DuplicateMessage(existing.Id, existing.FileName),
        };
    }

    private static async Task<long> Drain(Stream body, UploadBudget budget, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        long total = 0;
        int n;
        while ((n = await body.ReadAsync(buffer, ct)) > 0)
        {
            budget.Take(n);
            total += n;
        }

        return total;
    }

    /// <summary>A plain form field (caller_app, replace): small by nature; more than 4 KB is not one of ours.</summary>
    private static async Task<string> ReadField(Stream body, UploadBudget budget, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int n;
        while ((n = await body.ReadAsync(chunk, ct)) > 0)
        {
            budget.Take(n);
            if (buffer.Length < 4096)
            {
                buffer.Write(chunk, 0, Math.Min(n, 4096 - (int)buffer.Length));
            }
        }

        return System.Text.Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    /// <summary>
    /// Removes the files a refused request stored. A store that does not answer now is asked again in the background
    /// (every 30 seconds for 10 minutes), so that a file nobody will ever index does not stay once the store is back.
    /// </summary>
    private static async Task RemoveAsync(IObjectStore objects, List<string> keys)
    {
        var left = new List<string>();
        foreach (var key in keys)
        {
            try
            {
                await objects.DeleteAsync(key, CancellationToken.None);
            }
            catch (ObjectStoreUnavailableException)
            {
                left.Add(key);
            }
        }

        if (left.Count > 0)
        {
            _ = Task.Run(async () =>
            {
                for (var attempt = 0; attempt < 20 && left.Count > 0; attempt++)
                {
                    await Task.Delay(TimeSpan.FromSeconds(30));
                    foreach (var key in left.ToList())
                    {
                        try
                        {
                            await objects.DeleteAsync(key, CancellationToken.None);
                            left.Remove(key);
                        }
                        catch (ObjectStoreUnavailableException)
                        {
                            // Still away: the next round asks again.
                        }
                    }
                }
            });
        }
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
            b.Documents.Count(d => !DocumentStatuses.IsTerminal(d.Status)), b.CreatedAt, b.FinishedAt,
            [.. b.Documents.OrderBy(d => d.FileName, StringComparer.Ordinal).Select(d =>
                new BatchDocumentBody(d.Id, d.FileName, d.Status, d.ErrorCode, d.ErrorMessage, d.ChunkCount))]);
    }
}
