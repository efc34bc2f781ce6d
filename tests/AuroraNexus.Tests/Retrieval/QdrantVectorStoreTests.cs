using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using AuroraNexus.Grains.Ingestion;
using AuroraNexus.Grains.Retrieval;
using AuroraNexus.Tests.Api;
using AuroraNexus.Tests.Infrastructure;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Qdrant.Client;
using Qdrant.Client.Grpc;

namespace AuroraNexus.Tests.Retrieval;

public sealed class QdrantVectorStoreTests : IAsyncLifetime
{
    private QdrantStandIn _qdrant = null!;

    public async Task InitializeAsync() => _qdrant = await QdrantStandIn.StartAsync();

    public async Task DisposeAsync() => await _qdrant.DisposeAsync();

    private QdrantVectorStore NewStore(Uri? url = null, int dimensions = MiniLmEmbedder.VectorDimensions) =>
        new(new QdrantOptions(url ?? _qdrant.Url, MiniLmEmbedder.Model, dimensions), NullLogger<QdrantVectorStore>.Instance);

    [Fact]
    public async Task The_stand_in_refuses_a_search_without_a_tenant_filter()
    {
        // The isolation checks below mean something only if an unscoped search really fails.
        using var store = NewStore();
        await store.EnsureCollectionAsync(CancellationToken.None);
        using var raw = new QdrantClient(_qdrant.Url);

        var error = await Assert.ThrowsAsync<RpcException>(() => raw.QueryAsync(
            new QdrantOptions(_qdrant.Url, MiniLmEmbedder.Model, MiniLmEmbedder.VectorDimensions).Collection,
            VectorData.Unit(new Random(1)), limit: 5));

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("tenant_id", error.Status.Detail);
    }

    [Fact]
    public async Task One_collection_per_model_with_a_tenant_keyword_index_created_once()
    {
        using var first = NewStore();
        using var second = NewStore();
        await first.EnsureCollectionAsync(CancellationToken.None);
        await second.EnsureCollectionAsync(CancellationToken.None);
        await first.EnsureCollectionAsync(CancellationToken.None);

        var collection = Assert.Single(_qdrant.State.Collections);
        Assert.Equal("nexus_chunks_all_minilm_l6_v2", collection.Key);
        Assert.Equal(384UL, collection.Value.Size);
        Assert.Single(_qdrant.State.Calls, c => c.StartsWith("Create ", StringComparison.Ordinal));
        Assert.Equal(2, _qdrant.State.Calls.Count(c => c.StartsWith("CreateFieldIndex ", StringComparison.Ordinal)));
        Assert.True(collection.Value.Indexes[QdrantVectorStore.TenantField]!.KeywordIndexParams.IsTenant);
        Assert.True(collection.Value.Indexes.ContainsKey(QdrantVectorStore.DocumentField));
    }

    [Fact]
    public async Task Every_read_and_delete_sends_the_tenant_filter()
    {
        using var store = NewStore();
        var random = new Random(2);
        var tenant = VectorData.NewTenant();
        var doc = VectorData.Document(Guid.NewGuid(), VectorData.Unit(random), VectorData.Unit(random));
        await store.UpsertAsync(tenant, doc, CancellationToken.None);
        await store.SearchAsync(tenant, doc[0].Vector, 3, [], CancellationToken.None);
        await store.SearchAsync(tenant, doc[0].Vector, 3, [doc[0].DocumentId], CancellationToken.None);
        await store.RankAsync(tenant, new RankRequest(doc[0].Vector, [new LexicalHit(doc[1].ChunkId, 1)], 1, 2, 1, 0.7, [doc[1].ChunkId],
            [new DocumentHit(Guid.NewGuid(), 1, 1)], 1, 1), CancellationToken.None);
        await store.DeleteDocumentAsync(tenant, doc[0].DocumentId, CancellationToken.None);

        Assert.Contains(_qdrant.State.Calls, c => c.StartsWith("Query ", StringComparison.Ordinal));
        Assert.Contains(_qdrant.State.Calls, c => c.StartsWith("Scroll ", StringComparison.Ordinal));
        Assert.Contains(_qdrant.State.Calls, c => c.StartsWith("Delete ", StringComparison.Ordinal));
        Assert.Empty(_qdrant.State.Rejected);
    }

    [Fact]
    public async Task A_missing_collection_shows_in_the_probe_and_is_recreated_on_the_next_write()
    {
        using var store = NewStore();
        await store.EnsureCollectionAsync(CancellationToken.None);
        _qdrant.State.Collections.Clear();

        var probe = await store.ProbeAsync(CancellationToken.None);
        Assert.True(probe.IsError);
        Assert.Contains("collection nexus_chunks_all_minilm_l6_v2 is missing", probe.Message);

        var tenant = VectorData.NewTenant();
        var doc = VectorData.Document(Guid.NewGuid(), VectorData.Unit(new Random(3)));
        await store.UpsertAsync(tenant, doc, CancellationToken.None);
        Assert.Equal(doc[0].ChunkId, Assert.Single(await store.SearchAsync(tenant, doc[0].Vector, 5, [], CancellationToken.None)).ChunkId);
        Assert.True((await store.ProbeAsync(CancellationToken.None)).IsOk);
    }

