using System.Collections.Immutable;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Logging;
using Orleans.Concurrency;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// Turns one stored file into indexed chunks. Stateless and idempotent: a retry replaces the document's chunks and
/// vectors, so a document processed twice (after a silo loss) is still indexed exactly once.
/// </summary>
[StatelessWorker(2)]
public sealed partial class ChunkWorkerGrain(
    IObjectStore objects,
    IEmbedder embedder,
    Chunker chunker,
    IngestionRepository repository,
    IGrainFactory grains,
    ILogger<ChunkWorkerGrain> logger) : Grain, IChunkWorkerGrain
{
    private const int EmbeddingSlice = 256;

    public async Task<DocumentOutcome> ProcessAsync(DocumentWork work, CancellationToken cancellationToken = default)
    {
        var doc = work.Document;
        await repository.SetDocumentStateAsync(work.TenantId, doc.DocumentId, DocumentStatuses.Processing, 0, null, null,
            work.Attempt, cancellationToken);

        byte[] bytes;
        try
        {
            await using var stream = await objects.OpenReadAsync(doc.ObjectKey, cancellationToken);
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken);
            bytes = buffer.ToArray();
        }
        catch (FileNotFoundException)
        {
            return await FailAsync(work, "object_missing",
                "the uploaded file is no longer in the object store; upload it again", retryable: false, cancellationToken);
        }

        var extracted = TextExtractor.Extract(doc.FileName, bytes);
        if (!extracted.Ok)
        {
            return await FailAsync(work, extracted.ErrorCode ?? "extraction_failed", extracted.ErrorMessage ?? "extraction failed",
                retryable: false, cancellationToken);
        }

        var chunks = chunker.Split(extracted.Text!);
        if (chunks.Count == 0)
        {
            return await FailAsync(work, "no_extractable_text", "the file contains no text that can be indexed",
                retryable: false, cancellationToken);
        }

        // Whole slices of a document per call: the embedder sorts them by length and runs batches of 32.
        var stored = new List<StoredChunk>(chunks.Count);
        for (var i = 0; i < chunks.Count; i += EmbeddingSlice)
        {
            var slice = chunks.Skip(i).Take(EmbeddingSlice).ToList();
            var vectors = await embedder.EmbedAsync([.. slice.Select(c => c.Text)], cancellationToken);
            stored.AddRange(slice.Select((c, j) => new StoredChunk(c.Index, c.Text, c.TokenCount, vectors[j])));
        }

        var ids = await repository.ReplaceChunksAsync(work.TenantId, doc.DocumentId, embedder.ModelName, stored, cancellationToken);
        await ((IVectorStore)ServiceProvider.GetService(typeof(IVectorStore))!).UpsertAsync(work.TenantId,
            [.. stored.Select((c, i) => new VectorEntry(ids[i], doc.DocumentId, c.Embedding))], cancellationToken);
        await repository.SetDocumentStateAsync(work.TenantId, doc.DocumentId, DocumentStatuses.Indexed, stored.Count, null, null,
            work.Attempt, cancellationToken);
        // The corpus changed: cached answers of this tenant may now be incomplete.
        await grains.GetGrain<AuroraNexus.Grains.Conversation.IAnswerCacheGrain>(work.TenantId).InvalidateAsync(cancellationToken);
        LogIndexed(logger, work.TenantId, doc.DocumentId, stored.Count);
        return new DocumentOutcome(DocumentStatuses.Indexed, stored.Count, null, null, Retryable: false);
    }

    private async Task<DocumentOutcome> FailAsync(DocumentWork work, string code, string message, bool retryable, CancellationToken ct)
    {
        await repository.SetDocumentStateAsync(work.TenantId, work.Document.DocumentId, DocumentStatuses.Failed, 0, code, message,
            work.Attempt, ct);
        LogFailed(logger, work.TenantId, work.Document.DocumentId, code);
        return new DocumentOutcome(DocumentStatuses.Failed, 0, code, message, retryable);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Document {DocumentId} of tenant {TenantId} indexed with {Chunks} chunks")]
    private static partial void LogIndexed(ILogger logger, string tenantId, Guid documentId, int chunks);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Document {DocumentId} of tenant {TenantId} failed: {ErrorCode}")]
    private static partial void LogFailed(ILogger logger, string tenantId, Guid documentId, string errorCode);
}
