using System.Collections.Immutable;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Placement;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// Turns one stored file into indexed chunks: one activation per attempt (a fresh key each time), placed on the silo
/// with the fewest activations, so that the documents of a batch are worked on across the cluster rather than on the
/// silo that drives the batch (a stateless worker would always be local to its caller). The ONNX work itself is
/// bounded per silo by the embedder's run slots.
/// </summary>
/// <remarks>
/// An attempt claims the document in the checkpoint table (which counts it), beats a heartbeat while it works and
/// writes through that claim only: when the document is deleted or a newer attempt took over, the heartbeat stops the
/// work and nothing of it is written.
/// </remarks>
[ActivationCountBasedPlacement]
public sealed partial class ChunkWorkerGrain(
    IObjectStore objects,
    IEmbedder embedder,
    Chunker chunker,
    IngestionRepository repository,
    IngestionOptions options,
    IGrainFactory grains,
    ILogger<ChunkWorkerGrain> logger) : Grain, IChunkWorkerGrain
{
    private const int EmbeddingSlice = 256;

    public async Task<DocumentOutcome> ProcessAsync(DocumentWork work, CancellationToken cancellationToken = default)
    {
        try
        {
            return await ProcessClaimedAsync(work, cancellationToken);
        }
        finally
        {
            // One attempt per activation: nothing to keep once it has answered.
            DeactivateOnIdle();
        }
    }

    private async Task<DocumentOutcome> ProcessClaimedAsync(DocumentWork work, CancellationToken ct)
    {
        var doc = work.Document;
        var claim = await repository.ClaimDocumentAsync(work.TenantId, doc.DocumentId, options.MaxAttempts, ct);
        if (!claim.Claimed)
        {
            return claim.Current is { } last && !DocumentStatuses.IsTerminal(last.Status)
                ? await GiveUpAsync(work, last, ct)
                : Outcome(claim.Current);
        }

        var attempt = claim.Attempt;
        using var owned = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var heartbeat = HeartbeatAsync(work.TenantId, doc.DocumentId, attempt, owned);
        try
        {
            return await IndexAsync(work, attempt, owned.Token);
        }
        catch (OperationCanceledException) when (owned.IsCancellationRequested && !ct.IsCancellationRequested)
        {
            // The heartbeat found the document deleted or taken over: this attempt has nothing left to write.
            LogAbandoned(logger, work.TenantId, doc.DocumentId, attempt);
            return Outcome(await repository.GetBatchDocumentAsync(work.TenantId, doc.DocumentId, CancellationToken.None));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            LogAttemptFailed(logger, ex, work.TenantId, doc.DocumentId, attempt);
            // A store that does not answer is not the file's fault: its own message says which store and what to check.
            var (code, message) = StoreOutage(ex) is { } outage
                ? outage
                : ("processing_error", $"attempt {attempt} failed with {ex.GetType().Name}");
            await repository.FinishAttemptAsync(work.TenantId, doc.DocumentId, attempt, DocumentStatuses.Queued,
                code, message, CancellationToken.None);
            return new DocumentOutcome(DocumentStatuses.Queued, 0, code, message, Retryable: true);
        }
        finally
        {
            await owned.CancelAsync();
            await heartbeat;
        }
    }

    private async Task<DocumentOutcome> IndexAsync(DocumentWork work, int attempt, CancellationToken ct)
    {
        var doc = work.Document;
        byte[] bytes;
        try
        {
            await using var stream = await objects.OpenReadAsync(doc.ObjectKey, ct);
            // Sized from the recorded length so the file is held once: when it matches, the buffer is the array itself.
            using var buffer = new MemoryStream(doc.SizeBytes > 0 && doc.SizeBytes <= Array.MaxLength ? (int)doc.SizeBytes : 0);
            await stream.CopyToAsync(buffer, ct);
            bytes = buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
        }
        catch (FileNotFoundException)
        {
            return await FailAsync(work, attempt, "object_missing",
                "the uploaded file is no longer in the object store; upload it again", ct);
        }

        // Extraction and chunking take up to seconds of CPU on a large file: off the activation's turn.
        var extracted = await Task.Run(() => TextExtractor.Extract(doc.FileName, bytes, ct), ct);
        if (!extracted.Ok)
        {
            return await FailAsync(work, attempt, extracted.ErrorCode ?? "extraction_failed", extracted.ErrorMessage ?? "extraction failed", ct);
        }

        var chunks = await Task.Run(() => chunker.Split(extracted.Text!, ct), ct);
        if (chunks.Count == 0)
        {
            return await FailAsync(work, attempt, "no_extractable_text", "the file contains no text that can be indexed", ct);
        }

        // Whole slices of a document per call: the embedder sorts them by length and runs batches of 32.
        var stored = new List<StoredChunk>(chunks.Count);
        for (var i = 0; i < chunks.Count; i += EmbeddingSlice)
        {
            var slice = chunks.Skip(i).Take(EmbeddingSlice).ToList();
            var vectors = await embedder.EmbedAsync([.. slice.Select(c => c.Text)], ct);
            stored.AddRange(slice.Select((c, j) => new StoredChunk(c.Index, c.Text, c.TokenCount, vectors[j])));
        }

        var vectorStore = (IVectorStore)ServiceProvider.GetService(typeof(IVectorStore))!;
        var written = await repository.IndexDocumentAsync(work.TenantId, doc.DocumentId, attempt, embedder.ModelName, stored,
            (ids, token) => vectorStore.UpsertAsync(work.TenantId, [.. stored.Select((c, i) => new VectorEntry(ids[i], doc.DocumentId, c.Embedding))], token),
            ct);
        if (!written)
        {
            LogAbandoned(logger, work.TenantId, doc.DocumentId, attempt);
            return Outcome(await repository.GetBatchDocumentAsync(work.TenantId, doc.DocumentId, CancellationToken.None));
        }

        // The corpus changed: cached answers of this tenant may now be incomplete.
        await grains.GetGrain<AuroraNexus.Grains.Conversation.IAnswerCacheGrain>(work.TenantId).InvalidateAsync(CancellationToken.None);
        LogIndexed(logger, work.TenantId, doc.DocumentId, stored.Count, attempt);
        return new DocumentOutcome(DocumentStatuses.Indexed, stored.Count, null, null, Retryable: false);
    }

    /// <summary>The error code and message of an attempt that failed because a store did not answer, or null.</summary>
    private static (string Code, string Message)? StoreOutage(Exception ex) => ex switch
    {
        ObjectStoreUnavailableException => ("object_store_unavailable", ex.Message),
        VectorStoreUnavailableException => ("vector_store_unavailable", ex.Message),
        _ => null,
    };

    /// <summary>Out of attempts: the document fails with the last error its attempts left, and nothing of it stays searchable.</summary>
    private async Task<DocumentOutcome> GiveUpAsync(DocumentWork work, BatchDocumentRow last, CancellationToken ct)
    {
        var finalCode = "processing_failed";
        string message;
        if (last.ErrorCode is "object_store_unavailable" or "vector_store_unavailable")
        {
            // The file was never the problem: say which store was away and how to run it again once it is back.
            finalCode = last.ErrorCode;
            message = $"indexing was tried {last.Attempts} times while a store did not answer ({last.ErrorMessage}). The file itself is fine: " +
                $"once the store answers again (GET /api/health), re-index it (POST /api/documents/{work.Document.DocumentId}/reindex, or Re-index in the backoffice).";
        }
        else
        {
            var cause = last.ErrorCode is { } code
                ? $"the last one failed with {code} ({last.ErrorMessage})"
                : "each was lost with the silo running it (stopped or killed while working on this file)";
            message = $"indexing was tried {last.Attempts} times without success; {cause}. Check the file (it may be too large or malformed for the extractor) and upload it again; if it keeps failing, the silo logs name document {work.Document.DocumentId}.";
        }

        if (!await repository.GiveUpDocumentAsync(work.TenantId, work.Document.DocumentId, finalCode, message, ct))
        {
            return Outcome(await repository.GetBatchDocumentAsync(work.TenantId, work.Document.DocumentId, CancellationToken.None));
        }

        await ((IVectorStore)ServiceProvider.GetService(typeof(IVectorStore))!).DeleteDocumentAsync(work.TenantId, work.Document.DocumentId, CancellationToken.None);
        LogFailed(logger, work.TenantId, work.Document.DocumentId, finalCode);
        return new DocumentOutcome(DocumentStatuses.Failed, 0, finalCode, message, Retryable: false);
    }

    /// <summary>Keeps the claim alive; cancels the work as soon as the claim is no longer this attempt's.</summary>
    private async Task HeartbeatAsync(string tenantId, Guid documentId, int attempt, CancellationTokenSource owned)
    {
        try
        {
            while (!owned.IsCancellationRequested)
            {
                await Task.Delay(options.Heartbeat, owned.Token);
                if (!await repository.TouchDocumentAsync(tenantId, documentId, attempt, owned.Token))
                {
                    await owned.CancelAsync();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            // A heartbeat that cannot reach the database lets the lease run out; the batch then decides.
            LogHeartbeatFailed(logger, ex, tenantId, documentId);
        }
    }

    private async Task<DocumentOutcome> FailAsync(DocumentWork work, int attempt, string code, string message, CancellationToken ct)
    {
        if (await repository.FailAttemptAsync(work.TenantId, work.Document.DocumentId, attempt, code, message, ct) is not { } dropped)
        {
            return Outcome(await repository.GetBatchDocumentAsync(work.TenantId, work.Document.DocumentId, CancellationToken.None));
        }

        if (dropped > 0)
        {
            // Indexed before, failing when indexed again: its vectors go with its chunks.
            await ((IVectorStore)ServiceProvider.GetService(typeof(IVectorStore))!).DeleteDocumentAsync(work.TenantId, work.Document.DocumentId, CancellationToken.None);
        }

        LogFailed(logger, work.TenantId, work.Document.DocumentId, code);
        return new DocumentOutcome(DocumentStatuses.Failed, 0, code, message, Retryable: false);
    }

    /// <summary>The document as another party left it: finished, deleted, or in the hands of a newer attempt.</summary>
    private static DocumentOutcome Outcome(BatchDocumentRow? row) => row is null
        ? new DocumentOutcome(DocumentStatuses.Deleted, 0, null, null, Retryable: false)
        : new DocumentOutcome(row.Status, row.ChunkCount, row.ErrorCode, row.ErrorMessage, Retryable: false);

    [LoggerMessage(Level = LogLevel.Information, Message = "Document {DocumentId} of tenant {TenantId} indexed with {Chunks} chunks (attempt {Attempt})")]
    private static partial void LogIndexed(ILogger logger, string tenantId, Guid documentId, int chunks, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Document {DocumentId} of tenant {TenantId} failed: {ErrorCode}")]
    private static partial void LogFailed(ILogger logger, string tenantId, Guid documentId, string errorCode);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Document {DocumentId} of tenant {TenantId}: attempt {Attempt} failed")]
    private static partial void LogAttemptFailed(ILogger logger, Exception ex, string tenantId, Guid documentId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Document {DocumentId} of tenant {TenantId}: attempt {Attempt} stopped, the document was deleted or taken over")]
    private static partial void LogAbandoned(ILogger logger, string tenantId, Guid documentId, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Document {DocumentId} of tenant {TenantId}: heartbeat failed")]
    private static partial void LogHeartbeatFailed(ILogger logger, Exception ex, string tenantId, Guid documentId);
}
