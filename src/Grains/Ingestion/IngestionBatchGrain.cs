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

    /// <summary>The plan as uploaded. Progress is not kept here: each document's row in PostgreSQL is its checkpoint.</summary>
    [Id(3)] public List<BatchDocumentState> Documents { get; set; } = [];
}

/// <summary>
/// Drives a batch: documents go to chunk workers across the cluster, a few at a time. Each document's row is its
/// checkpoint (status, attempts, heartbeat), so whichever activation drives the batch, after any silo loss, starts
/// from what is really done: finished documents are not redone, documents another silo is still working on are
/// waited for, silent ones are tried again, and a document that keeps failing ends failed with its last error.
/// </summary>
/// <remarks>
/// The driver beats a heartbeat on the batch row; the <see cref="IngestionSweeper"/> of every silo resumes a batch
/// whose heartbeat stopped (its silo died, or its loop hangs), and a reminder does the same once a minute.
/// </remarks>
public sealed partial class IngestionBatchGrain(
    [PersistentState("ingestBatch", "nexus")] IPersistentState<BatchState> state,
    IngestionRepository repository,
    ReplacedVersionRemoval replacedVersions,
    IngestionOptions options,
    IHostApplicationLifetime lifetime,
    ILogger<IngestionBatchGrain> logger) : Grain, IIngestionBatchGrain, IRemindable
{
    private const string ResumeReminder = "resume";
    private Task? _running;
    private CancellationTokenSource? _runCancellation;
    private DateTime _lastBeat;
    private bool _stopping;

    private sealed record InFlight(Task<DocumentOutcome> Call, CancellationTokenSource Cancel, DateTime Since);

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

    public async Task ResumeAsync(string tenantId, CancellationToken cancellationToken = default)
    {
        var batchId = this.GetPrimaryKey();
        if (!state.RecordExists)
        {
            var callerApp = await repository.GetBatchCallerAppAsync(tenantId, batchId, cancellationToken);
            if (callerApp is null)
            {
                return;
            }

            var rows = await repository.ListBatchDocumentsAsync(tenantId, batchId, cancellationToken);
            LogRebuilt(logger, tenantId, batchId, rows.Count);
            await StartAsync(new BatchPlan(tenantId, callerApp, [.. rows.Select(r =>
                new PlannedDocument(r.Id, r.FileName, r.ObjectKey, r.SizeBytes, r.Status, r.ErrorCode))]), cancellationToken);
            return;
        }

        if (state.State.TenantId != tenantId)
        {
            return;
        }

        if (IsFinished(state.State.Status))
        {
            // Finished here but not recorded (the silo died in between): record it now.
            await repository.SetBatchStatusAsync(tenantId, batchId, state.State.Status, finished: true, cancellationToken);
            return;
        }

        if (_running is { IsCompleted: false } && DateTime.UtcNow - _lastBeat > options.Lease * 2)
        {
            // The loop stopped beating without ending: give up on it and start a fresh one.
            LogRestarted(logger, tenantId, batchId);
            await (_runCancellation?.CancelAsync() ?? Task.CompletedTask);
            _running = null;
        }

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

        // A grain timer (interleaving) keeps the work on the grain's scheduler without blocking other calls;
        // the batch may outlast the idle-collection age, so the activation is kept while it runs.
        DelayDeactivation(TimeSpan.FromHours(2));
        this.RegisterGrainTimer(
            static (grain, ct) => grain.RunOnceAsync(ct),
            this,
            new GrainTimerCreationOptions(TimeSpan.Zero, Timeout.InfiniteTimeSpan) { Interleave = true, KeepAlive = true });
    }

    private Task RunOnceAsync(CancellationToken ct)
    {
        if (_running is { IsCompleted: false })
        {
            return _running;
        }

        _runCancellation?.Dispose();
        _runCancellation = CancellationTokenSource.CreateLinkedTokenSource(ct);
        _lastBeat = DateTime.UtcNow;
        return _running = RunAsync(_runCancellation.Token);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // Nothing new is dispatched; documents in flight finish on their own and the next driver picks them up.
        _stopping = true;
        return Task.CompletedTask;
    }

    private async Task RunAsync(CancellationToken ct)
    {
        var s = state.State;
        var batchId = this.GetPrimaryKey();
        var inFlight = new Dictionary<Guid, InFlight>();
        var notBefore = new Dictionary<Guid, DateTime>();
        var lostCalls = new Dictionary<Guid, int>();
        IReadOnlyList<BatchDocumentRow> rows = [];
        var refreshed = DateTime.MinValue;
        LogDriving(logger, s.TenantId, batchId, RuntimeIdentity);
        try
        {
            while (!Stopping(ct))
            {
                var now = DateTime.UtcNow;
                if (now - refreshed >= options.Heartbeat || inFlight.Count < options.Parallelism)
                {
                    await repository.TouchBatchAsync(s.TenantId, batchId, ct);
                    rows = await repository.ListBatchDocumentsAsync(s.TenantId, batchId, ct);
                    refreshed = now;
                    _lastBeat = now;
                }

                var open = rows.Where(r => !DocumentStatuses.IsTerminal(r.Status)).ToList();
                foreach (var row in open.Where(r => inFlight.ContainsKey(r.Id)))
                {
                    var call = inFlight[row.Id];
                    var silent = TimeSpan.FromSeconds(Math.Min(row.IdleSeconds, (now - call.Since).TotalSeconds));
                    if (silent > options.Lease)
                    {
                        // The worker's silo died or hangs: its claim is left to lapse and the document is tried again.
                        LogLost(logger, s.TenantId, batchId, row.Id, row.Attempts);
                        await call.Cancel.CancelAsync();
                        inFlight.Remove(row.Id);
                        lostCalls[row.Id] = lostCalls.GetValueOrDefault(row.Id) + 1;
                    }
                }

                if (open.Count == 0 && inFlight.Count == 0)
                {
                    await FinishAsync(rows, batchId, ct);
                    return;
                }

                foreach (var row in open)
                {
                    if (inFlight.Count >= options.Parallelism)
                    {
                        break;
                    }

                    if (inFlight.ContainsKey(row.Id) || notBefore.GetValueOrDefault(row.Id) > now)
                    {
                        continue;
                    }

                    // Claimed by an earlier driver and still beating: another silo is working on it; wait for it.
                    if (row.Status == DocumentStatuses.Processing && row.IdleSeconds < options.Lease.TotalSeconds && !lostCalls.ContainsKey(row.Id))
                    {
                        continue;
                    }

                    if (lostCalls.GetValueOrDefault(row.Id) > options.MaxAttempts * 3)
                    {
                        // Attempts that never even started (no silo took the work): stop rather than loop forever.
                        await GiveUpAsync(s.TenantId, row.Id, "processing_stalled",
                            $"no silo completed the work on this file after {lostCalls[row.Id]} tries; check that the silos are healthy (GET /health on each) and upload it again.");
                        continue;
                    }

                    var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    var work = new DocumentWork(s.TenantId, s.CallerApp, batchId,
                        new PlannedDocument(row.Id, row.FileName, row.ObjectKey, row.SizeBytes, row.Status, row.ErrorCode), row.Attempts + 1);
                    inFlight[row.Id] = new InFlight(
                        GrainFactory.GetGrain<IChunkWorkerGrain>(Guid.NewGuid()).ProcessAsync(work, cancel.Token), cancel, now);
                }

                if (inFlight.Count == 0)
                {
                    await Task.Delay(options.Heartbeat / 2, ct);
                    refreshed = DateTime.MinValue;
                    continue;
                }

                var tick = Task.Delay(options.Heartbeat, ct);
                var done = await Task.WhenAny(inFlight.Values.Select(f => (Task)f.Call).Append(tick));
                foreach (var (id, call) in inFlight.Where(f => f.Value.Call.IsCompleted).ToList())
                {
                    inFlight.Remove(id);
                    call.Cancel.Dispose();
                    try
                    {
                        var outcome = await call.Call;
                        if (DocumentStatuses.IsTerminal(outcome.Status))
                        {
                            AuroraNexus.Grains.Operations.NexusMetrics.DocumentIngested(s.TenantId, outcome.Status);
                        }

                        if (outcome.Status == DocumentStatuses.Indexed)
                        {
                            await RemoveReplacedVersionsAsync(s.TenantId, batchId, ct);
                        }

                        if (outcome.Retryable)
                        {
                            var row = rows.FirstOrDefault(r => r.Id == id);
                            notBefore[id] = DateTime.UtcNow + TimeSpan.FromSeconds(Math.Min(30, 1 << Math.Min(5, row?.Attempts ?? 1)));
                        }
                    }
                    catch (Exception ex) when (!Stopping(ct))
                    {
                        // The call itself failed (silo lost, timeout): the claim, if any, was counted; try again.
                        LogAttemptFailed(logger, ex, s.TenantId, batchId, id);
                        lostCalls[id] = lostCalls.GetValueOrDefault(id) + 1;
                        notBefore[id] = DateTime.UtcNow + options.Heartbeat;
                    }
                    catch (Exception)
                    {
                        // Stopping: the call failed because this silo is leaving; the next driver looks at the document.
                    }
                }
            }
        }
        catch (OperationCanceledException) when (Stopping(ct))
        {
            // Deactivation or a restarted driver: the next one starts from the checkpoints.
        }
        finally
        {
            foreach (var call in inFlight.Values)
            {
                // Abandoned calls still complete; their outcome is in the checkpoint table, not here.
                _ = call.Call.ContinueWith(static t => t.Exception, TaskScheduler.Default);
            }
        }
    }

    /// <summary>The vectors and files of the versions an indexed document replaced; left to the sweep if that fails.</summary>
    private async Task RemoveReplacedVersionsAsync(string tenantId, Guid batchId, CancellationToken ct)
    {
        try
        {
            await replacedVersions.RunAsync(tenantId, ct);
        }
        catch (Exception ex) when (!Stopping(ct))
        {
            LogRemovalFailed(logger, ex, tenantId, batchId);
        }
    }

    private async Task GiveUpAsync(string tenantId, Guid documentId, string code, string message)
    {
        if (await repository.GiveUpDocumentAsync(tenantId, documentId, code, message, CancellationToken.None))
        {
            // A failed document is never searchable: drop whatever a partial attempt left in the index.
            await ((IVectorStore)ServiceProvider.GetService(typeof(IVectorStore))!).DeleteDocumentAsync(tenantId, documentId, CancellationToken.None);
            AuroraNexus.Grains.Operations.NexusMetrics.DocumentIngested(tenantId, DocumentStatuses.Failed);
        }
    }

    private async Task FinishAsync(IReadOnlyList<BatchDocumentRow> rows, Guid batchId, CancellationToken ct)
    {
        var s = state.State;
        s.Status = rows.Count == 0 && s.Documents.Count > 0 ? BatchStatuses.Cancelled
            : rows.Count > 0 && rows.All(d => d.Status == DocumentStatuses.Failed) ? BatchStatuses.Failed
            : rows.Any(d => d.Status == DocumentStatuses.Failed) ? BatchStatuses.CompletedWithErrors
            : BatchStatuses.Completed;
        await state.WriteStateAsync(ct);
        await repository.SetBatchStatusAsync(s.TenantId, batchId, s.Status, finished: true, ct);
        if (await this.GetReminder(ResumeReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }

        LogFinished(logger, s.TenantId, batchId, s.Status, rows.Count(d => d.Status == DocumentStatuses.Indexed), rows.Count);
    }

    // The host stopping comes first: worker calls then fail because the silo is leaving, not because of the document.
    private bool Stopping(CancellationToken ct) =>
        _stopping || ct.IsCancellationRequested || lifetime.ApplicationStopping.IsCancellationRequested;

    private static bool IsFinished(string status) =>
        status is BatchStatuses.Completed or BatchStatuses.CompletedWithErrors or BatchStatuses.Failed or BatchStatuses.Cancelled;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId} of tenant {TenantId}: the call for document {DocumentId} failed")]
    private static partial void LogAttemptFailed(ILogger logger, Exception ex, string tenantId, Guid batchId, Guid documentId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId} of tenant {TenantId}: document {DocumentId} went silent during attempt {Attempt}; trying again")]
    private static partial void LogLost(ILogger logger, string tenantId, Guid batchId, Guid documentId, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch {BatchId} of tenant {TenantId} finished: {Status} ({Indexed} of {Total} indexed)")]
    private static partial void LogFinished(ILogger logger, string tenantId, Guid batchId, string status, int indexed, int total);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId} of tenant {TenantId} was never started; rebuilt from its {Count} documents")]
    private static partial void LogRebuilt(ILogger logger, string tenantId, Guid batchId, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Batch {BatchId} of tenant {TenantId} driven by silo {Silo}")]
    private static partial void LogDriving(ILogger logger, string tenantId, Guid batchId, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId} of tenant {TenantId}: removing the versions its documents replaced failed; the ingestion sweep retries")]
    private static partial void LogRemovalFailed(ILogger logger, Exception ex, string tenantId, Guid batchId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId} of tenant {TenantId}: its driver stopped beating; restarted")]
    private static partial void LogRestarted(ILogger logger, string tenantId, Guid batchId);
}
