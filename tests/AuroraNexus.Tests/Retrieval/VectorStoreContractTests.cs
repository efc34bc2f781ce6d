using System.Collections.Immutable;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Tests.Api;
using AuroraNexus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace AuroraNexus.Tests.Retrieval;

/// <summary>Vectors and ids the vector store tests write: unit vectors of the model's size, ids unique across the run.</summary>
public static class VectorData
{
    private static long _nextId = Random.Shared.NextInt64(1L << 40, 1L << 50);

    public static long NextId() => Interlocked.Increment(ref _nextId);

    public static string NewTenant() => "t-" + Guid.NewGuid().ToString("N")[..12];

    public static float[] Unit(Random random)
    {
        var v = new float[MiniLmEmbedder.VectorDimensions];
        for (var i = 0; i < v.Length; i++)
        {
            v[i] = (float)(random.NextDouble() * 2 - 1);
        }

        return Normalise(v);
    }

    /// <summary>A unit vector close to <paramref name="near"/> (cosine about 1 - noise).</summary>
    public static float[] Near(float[] near, Random random, double noise)
    {
        var other = Unit(random);
        return Normalise([.. near.Select((x, i) => x + (float)noise * other[i])]);
    }

    public static ImmutableArray<VectorEntry> Document(Guid document, params float[][] vectors) =>
        [.. vectors.Select(v => new VectorEntry(NextId(), document, v))];

    /// <summary>What an exact cosine search must answer: closest first, ties by chunk id.</summary>
    public static long[] Expected(IEnumerable<VectorEntry> entries, float[] query, int limit) =>
        [.. entries.Select(e => (e.ChunkId, Score: HybridRanker.Dot(query, e.Vector)))
            .OrderByDescending(x => x.Score).ThenBy(x => x.ChunkId).Take(limit).Select(x => x.ChunkId)];

    private static float[] Normalise(float[] v)
    {
        var norm = MathF.Sqrt(v.Sum(x => x * x));
        return [.. v.Select(x => x / norm)];
    }
}

/// <summary>What every vector store must do, whatever holds the vectors.</summary>
public abstract class VectorStoreContract
{
    protected abstract IVectorStore Store { get; }

    private static RankRequest Rank(float[] query, int topK, ImmutableArray<LexicalHit> lexical = default) => new(
        query, lexical.IsDefault ? [] : lexical, DenseCandidates: 50, topK, DenseWeight: 1, MmrLambda: 1, PreferredChunks: [],
        Documents: [], DocumentWeight: 0, LeadWeight: 0);

    [Fact]
    public async Task Search_returns_the_closest_chunks_first_with_cosine_scores()
    {
        var random = new Random(11);
        var tenant = VectorData.NewTenant();
        var a = VectorData.Document(Guid.NewGuid(), VectorData.Unit(random), VectorData.Unit(random), VectorData.Unit(random));
        var b = VectorData.Document(Guid.NewGuid(), VectorData.Unit(random), VectorData.Unit(random));
        await Store.UpsertAsync(tenant, a, CancellationToken.None);
        await Store.UpsertAsync(tenant, b, CancellationToken.None);
        var query = VectorData.Near(b[1].Vector, random, 0.3);

        var hits = await Store.SearchAsync(tenant, query, 4, [], CancellationToken.None);

        Assert.Equal(VectorData.Expected([.. a, .. b], query, 4), hits.Select(h => h.ChunkId));
        Assert.Equal(b[1].ChunkId, hits[0].ChunkId);
        Assert.Equal(b[1].DocumentId, hits[0].DocumentId);
        Assert.Equal(HybridRanker.Dot(query, b[1].Vector), hits[0].Score, 4);
    }

    [Fact]
    public async Task The_same_content_in_another_tenant_is_independent_and_never_seen_across()
    {
        var random = new Random(12);
        var mine = VectorData.NewTenant();
        var theirs = VectorData.NewTenant();
        var vectors = new[] { VectorData.Unit(random), VectorData.Unit(random) };
        var myDoc = VectorData.Document(Guid.NewGuid(), vectors);
        var theirDoc = VectorData.Document(Guid.NewGuid(), vectors);
        await Store.UpsertAsync(mine, myDoc, CancellationToken.None);
        await Store.UpsertAsync(theirs, theirDoc, CancellationToken.None);

        var myHits = await Store.SearchAsync(mine, vectors[0], 10, [], CancellationToken.None);
        var theirHits = await Store.SearchAsync(theirs, vectors[0], 10, [], CancellationToken.None);
        Assert.Equal(myDoc.Select(e => e.ChunkId).Order(), myHits.Select(h => h.ChunkId).Order());
        Assert.Equal(theirDoc.Select(e => e.ChunkId).Order(), theirHits.Select(h => h.ChunkId).Order());

        // Their chunk ids offered as lexical hits (as a bug upstream could) still rank nothing of theirs for me.
        var ranked = await Store.RankAsync(mine, Rank(vectors[0], 10, [.. theirDoc.Select(e => new LexicalHit(e.ChunkId, 5))]), CancellationToken.None);
        Assert.All(ranked, r => Assert.Equal(myDoc[0].DocumentId, r.DocumentId));

        await Store.DeleteDocumentAsync(theirs, theirDoc[0].DocumentId, CancellationToken.None);
        Assert.Equal(2, (await Store.SearchAsync(mine, vectors[0], 10, [], CancellationToken.None)).Length);
        Assert.Empty(await Store.SearchAsync(theirs, vectors[0], 10, [], CancellationToken.None));
    }

