using System.Collections.Immutable;

namespace AuroraNexus.Grains.Retrieval;

[GenerateSerializer, Immutable, Alias("nexus.VectorEntry")]
public sealed record VectorEntry(
    [property: Id(0)] long ChunkId,
    [property: Id(1)] Guid DocumentId,
    [property: Id(2)] float[] Vector);

[GenerateSerializer, Immutable, Alias("nexus.LexicalHit")]
public sealed record LexicalHit([property: Id(0)] long ChunkId, [property: Id(1)] double Score);

/// <summary>A document's lexical scores: BM25 of the whole document and how well its first line matches the question.</summary>
[GenerateSerializer, Immutable, Alias("nexus.DocumentHit")]
public sealed record DocumentHit([property: Id(0)] Guid DocumentId, [property: Id(1)] double Score, [property: Id(2)] double Lead);

[GenerateSerializer, Immutable, Alias("nexus.RankRequest")]
public sealed record RankRequest(
    [property: Id(0)] float[] QueryVector,
    [property: Id(1)] ImmutableArray<LexicalHit> Lexical,
    [property: Id(2)] int DenseCandidates,
    [property: Id(3)] int TopK,
    [property: Id(4)] double DenseWeight,
    [property: Id(5)] double MmrLambda,
    [property: Id(6)] ImmutableArray<long> PreferredChunks,
    [property: Id(7)] ImmutableArray<DocumentHit> Documents,
    [property: Id(8)] double DocumentWeight,
    [property: Id(9)] double LeadWeight);

[GenerateSerializer, Immutable, Alias("nexus.RankedChunk")]
public sealed record RankedChunk(
    [property: Id(0)] long ChunkId,
    [property: Id(1)] Guid DocumentId,
    [property: Id(2)] double Score);

/// <summary>A plain nearest-neighbour search: the <see cref="Limit"/> closest chunks, optionally only of some documents.</summary>
[GenerateSerializer, Immutable, Alias("nexus.VectorQuery")]
public sealed record VectorQuery(
    [property: Id(0)] float[] Vector,
    [property: Id(1)] int Limit,
    [property: Id(2)] ImmutableArray<Guid> Documents);

/// <summary>A tenant's vectors (embedded mode): exact search, fusion with the lexical hits and MMR.</summary>
[Alias("nexus.IVectorIndexGrain")]
public interface IVectorIndexGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(ImmutableArray<VectorEntry> entries, CancellationToken cancellationToken = default);

    [Alias("RemoveDocument")]
    Task RemoveDocumentAsync(Guid documentId, CancellationToken cancellationToken = default);

    [Alias("Rank")]
    Task<ImmutableArray<RankedChunk>> RankAsync(RankRequest request, CancellationToken cancellationToken = default);

    /// <summary>Closest first; equal scores by chunk id.</summary>
    [Alias("Search")]
    Task<ImmutableArray<RankedChunk>> SearchAsync(VectorQuery query, CancellationToken cancellationToken = default);
}
