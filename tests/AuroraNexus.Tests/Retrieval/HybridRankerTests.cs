using AuroraNexus.Grains.Retrieval;

namespace AuroraNexus.Tests.Retrieval;

public sealed class HybridRankerTests
{
    private static readonly Guid DocA = Guid.Parse("00000000-0000-0000-0000-00000000000a");
    private static readonly Guid DocB = Guid.Parse("00000000-0000-0000-0000-00000000000b");

    private static readonly Dictionary<long, (Guid DocumentId, float[] Vector)> Index = new()
    {
        [1] = (DocA, [1f, 0f]),
        [2] = (DocB, [0f, 1f]),
        [3] = (DocB, [0.6f, 0.8f]),
    };

    private static RankRequest Request(double documentWeight, params DocumentHit[] documents) => new(
        [1f, 0f], [new LexicalHit(1, 2.0)], DenseCandidates: 1, TopK: 2, DenseWeight: 0.7, MmrLambda: 1,
        PreferredChunks: [], Documents: [.. documents], DocumentWeight: documentWeight, LeadWeight: 0);

    private static List<(long, Guid, float[])> DenseTop => [(1, DocA, Index[1].Vector)];

    [Fact]
    public void A_document_found_only_as_a_whole_competes_with_its_chunk_closest_to_the_question()
    {
        var ranked = HybridRanker.Rank(Request(0.5, new DocumentHit(DocB, 3.0, 0)), DenseTop,
            id => Index.TryGetValue(id, out var v) ? v : null,
            doc => Index.Where(p => p.Value.DocumentId == doc).Select(p => p.Key));

        Assert.Equal([1L, 3L], ranked.Select(r => r.ChunkId));
    }

    [Fact]
    public void The_whole_document_score_can_outrank_the_best_chunk()
    {
        var ranked = HybridRanker.Rank(Request(5, new DocumentHit(DocA, 0.1, 0), new DocumentHit(DocB, 3.0, 0)), DenseTop,
            id => Index.TryGetValue(id, out var v) ? v : null,
            doc => Index.Where(p => p.Value.DocumentId == doc).Select(p => p.Key));

        Assert.Equal(DocB, ranked[0].DocumentId);
    }

    [Fact]
    public void Combining_the_two_full_text_columns_adds_the_weighted_scores()
    {
        var folded = new LexicalResult([new LexicalHit(1, 1.0)], [new DocumentHit(DocA, 2.0, 1.0)]);
        var accents = new LexicalResult([new LexicalHit(1, 1.0), new LexicalHit(2, 4.0)], [new DocumentHit(DocB, 1.0, 0)]);

        var combined = LexicalResult.Combine(folded, accents, 0.5, 10);

        Assert.Equal([(2L, 2.0), (1L, 1.5)], combined.Chunks.Select(h => (h.ChunkId, h.Score)));
        Assert.Equal([(DocA, 2.0), (DocB, 0.5)], combined.Documents.Select(h => (h.DocumentId, h.Score)));
    }
}