    [Fact]
    public async Task A_collection_of_another_vector_size_is_an_error_naming_the_fix()
    {
        using (var other = NewStore(dimensions: 8))
        {
            await other.EnsureCollectionAsync(CancellationToken.None);
        }

        using var store = NewStore();
        var probe = await store.ProbeAsync(CancellationToken.None);

        Assert.True(probe.IsError);
        Assert.Contains("8-dimension vectors", probe.Message);
        Assert.Contains("delete the collection", probe.Message);
        await Assert.ThrowsAsync<VectorStoreUnavailableException>(() => store.EnsureCollectionAsync(CancellationToken.None));
    }

    [Fact]
    public async Task An_unreachable_Qdrant_shows_in_the_probe_and_fails_searches_naming_QDRANT_URL()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var store = NewStore(new Uri($"http://127.0.0.1:{port}"));

        var probe = await store.ProbeAsync(CancellationToken.None);
        Assert.True(probe.IsError);
        Assert.Contains("unreachable", probe.Message);
        Assert.Contains("QDRANT_URL", probe.Message);

        var error = await Assert.ThrowsAsync<VectorStoreUnavailableException>(
            () => store.SearchAsync("t", VectorData.Unit(new Random(4)), 3, [], CancellationToken.None));
        Assert.Equal("vector_store_unavailable", error.Code);
    }
}

/// <summary>The embedded index and Qdrant (stand-in) given the same data answer the same, search and hybrid ranking alike.</summary>
[Collection("api")]
public sealed class VectorStoreParityTests(ApiFixture fx) : IAsyncLifetime
{
    private QdrantStandIn _qdrant = null!;
    private QdrantVectorStore _qdrantStore = null!;
    private readonly EmbeddedVectorStore _embedded = new(fx.App.Services.GetRequiredService<IGrainFactory>());

    public async Task InitializeAsync()
    {
        _qdrant = await QdrantStandIn.StartAsync();
        _qdrantStore = new QdrantVectorStore(new QdrantOptions(_qdrant.Url, MiniLmEmbedder.Model, MiniLmEmbedder.VectorDimensions),
            NullLogger<QdrantVectorStore>.Instance);
    }

    public async Task DisposeAsync()
    {
        _qdrantStore.Dispose();
        await _qdrant.DisposeAsync();
    }

    [Fact]
    public async Task Same_data_same_answers_from_the_embedded_index_and_Qdrant()
    {
        var random = new Random(42);
        var tenant = VectorData.NewTenant();
        var neighbour = VectorData.NewTenant();
        var topics = Enumerable.Range(0, 5).Select(_ => VectorData.Unit(random)).ToList();
        var documents = Enumerable.Range(0, 12).Select(i => VectorData.Document(Guid.NewGuid(),
            [.. Enumerable.Range(0, 2 + i % 4).Select(_ => VectorData.Near(topics[i % topics.Count], random, 0.8))])).ToList();
        var theirs = VectorData.Document(Guid.NewGuid(), [.. documents[0].Select(e => e.Vector)]);
        foreach (var store in new IVectorStore[] { _embedded, _qdrantStore })
        {
            foreach (var d in documents)
            {
                await store.UpsertAsync(tenant, d, CancellationToken.None);
            }

            await store.UpsertAsync(neighbour, theirs, CancellationToken.None);
            await store.DeleteDocumentAsync(tenant, documents[11][0].DocumentId, CancellationToken.None);
        }

        var all = documents.SelectMany(d => d).ToList();
        for (var q = 0; q < 8; q++)
        {
            var query = VectorData.Near(topics[q % topics.Count], random, 1.0);
            var embeddedHits = await _embedded.SearchAsync(tenant, query, 10, [], CancellationToken.None);
            var qdrantHits = await _qdrantStore.SearchAsync(tenant, query, 10, [], CancellationToken.None);
            Assert.Equal(embeddedHits.Select(h => (h.ChunkId, h.DocumentId)), qdrantHits.Select(h => (h.ChunkId, h.DocumentId)));
            Assert.All(embeddedHits.Zip(qdrantHits), p => Assert.Equal(p.First.Score, p.Second.Score, 4));
            Assert.Equal(VectorData.Expected(all.Where(e => e.DocumentId != documents[11][0].DocumentId), query, 10),
                qdrantHits.Select(h => h.ChunkId));

            var lexical = all.OrderBy(_ => random.Next()).Take(6).Select(e => new LexicalHit(e.ChunkId, random.NextDouble() * 10))
                .Append(new LexicalHit(theirs[0].ChunkId, 20)).ToImmutableArray();
            var request = new RankRequest(query, lexical, DenseCandidates: 8, TopK: 5, DenseWeight: 0.8, MmrLambda: 0.7,
                PreferredChunks: q % 2 == 0 ? [all[q].ChunkId] : [],
                Documents: [.. documents.Take(6).Select(d => new DocumentHit(d[0].DocumentId, random.NextDouble() * 5, random.NextDouble()))],
                DocumentWeight: 0.5, LeadWeight: q % 3 == 0 ? 0 : 0.3);
            var embeddedRank = await _embedded.RankAsync(tenant, request, CancellationToken.None);
            var qdrantRank = await _qdrantStore.RankAsync(tenant, request, CancellationToken.None);
            Assert.Equal(5, embeddedRank.Length);
            Assert.Equal(embeddedRank.Select(r => r.ChunkId), qdrantRank.Select(r => r.ChunkId));
            Assert.All(embeddedRank.Zip(qdrantRank), p => Assert.Equal(p.First.Score, p.Second.Score, 4));
            Assert.DoesNotContain(qdrantRank, r => r.ChunkId == theirs[0].ChunkId);
        }

        Assert.Empty(_qdrant.State.Rejected);
    }
}
