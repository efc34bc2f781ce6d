using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// Finishes removing the versions a new upload replaced (replace=true). Their rows and chunks went in the transaction
/// that indexed the new version; their vectors and stored files, which live outside PostgreSQL, go here, and then the
/// tenant's cached answers. The batch runs it as soon as one of its documents is indexed, and the sweep runs it for
/// removals a silo left unfinished; running it twice is harmless.
/// </summary>
public sealed partial class ReplacedVersionRemoval(
    IngestionRepository repository,
    IVectorStore vectors,
    IObjectStore objects,
    IGrainFactory grains,
    ILogger<ReplacedVersionRemoval> logger)
{
    /// <summary>Removes what is left of the tenant's replaced versions; returns how many there were.</summary>
    public async Task<int> RunAsync(string tenantId, CancellationToken ct)
    {
        var pending = await repository.ListRemovalsAsync(tenantId, ct);
        foreach (var (documentId, objectKey) in pending)
        {
            await vectors.DeleteDocumentAsync(tenantId, documentId, ct);
            await objects.DeleteAsync(objectKey, ct);
            await repository.CompleteRemovalAsync(tenantId, documentId, ct);
            LogRemoved(logger, tenantId, documentId);
        }

        if (pending.Count > 0)
        {
            await grains.GetGrain<IAnswerCacheGrain>(tenantId).InvalidateAsync(ct);
        }

        return pending.Count;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Document {DocumentId} of tenant {TenantId}: replaced by a new version, its vectors and file removed")]
    private static partial void LogRemoved(ILogger logger, string tenantId, Guid documentId);
}
