using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Grains.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AuroraNexus.Grains.Hosting;

/// <summary>
/// Creates the S3 buckets and the Qdrant collection when they are missing, once at start, and fills an empty collection
/// from the vectors kept in PostgreSQL. A store that is down then does not stop the process: health reports it with the
/// fix, and the stores try again on the next probe or write.
/// </summary>
public sealed partial class StoreInitializer(IServiceProvider services, ILogger<StoreInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(20));
        if (services.GetService<IObjectStore>() is S3ObjectStore s3)
        {
            try
            {
                await s3.EnsureBucketsAsync(timeout.Token);
            }
            catch (Exception ex) when (ex is ObjectStoreUnavailableException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                LogNotReady(logger, "object store", ex.Message);
            }
        }

        if (services.GetService<IVectorStore>() is QdrantVectorStore qdrant)
        {
            try
            {
                await qdrant.EnsureCollectionAsync(timeout.Token);
                // Copying a large corpus takes longer than creating things: its own budget.
                using var backfill = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                backfill.CancelAfter(TimeSpan.FromMinutes(10));
                var copied = await qdrant.BackfillAsync(services.GetRequiredService<NpgsqlDataSource>(), backfill.Token);
                if (copied > 0)
                {
                    LogBackfilled(logger, copied);
                }
            }
            catch (Exception ex) when (ex is VectorStoreUnavailableException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                LogNotReady(logger, "vector store", ex.Message);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Copied {Count} vectors from PostgreSQL into the empty Qdrant collection")]
    private static partial void LogBackfilled(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The {Component} is not ready at start (health reports it until it is): {Reason}")]
    private static partial void LogNotReady(ILogger logger, string component, string reason);
}
