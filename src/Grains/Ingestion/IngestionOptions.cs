using AuroraNexus.Grains.Hosting;
using Microsoft.Extensions.Configuration;

namespace AuroraNexus.Grains.Ingestion;

/// <summary>How ingestion uses a silo and how it notices work that stopped (.env.example documents each variable).</summary>
public sealed record IngestionOptions
{
    private static readonly int Cores = Math.Max(1, Environment.ProcessorCount);

    /// <summary>
    /// NEXUS_INGEST_LEASE_SECONDS: a document attempt or a batch driver silent for longer than this is taken as lost
    /// (its silo died or hangs): the document is tried again, the batch is resumed on a live silo. Heartbeats are sent
    /// four times per lease.
    /// </summary>
    public TimeSpan Lease { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>NEXUS_INGEST_MAX_ATTEMPTS: attempts of one document before it fails with its last error.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>NEXUS_INGEST_PARALLELISM: documents of one batch in flight at once, across the cluster.</summary>
    public int Parallelism { get; init; } = 8;

    /// <summary>NEXUS_EMBEDDING_CONCURRENCY: model runs at once in one silo, across all batches (default: one per 2 cores).</summary>
    public int EmbeddingConcurrency { get; init; } = Math.Max(1, Cores / 2);

    /// <summary>NEXUS_EMBEDDING_THREADS: threads inside one model run (default: the cores divided among the runs).</summary>
    public int EmbeddingThreads { get; init; } = Math.Max(1, Cores / Math.Max(1, Cores / 2));

    public TimeSpan Heartbeat => Lease / 4;

    public MiniLmOptions Embedding => new() { MaxConcurrency = EmbeddingConcurrency, IntraOpThreads = EmbeddingThreads };

    public static IngestionOptions Load(IConfiguration config)
    {
        var defaults = new IngestionOptions();
        var concurrency = Int(config, "NEXUS_EMBEDDING_CONCURRENCY", defaults.EmbeddingConcurrency, 1, 64);
        return new IngestionOptions
        {
            Lease = TimeSpan.FromSeconds(Int(config, "NEXUS_INGEST_LEASE_SECONDS", (int)defaults.Lease.TotalSeconds, 2, 3600)),
            MaxAttempts = Int(config, "NEXUS_INGEST_MAX_ATTEMPTS", defaults.MaxAttempts, 1, 20),
            Parallelism = Int(config, "NEXUS_INGEST_PARALLELISM", defaults.Parallelism, 1, 256),
            EmbeddingConcurrency = concurrency,
            EmbeddingThreads = Int(config, "NEXUS_EMBEDDING_THREADS", Math.Max(1, Cores / concurrency), 1, 64),
        };
    }

    private static int Int(IConfiguration config, string name, int fallback, int min, int max)
    {
        var v = config[name]?.Trim();
        if (string.IsNullOrEmpty(v))
        {
            return fallback;
        }

        return int.TryParse(v, out var n) && n >= min && n <= max
            ? n
            : throw new NexusConfigurationException(name, $"'{v}' is not a whole number from {min} to {max}; unset it for the default ({fallback})");
    }
}