    [Fact]
    public async Task A_deleted_document_is_never_searched_or_ranked_again()
    {
        var random = new Random(13);
        var tenant = VectorData.NewTenant();
        var kept = VectorData.Document(Guid.NewGuid(), VectorData.Unit(random), VectorData.Unit(random));
        var deleted = VectorData.Document(Guid.NewGuid(), VectorData.Unit(random), VectorData.Unit(random));
        await Store.UpsertAsync(tenant, kept, CancellationToken.None);
        await Store.UpsertAsync(tenant, deleted, CancellationToken.None);

        await Store.DeleteDocumentAsync(tenant, deleted[0].DocumentId, CancellationToken.None);
        await Store.DeleteDocumentAsync(tenant, deleted[0].DocumentId, CancellationToken.None);

        var hits = await Store.SearchAsync(tenant, deleted[0].Vector, 10, [], CancellationToken.None);
        Assert.Equal(kept.Select(e => e.ChunkId).Order(), hits.Select(h => h.ChunkId).Order());
        var ranked = await Store.RankAsync(tenant,
            Rank(deleted[0].Vector, 5, [.. deleted.Select(e => new LexicalHit(e.ChunkId, 9))]) with
            {
                PreferredChunks = [deleted[1].ChunkId],
                Documents = [new DocumentHit(deleted[0].DocumentId, 9, 1)],
                DocumentWeight = 1,
                LeadWeight = 1,
            },
            CancellationToken.None);
        Assert.NotEmpty(ranked);
        Assert.DoesNotContain(ranked, r => r.DocumentId == deleted[0].DocumentId);
    }

    [Fact]
    public async Task Indexing_a_document_again_replaces_its_earlier_chunks()
    {
        var random = new Random(14);
        var tenant = VectorData.NewTenant();
        var document = Guid.NewGuid();
        var first = VectorData.Document(document, VectorData.Unit(random), VectorData.Unit(random), VectorData.Unit(random));
        var second = VectorData.Document(document, VectorData.Unit(random));
        await Store.UpsertAsync(tenant, first, CancellationToken.None);
        await Store.UpsertAsync(tenant, second, CancellationToken.None);

        var hits = await Store.SearchAsync(tenant, first[0].Vector, 10, [], CancellationToken.None);

        Assert.Equal(second[0].ChunkId, Assert.Single(hits).ChunkId);
    }

    [Fact]
    public async Task Search_can_be_limited_to_some_documents()
    {
        var random = new Random(15);
        var tenant = VectorData.NewTenant();
        var docs = Enumerable.Range(0, 4).Select(_ => VectorData.Document(Guid.NewGuid(), VectorData.Unit(random), VectorData.Unit(random))).ToList();
        foreach (var d in docs)
        {
            await Store.UpsertAsync(tenant, d, CancellationToken.None);
        }

        var query = docs[0][0].Vector;
        var hits = await Store.SearchAsync(tenant, query, 10, [docs[1][0].DocumentId, docs[3][0].DocumentId], CancellationToken.None);

        Assert.Equal(VectorData.Expected([.. docs[1], .. docs[3]], query, 10), hits.Select(h => h.ChunkId));
    }

    [Fact]
    public async Task Ranking_fuses_lexical_hits_with_dense_candidates()
    {
        var random = new Random(16);
        var tenant = VectorData.NewTenant();
        var docs = Enumerable.Range(0, 6).Select(_ => VectorData.Document(Guid.NewGuid(), VectorData.Unit(random), VectorData.Unit(random))).ToList();
        foreach (var d in docs)
        {
            await Store.UpsertAsync(tenant, d, CancellationToken.None);
        }

        // Far from the question but a strong full-text match: only the lexical signal can bring it in.
        var query = VectorData.Near(docs[0][0].Vector, random, 0.2);
        var lexicalOnly = docs[5][1];
        var request = Rank(query, 3, [new LexicalHit(lexicalOnly.ChunkId, 12)]) with { DenseCandidates = 2 };

        var ranked = await Store.RankAsync(tenant, request, CancellationToken.None);

        Assert.Contains(ranked, r => r.ChunkId == lexicalOnly.ChunkId);
        Assert.Contains(ranked, r => r.ChunkId == docs[0][0].ChunkId);
    }

    [Fact]
    public async Task The_probe_of_a_working_store_is_ok()
    {
        await Store.UpsertAsync(VectorData.NewTenant(), VectorData.Document(Guid.NewGuid(), VectorData.Unit(new Random(17))), CancellationToken.None);
        var probe = await Store.ProbeAsync(CancellationToken.None);
        Assert.True(probe.IsOk, probe.Message);
    }
}

/// <summary>The embedded index behind the single-node app's real silo.</summary>
[Collection("api")]
public sealed class EmbeddedVectorStoreContractTests(ApiFixture fx) : VectorStoreContract
{
    protected override IVectorStore Store { get; } = new EmbeddedVectorStore(fx.App.Services.GetRequiredService<IGrainFactory>());
}

/// <summary>The Qdrant adapter against the loopback gRPC stand-in, which refuses any read not filtered on a tenant.</summary>
public sealed class QdrantVectorStoreContractTests : VectorStoreContract, IAsyncLifetime
{
    private QdrantStandIn _qdrant = null!;
    private QdrantVectorStore _store = null!;

    protected override IVectorStore Store => _store;

    public async Task InitializeAsync()
    {
        _qdrant = await QdrantStandIn.StartAsync();
        _store = new QdrantVectorStore(new QdrantOptions(_qdrant.Url, MiniLmEmbedder.Model, MiniLmEmbedder.VectorDimensions),
            NullLogger<QdrantVectorStore>.Instance);
    }

    public async Task DisposeAsync()
    {
        // Whatever the test did, no request reached the stand-in without a tenant filter.
        Assert.Empty(_qdrant.State.Rejected);
        _store.Dispose();
        await _qdrant.DisposeAsync();
    }
}
