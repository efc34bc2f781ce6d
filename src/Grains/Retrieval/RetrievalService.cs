using System.Collections.Immutable;
using AuroraNexus.Grains.Conversation;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Tenancy;

namespace AuroraNexus.Grains.Retrieval;

/// <summary>
/// Hybrid retrieval for one tenant: French full text in PostgreSQL (chunks and whole documents) + dense search in the
/// tenant's index, fused, MMR.
/// </summary>
public sealed class RetrievalService(LexicalSearch lexical, IEmbedder embedder, IGrainFactory grains)
{
    public async Task<IReadOnlyList<Passage>> RetrieveAsync(
        string tenantId, string query, TenantSettings settings, int topK, ImmutableArray<long> preferredChunks,
        CancellationToken ct)
    {
        var options = new LexicalOptions(settings.LexicalCandidates, settings.Bm25K1, settings.Bm25B, settings.AccentStemWeight,
            settings.DocumentWeight > 0 || settings.LeadWeight > 0, settings.LeadWeight > 0);
        var lexicalTask = lexical.SearchAsync(tenantId, query, options, ct);
        var vector = await embedder.EmbedQueryAsync(query, ct);
        var hits = await lexicalTask;
        var ranked = await grains.GetGrain<IVectorIndexGrain>(tenantId).RankAsync(
            new RankRequest(vector, hits.Chunks, settings.DenseCandidates, topK, settings.DenseWeight, settings.MmrLambda,
                preferredChunks.IsDefault ? [] : preferredChunks, hits.Documents, settings.DocumentWeight, settings.LeadWeight),
            ct);
        var texts = await lexical.LoadChunksAsync(tenantId, [.. ranked.Select(r => r.ChunkId)], ct);
        var scoreOf = ranked.ToDictionary(r => r.ChunkId, r => r.Score);
        return [.. texts.Select(t => new Passage(t.ChunkId, t.DocumentId, t.FileName, t.ChunkIndex, scoreOf[t.ChunkId], t.Text))];
    }
}
