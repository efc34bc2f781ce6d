using System.Collections.Immutable;
using System.Diagnostics;
using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Tenancy;
using Microsoft.Extensions.Logging;

namespace AuroraNexus.Grains.Retrieval;

/// <summary>
/// Hybrid retrieval for one tenant: French full text in PostgreSQL (chunks and whole documents) + dense search in the
/// tenant's index, fused, MMR.
/// </summary>
public sealed partial class RetrievalService(
    LexicalSearch lexical, IEmbedder embedder, IVectorStore vectors, ILogger<RetrievalService> logger)
{
    public async Task<IReadOnlyList<Passage>> RetrieveAsync(
        string tenantId, string query, TenantSettings settings, int topK, ImmutableArray<long> preferredChunks,
        CancellationToken ct)
    {
        var options = new LexicalOptions(settings.LexicalCandidates, settings.Bm25K1, settings.Bm25B, settings.AccentStemWeight,
            settings.DocumentWeight > 0 || settings.LeadWeight > 0, settings.LeadWeight > 0, settings.AsideWeight);
        var start = Stopwatch.GetTimestamp();
        var lexicalTask = lexical.SearchAsync(tenantId, query, options, ct);
        var vector = await embedder.EmbedQueryAsync(query, ct);
        var embedded = Stopwatch.GetElapsedTime(start);
        var hits = await lexicalTask;
        var searched = Stopwatch.GetElapsedTime(start);
        var ranked = await vectors.RankAsync(tenantId,
            new RankRequest(vector, hits.Chunks, settings.DenseCandidates, topK, settings.DenseWeight, settings.MmrLambda,
                preferredChunks.IsDefault ? [] : preferredChunks, hits.Documents, settings.DocumentWeight, settings.LeadWeight),
            ct);
        var rankedAt = Stopwatch.GetElapsedTime(start);
        var texts = await lexical.LoadChunksAsync(tenantId, [.. ranked.Select(r => r.ChunkId)], ct);
        LogTimings(logger, tenantId, embedded.TotalMilliseconds, searched.TotalMilliseconds, (rankedAt - searched).TotalMilliseconds,
            (Stopwatch.GetElapsedTime(start) - rankedAt).TotalMilliseconds);
        var scoreOf = ranked.ToDictionary(r => r.ChunkId, r => r.Score);
        return [.. texts.Select(t => new Passage(t.ChunkId, t.DocumentId, t.FileName, t.ChunkIndex, scoreOf[t.ChunkId], t.Text))];
    }

    [LoggerMessage(Level = LogLevel.Debug,
        Message = "Retrieval for tenant {TenantId}: embedding {EmbedMs:F1} ms, embedding and full text {SearchMs:F1} ms, ranking {RankMs:F1} ms, loading {LoadMs:F1} ms")]
    private static partial void LogTimings(ILogger logger, string tenantId, double embedMs, double searchMs, double rankMs, double loadMs);
}
