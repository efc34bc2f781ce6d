using System.Collections.Immutable;

namespace AuroraNexus.Grains.Ingestion;

public static class BatchStatuses
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Completed = "completed";
    public const string CompletedWithErrors = "completed_with_errors";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
}

public static class DocumentStatuses
{
    public const string Queued = "queued";
    public const string Processing = "processing";
    public const string Indexed = "indexed";
    public const string Duplicate = "duplicate";
    public const string Failed = "failed";

    /// <summary>Only an outcome of work: the document was deleted while it was being indexed and no longer exists.</summary>
    public const string Deleted = "deleted";

    public static bool IsTerminal(string status) => status is Indexed or Duplicate or Failed or Deleted;
}

[GenerateSerializer, Immutable, Alias("nexus.PlannedDocument")]
public sealed record PlannedDocument(
    [property: Id(0)] Guid DocumentId,
    [property: Id(1)] string FileName,
    [property: Id(2)] string ObjectKey,
    [property: Id(3)] long SizeBytes,
    [property: Id(4)] string Status,
    [property: Id(5)] string? ErrorCode);

[GenerateSerializer, Immutable, Alias("nexus.BatchPlan")]
public sealed record BatchPlan(
    [property: Id(0)] string TenantId,
    [property: Id(1)] string CallerApp,
    [property: Id(2)] ImmutableArray<PlannedDocument> Documents);

[GenerateSerializer, Immutable, Alias("nexus.DocumentWork")]
public sealed record DocumentWork(
    [property: Id(0)] string TenantId,
    [property: Id(1)] string CallerApp,
    [property: Id(2)] Guid BatchId,
    [property: Id(3)] PlannedDocument Document,
    [property: Id(4)] int Attempt);

[GenerateSerializer, Immutable, Alias("nexus.DocumentOutcome")]
public sealed record DocumentOutcome(
    [property: Id(0)] string Status,
    [property: Id(1)] int ChunkCount,
    [property: Id(2)] string? ErrorCode,
    [property: Id(3)] string? ErrorMessage,
    [property: Id(4)] bool Retryable);

/// <summary>Drives one upload batch to the end: every document reaches a terminal state, even across silo loss.</summary>
[Alias("nexus.IIngestionBatchGrain")]
public interface IIngestionBatchGrain : IGrainWithGuidKey
{
    [Alias("Start")]
    Task StartAsync(BatchPlan plan, CancellationToken cancellationToken = default);

    /// <summary>
    /// Makes sure a batch that is not finished is being driven (idempotent): called by the sweep that finds batches
    /// whose driver went silent. A batch recorded without ever being started (its upload request died in between) is
    /// rebuilt from its documents.
    /// </summary>
    [Alias("Resume")]
    Task ResumeAsync(string tenantId, CancellationToken cancellationToken = default);
}

/// <summary>One attempt at one document: extract → normalise → chunk → embed → index. Keyed by a fresh id per attempt.</summary>
[Alias("nexus.IChunkWorkerGrain")]
public interface IChunkWorkerGrain : IGrainWithGuidKey
{
    /// <remarks>A large document takes minutes to embed on a small machine: the default 30 s response timeout would
    /// fail it while the work goes on, so this call waits as long as the work can reasonably take.</remarks>
    [Alias("Process")]
    [ResponseTimeout("00:30:00")]
    Task<DocumentOutcome> ProcessAsync(DocumentWork work, CancellationToken cancellationToken = default);
}
