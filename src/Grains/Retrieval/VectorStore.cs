using System.Collections.Immutable;
using AuroraNexus.Grains.Hosting;

namespace AuroraNexus.Grains.Retrieval;

/// <summary>
/// Where the chunks' vectors are searched. Every call names the tenant and only ever sees that tenant's vectors;
/// a deleted document's vectors are never returned again. Two adapters: the embedded index (single node) and Qdrant.
/// </summary>
public interface IVectorStore
{
    string Describe { get; }

    /// <summary>Replaces the vectors of every document named in <paramref name="entries"/> with these.</summary>
    Task UpsertAsync(string tenantId, ImmutableArray<VectorEntry> entries, CancellationToken cancellationToken);

    Task DeleteDocumentAsync(string tenantId, Guid documentId, CancellationToken cancellationToken);

    /// <summary>The <paramref name="limit"/> chunks closest to <paramref name="vector"/> (cosine), closest first, ties by chunk id.</summary>
    /// <param name="documents">When not empty, only chunks of these documents.</param>
    Task<ImmutableArray<RankedChunk>> SearchAsync(
        string tenantId, float[] vector, int limit, ImmutableArray<Guid> documents, CancellationToken cancellationToken);

    /// <summary>Hybrid ranking (<see cref="HybridRanker"/>) of the dense candidates and the request's lexical hits.</summary>
    Task<ImmutableArray<RankedChunk>> RankAsync(string tenantId, RankRequest request, CancellationToken cancellationToken);

    Task<ComponentProbe> ProbeAsync(CancellationToken cancellationToken);
}

/// <summary>The single-node default: each tenant's <see cref="IVectorIndexGrain"/> (vectors in memory, kept in PostgreSQL).</summary>
public sealed class EmbeddedVectorStore(IGrainFactory grains) : IVectorStore
{
    public string Describe => "embedded index (vectors kept in PostgreSQL, searched in memory)";

    public Task UpsertAsync(string tenantId, ImmutableArray<VectorEntry> entries, CancellationToken cancellationToken) =>
        grains.GetGrain<IVectorIndexGrain>(tenantId).AddAsync(entries, cancellationToken);

    public Task DeleteDocumentAsync(string tenantId, Guid documentId, CancellationToken cancellationToken) =>
        grains.GetGrain<IVectorIndexGrain>(tenantId).RemoveDocumentAsync(documentId, cancellationToken);

    public Task<ImmutableArray<RankedChunk>> SearchAsync(
        string tenantId, float[] vector, int limit, ImmutableArray<Guid> documents, CancellationToken cancellationToken) =>
        grains.GetGrain<IVectorIndexGrain>(tenantId).SearchAsync(
            new VectorQuery(vector, limit, documents.IsDefault ? [] : documents), cancellationToken);

    public Task<ImmutableArray<RankedChunk>> RankAsync(string tenantId, RankRequest request, CancellationToken cancellationToken) =>
        grains.GetGrain<IVectorIndexGrain>(tenantId).RankAsync(request, cancellationToken);

    public Task<ComponentProbe> ProbeAsync(CancellationToken cancellationToken) => Task.FromResult(ComponentProbe.Ok(Describe));
}
