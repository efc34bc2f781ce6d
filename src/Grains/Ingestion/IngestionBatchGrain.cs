using System.Collections.Immutable;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;


namespace AuroraNexus.Grains.Ingestion;

[GenerateSerializer, Alias("nexus.BatchDocumentState")]
public sealed class BatchDocumentState
{
    [Id(0)] public PlannedDocument Document { get; set; } = null!;
    [Id(1)] public string Status { get; set; } = DocumentStatuses.Queued;
    [Id(2)] public int Attempts { get; set; }
    [Id(3)] public int Chunks { get; set; }
    [Id(4)] public string? ErrorCode { get; set; }
}

[GenerateSerializer, Alias("nexus.BatchState")]
public sealed class BatchState
{
    [Id(0)] public string TenantId { get; set; } = "";
    [Id(1)] public string CallerApp { get; set; } = "";
    [Id(2)] public string Status { get; set; } = BatchStatuses.Queued;
    [Id(3)] public List<BatchDocumentState> Documents { get; set; } = [];
}

/// <summary>
/// Drives a batch: documents go to chunk workers a few at a time; the state is checkpointed after each document;
/// a reminder brings the batch back on another silo if the one running it dies.
/// </summary>
public sealed partial class IngestionBatchGrain(
    [PersistentState("ingestBatch", "nexus")] IPersistentState<BatchState> state,
    IngestionRepository repository,
    IHostApplicationLifetime lifetime,
    ILogger<IngestionBatchGrain> logger) : Grain, IIngestionBatchGrain, IRemindable
{
    private const string ResumeReminder = "resume";
    private const int MaxAttempts = 3;
    private const int Parallelism = 2;
    private Task? _running;
    private bool _stopping;

    public async Task StartAsync(BatchPlan plan, CancellationToken cancellationToken = default)
    {
        if (state.RecordExists)
        {
            EnsureRunning();
            return;
        }

        state.State = new BatchState
        {
            TenantId = plan.TenantId,
            CallerApp = plan.CallerApp,
            Status = BatchStatuses.Running,
            Documents = [.. plan.Documents.Select(d => new BatchDocumentState { Document = d, Status = d.Status, ErrorCode = d.ErrorCode })],
        };
        await state.WriteStateAsync(cancellationToken);
        await this.RegisterOrUpdateReminder(ResumeReminder, TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(1));
        EnsureRunning();
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (state.RecordExists && !IsFinished(state.State.Status))
        {
            EnsureRunning();
        }

        return Task.CompletedTask;
    }

    private void EnsureRunning()
    {
        if (_running is { IsCompleted: false } || IsFinished(state.State.Status))
        {
            return;
        }

        // A grain timer (interleaving) keeps the work on the grain's scheduler without blocking progress queries;
        // the batch may outlast the idle-collection age, so the activation is kept while it runs.
        DelayDeactivation(TimeSpan.FromHours(2));
        this.RegisterGrainTimer(
            static (grain, ct) => grain.RunOnceAsync(ct),
            this,
            new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { Interleave = true, KeepAlive = true });
    }

    private Task RunOnceAsync(CancellationToken ct) => _running is { IsCompleted: false } ? _running : _running = RunAsync(ct);

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Documents in flight finish or fail on their own; nothing new is dispatched, and the reminder resumes the rest.
        _stopping = true;
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var s = state.State;
        var batchId = this.GetPrimaryKey();
        await repository.SetBatchStatusAsync(s.TenantId, batchId, BatchStatuses.Running, finished: false, ct);
        var pending = new Queue<BatchDocumentState>(s.Documents.Where(d => !DocumentStatuses.IsTerminal(d.Status)));
        var inFlight = new List<(BatchDocumentState Doc, Task<DocumentOutcome> Task)>();
        while (inFlight.Count > 0 || (pending.Count > 0 && !Stopping(ct)))
        {
            while (inFlight.Count < Parallelism && !Stopping(ct) && pending.TryDequeue(out var next))
            {
                next.Attempts++;
                next.Status = DocumentStatuses.Processing;
                var worker = GrainFactory.GetGrain<IChunkWorkerGrain>(0);
                inFlight.Add((next, worker.ProcessAsync(new DocumentWork(s.TenantId, s.CallerApp, batchId, next.Document, next.Attempts), ct)));
            }

            var done = await Task.WhenAny(inFlight.Select(f => f.Task));
            var index = inFlight.FindIndex(f => f.Task == done);
            var doc = inFlight[index].Doc;
            inFlight.RemoveAt(index);
            try
            {
                var outcome = await done;
                doc.Status = outcome.Status;
                AuroraNexus.Grains.Operations.NexusMetrics.DocumentIngested(s.TenantId, outcome.Status);
                doc.Chunks = outcome.ChunkCount;
                doc.ErrorCode = outcome.ErrorCode;
            }
            catch (Exception) when (Stopping(ct))
            {
                // The silo is going away: this attempt does not count against the document.
                doc.Attempts--;
                doc.Status = DocumentStatuses.Queued;
            }
            catch (Exception ex)
            {
                LogAttemptFailed(logger, ex, s.TenantId, batchId, doc.Document.DocumentId, doc.Attempts);
                if (doc.Attempts < MaxAttempts)
                {
                    doc.Status = DocumentStatuses.Queued;
                    pending.Enqueue(doc);
                }
                else
                {
                    doc.Status = DocumentStatuses.Failed;
                    AuroraNexus.Grains.Operations.NexusMetrics.DocumentIngested(s.TenantId, DocumentStatuses.Failed);
                    doc.ErrorCode = "processing_failed";
                    // A failed document is never searchable: drop whatever a partial attempt wrote.
                    await repository.DeleteChunksAsync(s.TenantId, doc.Document.DocumentId, CancellationToken.None);
                    await ((IVectorStore)ServiceProvider.GetService(typeof(IVectorStore))!).DeleteDocumentAsync(s.TenantId, doc.Document.DocumentId, CancellationToken.None);
                    await GrainFactory.GetGrain<AuroraNexus.Grains.Conversation.IAnswerCacheGrain>(s.TenantId).InvalidateAsync(CancellationToken.None);
                    await repository.SetDocumentStateAsync(s.TenantId, doc.Document.DocumentId, DocumentStatuses.Failed, 0,
                        "processing_failed", $"indexing failed {doc.Attempts} times; last error: {ex.GetType().Name}. Retry the upload; if it keeps failing, check the silo logs for document {doc.Document.DocumentId}.",
                        doc.Attempts, CancellationToken.None);
                }
            }

            await state.WriteStateAsync(CancellationToken.None);
        }

        if (s.Documents.Any(d => !DocumentStatuses.IsTerminal(d.Status)))
        {
            return;
        }

        s.Status = s.Documents.All(d => d.Status == DocumentStatuses.Failed) && s.Documents.Count > 0
            ? BatchStatuses.Failed
            : s.Documents.Any(d => d.Status == DocumentStatuses.Failed) ? BatchStatuses.CompletedWithErrors : BatchStatuses.Completed;
        await state.WriteStateAsync(ct);
        await repository.SetBatchStatusAsync(s.TenantId, batchId, s.Status, finished: true, ct);
        if (await this.GetReminder(ResumeReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }

        LogFinished(logger, s.TenantId, batchId, s.Status);
    }

    // The host stopping comes first: worker calls then fail because the silo is leaving, not because of the document.
    private bool Stopping(CancellationToken ct) =>
        _stopping || ct.IsCancellationRequested || lifetime.ApplicationStopping.IsCancellationRequested;

    private static bool IsFinished(string status) =>
        status is BatchStatuses.Completed or BatchStatuses.CompletedWithErrors or BatchStatuses.Failed or BatchStatuses.Cancelled;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId} of tenant {TenantId}: document {DocumentId} attempt {Attempt} failed")]
    private static partial void LogAttemptFailed(ILogger logger, Exception ex, string tenantId, Guid batchId, Guid documentId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch {BatchId} of tenant {TenantId} finished: {Status}")]
    private static partial void LogFinished(ILogger logger, string tenantId, Guid batchId, string status);
}
