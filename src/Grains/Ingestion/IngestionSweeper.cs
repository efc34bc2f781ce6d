using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>
/// Runs on every silo: twice per lease it looks for batches that are not finished and whose driver has been silent
/// for longer than the lease (its silo died, its loop hangs, or the upload request died before starting it) and
/// wakes their batch grain, which resumes from the documents' checkpoints; and for replaced versions whose vectors
/// and files were left behind (the silo died after indexing their new version), which it removes. Several silos
/// doing the same is harmless: resuming and removing are idempotent.
/// </summary>
public sealed partial class IngestionSweeper(
    IngestionRepository repository,
    ReplacedVersionRemoval replacedVersions,
    IGrainFactory grains,
    IngestionOptions options,
    ILogger<IngestionSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Lease / 2);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            try
            {
                foreach (var (tenantId, batchId) in await repository.ListSilentBatchesAsync(options.Lease, 100, stoppingToken))
                {
                    LogResuming(logger, tenantId, batchId);
                    await grains.GetGrain<IIngestionBatchGrain>(batchId).ResumeAsync(tenantId, stoppingToken);
                }

                foreach (var tenantId in await repository.ListTenantsWithStaleRemovalsAsync(options.Lease, 100, stoppingToken))
                {
                    LogFinishingRemovals(logger, tenantId);
                    await replacedVersions.RunAsync(tenantId, stoppingToken);
                }
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                // The silo may still be joining, or the database away for a moment: the next tick tries again.
                LogSweepFailed(logger, ex);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Batch {BatchId} of tenant {TenantId} has a silent driver; resuming it")]
    private static partial void LogResuming(ILogger logger, string tenantId, Guid batchId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tenant {TenantId} has replaced versions whose removal was left unfinished; finishing it")]
    private static partial void LogFinishingRemovals(ILogger logger, string tenantId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ingestion sweep failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception ex);
}
