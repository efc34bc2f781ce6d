using System.Collections.Immutable;
using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Grains.Retrieval;

/// <summary>Hybrid retrieval for one tenant: French full text in PostgreSQL + dense search in the tenant's index, fused, MMR.</summary>
public sealed class RetrievalService(LexicalSearch lexical, IEmbedder embedder, IGrainFactory grains)
{
    public async Task<IReadOnlyList<Passage>> RetrieveAsync(
        string tenantId, string query, TenantSettings settings, int topK, ImmutableArray<long> preferredChunks,
        CancellationToken ct)
    {
        var lexicalTask = lexical.SearchAsync(tenantId, query, settings.LexicalCandidates, ct);
        var vector = await embedder.EmbedQueryAsync(query, ct);
        var hits = await lexicalTask;
        var ranked = await grains.GetGrain<IVectorIndexGrain>(tenantId).RankAsync(
            new RankRequest(vector, hits, settings.DenseCandidates, topK, settings.DenseWeight, settings.MmrLambda,
                preferredChunks.IsDefault ? [] : preferredChunks),
            ct);
        var texts = await lexical.LoadChunksAsync(tenantId, [.. ranked.Select(r => r.ChunkId)], ct);
        var scoreOf = ranked.ToDictionary(r => r.ChunkId, r => r.Score);
        return [.. texts.Select(t => new Passage(t.ChunkId, t.DocumentId, t.FileName, t.ChunkIndex, scoreOf[t.ChunkId], t.Text))];
    }
}
